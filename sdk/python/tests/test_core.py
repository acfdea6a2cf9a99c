"""The request core on its own: no I/O, so every branch is checked without a network."""

from __future__ import annotations

import json
from typing import Any, Mapping

from quota_gateway import _calls
from quota_gateway._core import Attempts, Call, Config, Done, Fail, Request, Retry
from quota_gateway._load import camel, dump, load
from quota_gateway.types import Plan, PlanGroup

CONFIG = Config("http://gw", "qg_sk_x", timeout=5.0, attempt_timeout=2.0, max_retries=3)


def echo(data: Any, _headers: Mapping[str, str]) -> Any:
    return data


def attempts(call: Call[Any], rand: float = 0.5) -> Attempts[Any]:
    return Attempts(CONFIG, call, now=0.0, rand=lambda: rand)


def test_a_request_carries_the_key_the_body_and_a_timeout_within_the_deadline() -> None:
    a = attempts(Call("POST", "/v1/track", echo, {"userId": "u"}, idempotency_key="k1"))
    first = a.request(0.0)
    assert isinstance(first, Request)
    assert first.headers["Idempotency-Key"] == "k1"
    assert first.headers["Authorization"] == "Bearer qg_sk_x"
    assert json.loads(first.content or b"") == {"userId": "u"}
    assert first.timeout == 2.0
    late = a.request(4.5)
    assert isinstance(late, Request) and late.headers["Idempotency-Key"] == "k1"
    assert late.timeout == 0.5, "the last attempt only gets what is left of the deadline"
    assert isinstance(a.request(5.0), Fail)


def test_retried_statuses_and_never_another_4xx() -> None:
    for status in (429, 502, 503, 504):
        a = attempts(Call("GET", "/x", echo))
        a.request(0.0)
        assert isinstance(a.on_answer(status, {}, b"<html>Bad gateway</html>", 0.1), Retry), status
    for status in (400, 401, 403, 404, 409, 422):
        a = attempts(Call("GET", "/x", echo))
        a.request(0.0)
        step = a.on_answer(status, {}, json.dumps({"code": "c", "detail": "d"}).encode(), 0.1)
        assert isinstance(step, Fail) and step.error.status == status and step.error.code == "c"


def test_retry_after_is_honoured_and_a_wait_past_the_deadline_gives_up() -> None:
    a = attempts(Call("GET", "/x", echo), rand=0.0)
    a.request(0.0)
    step = a.on_answer(503, {"Retry-After": "2"}, b"", 0.1)
    assert isinstance(step, Retry) and step.delay == 2.0
    a.request(2.2)
    assert isinstance(a.on_answer(429, {"retry-after": "60"}, b"", 2.3), Fail)


def test_backoff_is_jittered_and_grows() -> None:
    delays = []
    for rand in (0.0, 1.0):
        a = attempts(Call("GET", "/x", echo), rand=rand)
        for _ in range(3):
            a.request(0.0)
            step = a.on_failure(False, "refused", 0.0)
            assert isinstance(step, Retry)
            delays.append(step.delay)
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3:] == [0.1, 0.2, 0.4]


def test_attempts_stop_after_max_retries() -> None:
    a = attempts(Call("GET", "/x", echo))
    steps = []
    for _ in range(5):
        if not isinstance(a.request(0.0), Request):
            break
        steps.append(a.on_failure(False, "refused", 0.0))
        if isinstance(steps[-1], Fail):
            break
    assert [type(s) for s in steps] == [Retry, Retry, Retry, Fail]


def test_a_write_the_gateway_cannot_deduplicate_is_not_retried_once_it_may_have_run() -> None:
    a = attempts(Call("POST", "/v1/webhooks/w/rotate-secret", echo, {}, replayable=False))
    a.request(0.0)
    assert isinstance(a.on_failure(True, "read timeout", 1.0), Fail)
    b = attempts(Call("POST", "/v1/webhooks/w/rotate-secret", echo, {}, replayable=False))
    b.request(0.0)
    assert isinstance(b.on_failure(False, "connection refused", 0.1), Retry), "it never arrived"
    c = attempts(Call("POST", "/v1/webhooks/w/rotate-secret", echo, {}, replayable=False))
    c.request(0.0)
    assert isinstance(c.on_answer(502, {}, b"<html></html>", 0.1), Fail)


def test_problem_json_fields_are_read() -> None:
    a = attempts(Call("GET", "/x", echo))
    a.request(0.0)
    body = {"type": "about:blank", "title": "Bad Request", "status": 400, "code": "invalid_request",
            "detail": "userId: must not be empty", "requestId": "req-1", "field": "userId"}
    step = a.on_answer(400, {"content-type": "application/problem+json"}, json.dumps(body).encode(), 0.1)
    assert isinstance(step, Fail)
    e = step.error
    assert (e.code, e.status, e.detail, e.field, e.request_id) == (
        "invalid_request", 400, "userId: must not be empty", "userId", "req-1")


def test_reserve_fails_closed_or_open_and_is_remembered_when_it_may_have_run() -> None:
    closed = attempts(_calls.reserve("closed", "u", "e", 1, None, None, None))
    for _ in range(4):
        closed.request(0.0)
        step = closed.on_failure(True, "read timeout", 0.0)
    assert isinstance(step, Done) and step.value.allowed is False
    assert step.value.reasons == ["backend_unavailable"] and closed.orphaned
    opened = attempts(_calls.reserve("open", "u", "e", 1, None, None, None))
    opened.request(0.0)
    step = opened.on_failure(False, "refused", 10.0)
    assert isinstance(step, Done) and step.value.allowed is True and step.value.unchecked
    assert not opened.orphaned, "a refused connection cannot have run it"


