"""Credit packs sold through Stripe Checkout: a webhook endpoint that grants the credits a
completed Checkout Session paid for, once, however often Stripe delivers the event.

    pip install './sdk/python[fastapi]'   # FastAPI and uvicorn; from the repository's root (README.md, Install)
    QUOTA_GATEWAY_URL=http://127.0.0.1:8080 QUOTA_GATEWAY_KEY=qg_sk_… STRIPE_WEBHOOK_SECRET=whsec_… \\
        PORT=8000 python examples/stripe_credits.py
    stripe listen --forward-to 127.0.0.1:8000/stripe/webhook    # while trying it out

Your server creates each Checkout Session with the buyer as `client_reference_id` and the pack
in its metadata (`metadata={"pack": "starter"}`): both come back in the event, and Stripe signs
the event, so neither can be forged by the buyer. The plan of the buyer has a balance group:

    {"id": "credits", "balance": "credits", "matches": [
        {"event": "image.render", "metadata": {"model": "flux-pro"}, "measure": {"rate": 10}},
        {"event": "image.render"}]}

The `Stripe-Signature` header (`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed
by the endpoint's secret) is checked here with hmac and hashlib, no stripe package: a wrong
signature, or a time more than 5 minutes away, is answered 400. The grant's Idempotency-Key is
the session's id, so a delivery Stripe repeats (or a retry of ours) grants nothing more and
answers the grant first made. When the gateway cannot be reached the answer is 503 and Stripe
delivers again later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any, Dict, Optional

from fastapi import FastAPI, HTTPException, Request

from quota_gateway import AsyncQuotaGateway, QuotaGatewayError

# What each pack grants, and into which balance.
PACKS: Dict[str, int] = {"starter": 500, "pro": 2_500}
BALANCE = "credits"
TOLERANCE_SECONDS = 300


class BadSignature(Exception):
    pass


def verify_stripe_signature(secret: str, header: Optional[str], payload: bytes,
                            now: Optional[float] = None, tolerance: int = TOLERANCE_SECONDS) -> Dict[str, Any]:
    """The event, once `header` proves that Stripe sent `payload` (the raw body, unparsed)
    within `tolerance` seconds of `now`; raises BadSignature otherwise."""
    if not header:
        raise BadSignature("no Stripe-Signature header")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not timestamp.isdigit() or not signatures:
        raise BadSignature("the header has no timestamp or no v1 signature")
    signed = timestamp.encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    # One of them, when Stripe signs with an old secret and the new one while it is rolled.
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise BadSignature("no signature matches")
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        raise BadSignature("the timestamp is outside the tolerance")
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadSignature("the body is not JSON") from None
    if not isinstance(event, dict):
        raise BadSignature("the body is not an event")
    return event


def create_app(qg: AsyncQuotaGateway, webhook_secret: str) -> FastAPI:
    app = FastAPI()

    @app.post("/stripe/webhook")
    async def stripe_webhook(request: Request) -> Dict[str, Any]:
        payload = await request.body()   # the raw bytes: a parsed and re-dumped body would not verify
        try:
            event = verify_stripe_signature(webhook_secret, request.headers.get("stripe-signature"), payload)
        except BadSignature as bad:
            raise HTTPException(status_code=400, detail=str(bad)) from None

        kind = event.get("type")
        session = (event.get("data") or {}).get("object") or {}
        # A card pays before `completed`; a bank debit pays later (`async_payment_succeeded`).
        paid = (kind == "checkout.session.completed" and session.get("payment_status") == "paid") \
            or kind == "checkout.session.async_payment_succeeded"
        pack = (session.get("metadata") or {}).get("pack")
        if not paid or pack is None:
            return {"received": True, "granted": 0}
        session_id, user, credits = session.get("id"), session.get("client_reference_id"), PACKS.get(pack)
        if not isinstance(session_id, str) or not isinstance(user, str) or credits is None:
            raise HTTPException(status_code=400, detail=f"session {session_id}: no buyer, or no pack {pack!r}")

        amount_total = session.get("amount_total")
        try:
            grant = await qg.grant(
                user, BALANCE, credits, source="stripe_checkout",
                # Cents paid per credit: what the ledger recognises as revenue when they burn.
                cost_basis=round(amount_total / credits, 3) if isinstance(amount_total, int) else None,
                metadata={"checkout_session": session_id, "pack": pack},
                idempotency_key=session_id)
        except QuotaGatewayError as err:
            # Not granted (or not known to be): Stripe delivers again, and the key grants once.
            raise HTTPException(status_code=503 if err.unavailable else 500, detail=err.code) from None
        return {"received": True, "granted": grant.amount, "grantId": grant.grant_id, "debtPaid": grant.debt_paid}

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(create_app(AsyncQuotaGateway(), os.environ["STRIPE_WEBHOOK_SECRET"]), host="127.0.0.1",
                port=int(os.environ.get("PORT", "8000")), log_level="warning")
