"""How an SMA invocation is signed on its way to the portal's handler: HMAC-SHA256 of "<timestamp>.<body>" with the
shared secret. The Lambda forwarder (deploy/sma_forwarder) and the sandbox sign; the handler's view checks.

No Django here: the Lambda forwarder's tests sign with this module too. The sandbox has its own signer
(sandbox/src/rtc_sandbox/signing.py); tests/unit/test_sma_signing.py proves the two agree.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

TIMESTAMP_HEADER = "X-Sma-Timestamp"
SIGNATURE_HEADER = "X-Sma-Signature"
MAX_SKEW_SECONDS = 300  # a signed request older (or newer) than this is refused: a replay, or a wrong clock
# Unix seconds in ASCII digits, at most 12 of them (10 until the year 2286): str.isdigit() also takes "²" and other
# scripts' digits, which int() refuses, and int() refuses a number of more than 4,300 digits.
TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def signature_valid(secret: str, timestamp: str, given: str, body: bytes, now: float | None = None) -> bool:
    """True when `given` signs `body` at `timestamp` with `secret`, and the timestamp is recent."""
    if not secret or not TIMESTAMP.fullmatch(timestamp):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    return given.isascii() and hmac.compare_digest(signature(secret, timestamp, body), given)  # str: ASCII only
