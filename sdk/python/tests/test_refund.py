"""Code written for @vevee/sdk refunds with a `.refund` event; here a track only ever adds, so
the client says so once (a RefundEventWarning, which Python's warning filters can silence)."""

from __future__ import annotations

import warnings
from typing import Callable

from conftest import Env

from quota_gateway import QuotaGateway, RefundEventWarning


def test_a_track_whose_event_ends_in_refund_warns_once(qg: QuotaGateway, env: Env,
                                                       subscribed: Callable[..., str]) -> None:
    user = subscribed(10000, "tokens")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        qg.track(user, "llm.tokens", 4000)
        qg.track(user, "llm.tokens.refund", 2800)
        qg.track(user, "llm.tokens.refund", 10)
    refunds = [w for w in said if issubclass(w.category, RefundEventWarning)]
    assert len(refunds) == 1, "once"
    assert "never refunds" in str(refunds[0].message) and refunds[0].filename == __file__, "it points at the caller"
    # What the warning is about: the "refund" matched the group and was counted on top.
    assert env.call("GET", f"/v1/users/{user}/usage")["counters"][0]["used"] == 6810
