"""The user key routes as `Call`s. Minting takes no Idempotency-Key and a repeat would mint a
second key, so it is retried only when it cannot have arrived; listing and revoking repeat
harmlessly (a second revoke of the same key answers `key_not_found`)."""

from __future__ import annotations

from typing import Any, Dict, Optional

from . import types as t
from ._calls import instant, nothing, one, page, seg
from ._core import Call
from .params import When


def create(user_id: str, label: Optional[str], expires_at: Optional[When]) -> Call[t.UserKey]:
    body: Dict[str, Any] = {"userId": user_id}
    if label is not None:
        body["label"] = label
    if expires_at is not None:
        body["expiresAt"] = instant(expires_at)
    return Call("POST", "/v1/user-keys", one(t.UserKey), body, replayable=False)


def list_for(user_id: str) -> Call[t.Page[t.UserKey]]:
    return Call("GET", "/v1/user-keys", page(t.UserKey), query={"userId": user_id})


def revoke(key_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/user-keys/{seg(key_id)}", nothing)