def test_a_200_that_is_not_the_gateways_is_no_answer() -> None:
    a = attempts(_calls.reserve("closed", "u", "e", 1, None, None, None))
    a.request(0.0)
    step = a.on_answer(200, {}, b"<html>captive portal</html>", 0.1)
    assert isinstance(step, Done) and step.value.reasons == ["backend_unavailable"]


def test_the_loader_and_dumper_round_trip_a_plan() -> None:
    assert camel("reservation_id") == "reservationId" and camel("from_") == "from"
    plan = Plan([PlanGroup("g", "count", 5, [{"event": "*"}], on_plan_change="reset")], id="p",
                period_type="month")
    wire = dump(plan)
    assert wire == {"groups": [{"id": "g", "unit": "count", "quota": 5, "matches": [{"event": "*"}],
                                "onPlanChange": "reset"}], "id": "p", "periodType": "month"}
    assert load(Plan, wire) == plan


def test_adjustments_and_webhook_creation_carry_a_key_and_are_replayable() -> None:
    from quota_gateway import _webhook_calls
    for call in (_calls.adjust("u", "g", -1, "refund", None), _webhook_calls.create("https://x", None, None, None)):
        assert call.idempotency_key and call.replayable, call.path
    for call in (_webhook_calls.rotate("w"), _webhook_calls.test("w"), _webhook_calls.retry("w", "w.d")):
        assert call.idempotency_key is None and not call.replayable, call.path
    assert _calls.adjust("u", "g", 1, "r", "mine").idempotency_key == "mine"


def test_a_grant_always_carries_a_key_and_sends_only_what_was_given() -> None:
    from datetime import datetime
    plain = _calls.grant("u", "credits", 5, None, None, None, None, None, None, None, None)
    assert plain.idempotency_key and plain.replayable
    assert plain.body == {"balance": "credits", "amount": 5}
    other = _calls.grant("u", "credits", 5, None, None, None, None, None, None, None, None)
    assert other.idempotency_key != plain.idempotency_key, "a fresh key per call"
    full = _calls.grant("u/1", "credits", 2.5, 10, "promotional", datetime(2027, 1, 1), "2027-02-01T00:00:00Z",
                        1.25, "purchase", {"order": "o_1"}, "cs_1")
    assert (full.path, full.idempotency_key) == ("/v1/users/u%2F1/grants", "cs_1")
    assert full.body == {"balance": "credits", "amount": 2.5, "priority": 10, "category": "promotional",
                         "effectiveAt": "2027-01-01T00:00:00Z", "expiresAt": "2027-02-01T00:00:00Z",
                         "costBasis": 1.25, "source": "purchase", "metadata": {"order": "o_1"}}
    assert _calls.grant("u", "c", 1, 0, None, None, None, 0, None, {}, None).body == {
        "balance": "c", "amount": 1, "priority": 0, "costBasis": 0, "metadata": {}}, "zeros are sent"


def test_grant_answers_load_with_their_amounts_and_counters_with_a_balances_fields() -> None:
    from quota_gateway import Counter, SoonestExpiry
    from quota_gateway.types import Balance, GrantMade
    grant = {"grantId": "g_1", "balance": "credits", "amount": 30, "remaining": 10, "held": 0, "consumed": 20,
             "expired": 0, "voided": 0, "priority": 50, "category": "paid", "status": "active",
             "effectiveAt": "2026-01-01T00:00:00.000Z", "expiresAt": None, "costBasis": None, "source": None,
             "metadata": None, "createdAt": "2026-01-01T00:00:00.000Z"}
    made = load(GrantMade, {**grant, "debtPaid": 20})
    assert (made.grant_id, made.consumed, made.debt_paid) == ("g_1", 20, 20)
    balance = load(Balance, {"balance": "credits", "available": 10, "held": 0, "debt": 0,
                             "soonestExpiry": {"amount": 10, "at": "2026-02-01T00:00:00.000Z"}, "grants": [grant]})
    assert balance.soonest_expiry == SoonestExpiry(10, "2026-02-01T00:00:00.000Z")
    assert balance.grants[0].grant_id == "g_1"
    common = {"subjectId": "u", "groupId": "g", "label": "g", "unit": "count", "mode": "hard", "quota": 0,
              "used": 0, "reserved": 0, "count": 0, "remaining": 5, "periodStart": None, "resetsAt": None,
              "exceeded": False}
    quota = load(Counter, common)
    assert (quota.balance, quota.debt, quota.soonest_expiry) == (None, None, None)
    credits = load(Counter, {**common, "balance": "credits", "debt": 0, "soonestExpiry": None})
    assert (credits.balance, credits.debt, credits.soonest_expiry) == ("credits", 0, None)


def test_a_reserve_keyed_by_the_caller_is_not_released_behind_its_back() -> None:
    mine = attempts(_calls.reserve("closed", "u", "e", 1, None, None, "mine"))
    mine.request(0.0)
    mine.on_failure(True, "read timeout", 5.0)
    assert not mine.orphaned, "the caller repeats its own key and uses what it finds"
