"""How the sandbox signs each SIP media application invocation it POSTs to a handler, as the portal's Lambda
forwarder (deploy/sma_forwarder) signs what AWS invokes it with: "v1=" and the hex HMAC-SHA256 of
"<timestamp>.<body>" with the shared secret, the timestamp (Unix seconds) in its own header.

The receiving side verifies; the sandbox only signs, so it holds no verifier.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Sma-Timestamp"
SIGNATURE_HEADER = "X-Sma-Signature"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two headers that sign `body` with `secret` at `now` (default: the real clock, as the receiver checks it)."""
    timestamp = str(int(time.time() if now is None else now))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: f"v1={digest}"}
