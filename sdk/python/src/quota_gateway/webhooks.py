"""Standard Webhooks signatures: `webhook-signature` holds one or more space-separated
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed by the secret `whsec_<base64 key>`;
a timestamp more than five minutes away is refused, so a captured delivery cannot be replayed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any, Mapping, Optional, Union

from .errors import QuotaGatewayError

TOLERANCE_SECONDS = 5 * 60


def _invalid(detail: str) -> QuotaGatewayError:
    return QuotaGatewayError("webhook_invalid", 400, detail)


def _header(headers: Mapping[str, Any], name: str) -> Optional[str]:
    value = headers.get(name)
    if value is None:
        # A plain dict may keep the sender's capitalisation.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value if isinstance(value, str) else None


def sign_webhook(secret: str, msg_id: str, timestamp: Union[int, str], body: Union[str, bytes]) -> str:
    """The `webhook-signature` value for a delivery (for tests and for relaying)."""
    try:
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    except (binascii.Error, ValueError) as err:
        raise _invalid("the secret is not whsec_ followed by base64") from err
    payload = body.encode() if isinstance(body, str) else body
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify_webhook(secret: str, headers: Mapping[str, Any], body: Union[str, bytes],
                   *, now: Optional[float] = None) -> Any:
    """The event of a verified delivery (its JSON body, parsed); raises `QuotaGatewayError`
    with code `webhook_invalid` for anything else. Pass the body exactly as received."""
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not stamp or not signatures:
        raise _invalid("webhook-id, webhook-timestamp and webhook-signature are required")
    if not stamp.isdigit():
        raise _invalid("webhook-timestamp is not a number of seconds")
    if abs((time.time() if now is None else now) - int(stamp)) > TOLERANCE_SECONDS:
        raise _invalid("the timestamp is not within five minutes")
    expected = sign_webhook(secret, msg_id, stamp, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected.encode()):
            return json.loads(body)
    raise _invalid("no signature matches")
