"""The SIP media application's Lambda: sign each invocation event and forward it to the portal's handler, then
return the portal's answer to the SMA. Python standard library only; deploy this one file (README, "PSTN").

Environment: PORTAL_HANDLER_URL (https://portal.example.com/pstn/sma/), SMA_HANDLER_SECRET (the portal's), and
optionally PORTAL_TIMEOUT_SECONDS (default 3). The signature: X-Sma-Timestamp (Unix seconds) and X-Sma-Signature
"v1=" + hex HMAC-SHA256 of "<timestamp>.<body>" with the secret, as portal/pstn/signature.py checks it.

When the portal cannot answer, a caller being connected hears an apology and is hung up; any other event is answered
with no actions, so a call in progress goes on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request

logger = logging.getLogger()
logger.setLevel(logging.INFO)

APOLOGY = "Sorry, we cannot connect you to the meeting right now. Please try again later. Goodbye."
CONNECTING_EVENTS = ("NEW_INBOUND_CALL", "CALL_ANSWERED")


def _fallback(event: dict) -> dict:
    kind = event.get("InvocationEventType") if isinstance(event, dict) else None
    if kind not in CONNECTING_EVENTS:
        return {"SchemaVersion": "1.0", "Actions": []}
    speak = {
        "Type": "Speak",
        "Parameters": {
            "Text": APOLOGY,
            "ParticipantTag": "LEG-A",
            "Engine": "neural",
            "LanguageCode": "en-US",
            "TextType": "text",
            "VoiceId": "Joanna",
        },
    }
    hangup = {"Type": "Hangup", "Parameters": {"SipResponseCode": "0", "ParticipantTag": "LEG-A"}}
    return {"SchemaVersion": "1.0", "Actions": [speak, hangup]}


def _signed_request(url: str, secret: str, body: bytes) -> urllib.request.Request:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("X-Sma-Timestamp", timestamp)
    request.add_header("X-Sma-Signature", f"v1={digest}")
    return request


def lambda_handler(event: dict, context: object) -> dict:
    body = json.dumps(event, separators=(",", ":")).encode()
    request = _signed_request(os.environ["PORTAL_HANDLER_URL"], os.environ["SMA_HANDLER_SECRET"], body)
    try:
        timeout = float(os.environ.get("PORTAL_TIMEOUT_SECONDS", "3"))
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        logger.error("The portal did not answer %s: %s", event.get("InvocationEventType"), error)
        return _fallback(event)
    if not isinstance(answer, dict) or not isinstance(answer.get("Actions"), list):
        logger.error("The portal's answer is not an action list")
        return _fallback(event)
    return answer
