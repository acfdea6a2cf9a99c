"""The webhook endpoint routes as `Call`s. Creating carries an Idempotency-Key, so a retry makes
one endpoint; rotating, testing and retrying act again when repeated and take no key, so they
are not replayable."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence

from . import types as t
from ._calls import new_key, nothing, one, page, seg
from ._core import Call


def _field(name: str) -> Any:
    return lambda data, _headers: str(data[name])


def create(url: str, events: Optional[Sequence[str]], description: Optional[str],
           idempotency_key: Optional[str]) -> Call[t.Webhook]:
    body: Dict[str, Any] = {"url": url}
    if events is not None:
        body["events"] = list(events)
    if description is not None:
        body["description"] = description
    return Call("POST", "/v1/webhooks", one(t.Webhook), body,
                idempotency_key=idempotency_key or new_key())


def list_all() -> Call[t.Page[t.Webhook]]:
    return Call("GET", "/v1/webhooks", page(t.Webhook))


def get(webhook_id: str) -> Call[t.Webhook]:
    return Call("GET", f"/v1/webhooks/{seg(webhook_id)}", one(t.Webhook))


def delete(webhook_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/webhooks/{seg(webhook_id)}", nothing)


def set_enabled(webhook_id: str, enabled: bool) -> Call[t.Webhook]:
    # Sets a state: a repeat answers the same.
    verb = "enable" if enabled else "disable"
    return Call("POST", f"/v1/webhooks/{seg(webhook_id)}/{verb}", one(t.Webhook), {})


def rotate(webhook_id: str) -> Call[str]:
    return Call("POST", f"/v1/webhooks/{seg(webhook_id)}/rotate-secret", _field("secret"), {},
                replayable=False)


def test(webhook_id: str) -> Call[str]:
    return Call("POST", f"/v1/webhooks/{seg(webhook_id)}/test", _field("deliveryId"), {},
                replayable=False)


def deliveries(webhook_id: str, limit: Optional[int]) -> Call[t.Page[t.WebhookDelivery]]:
    query: Mapping[str, str] = {"limit": str(limit)} if limit else {}
    return Call("GET", f"/v1/webhooks/{seg(webhook_id)}/deliveries", page(t.WebhookDelivery),
                query=query)


def retry(webhook_id: str, delivery_id: str) -> Call[str]:
    path = f"/v1/webhooks/{seg(webhook_id)}/deliveries/{seg(delivery_id)}/retry"
    return Call("POST", path, _field("deliveryId"), {}, replayable=False)
