"""Each example in examples/ runs as a program against the real gateway (and the OpenAI
stand-in on loopback), as a reader of the README would run it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import httpx
import pytest
from conftest import Env
from gateway import free_port, until
from openai_standin import OpenAIStandIn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def example_env(env: Env, **extra: str) -> Dict[str, str]:
    return dict(os.environ, QUOTA_GATEWAY_URL=env.base_url, QUOTA_GATEWAY_KEY=env.secret, **extra)


def run(name: str, env: Dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / name), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def used(env: Env, user: str) -> Any:
    return env.call("GET", f"/v1/users/{user}/usage")["counters"][0]


@pytest.fixture
def openai_standin() -> Iterator[OpenAIStandIn]:
    server = OpenAIStandIn()
    yield server
    server.close()


def test_the_openai_example_counts_what_each_answer_reports(
        env: Env, subscribed: Callable[..., str], openai_standin: OpenAIStandIn) -> None:
    user = subscribed(10_000, "tokens")
    done = run("openai_chat.py", example_env(env, OPENAI_BASE_URL=openai_standin.url, OPENAI_API_KEY="sk-test"), user)
    assert done.returncode == 0, done.stderr
    # "Say hello." is 9 tokens to the stand-in (3 for the text, 3 for the message, 3 for the reply),
    # and "Hello!" 3.
    assert "answer: Hello! tokens: 12" in done.stdout and "streamed: Hello! tokens: 12.0" in done.stdout
    assert (used(env, user)["used"], used(env, user)["reserved"]) == (36, 0)
    streams = [r for r in openai_standin.requests if r.get("stream")]
    assert len(streams) == 2 and all(r["stream_options"] == {"include_usage": True} for r in streams)


def test_the_openai_example_is_denied_before_the_provider_is_called(
        env: Env, subscribed: Callable[..., str], openai_standin: OpenAIStandIn) -> None:
    user = subscribed(100, "tokens")
    done = run("openai_chat.py", example_env(env, OPENAI_BASE_URL=openai_standin.url, OPENAI_API_KEY="sk-test"), user)
    assert (done.returncode, done.stdout.strip()) == (2, "denied: limit_reached")
    assert openai_standin.requests == []


def test_the_langchain_example_commits_the_reported_usage(env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(10_000, "tokens")
    done = run("langchain_callback.py", example_env(env), user)
    assert done.returncode == 0, done.stderr
    assert "tokens used: 10" in done.stdout
    denied_user = subscribed(5, "tokens")
    denied = run("langchain_callback.py", example_env(env), denied_user)
    assert (denied.returncode, denied.stdout.strip()) == (2, "denied: limit_reached")


def test_the_fastapi_example_pays_per_request_and_answers_429_when_spent(env: Env, subscribed: Callable[..., str]) -> None:
    user = subscribed(2)
    port = free_port()
    server = subprocess.Popen([sys.executable, str(EXAMPLES / "fastapi_app.py")],
                              env=example_env(env, PORT=str(port)), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        until("the example app", lambda: httpx.get(base + "/docs", timeout=1).status_code == 200)
        headers = {"X-User-Id": user}
        ok = httpx.get(base + "/hello", headers=headers, timeout=10)
        assert ok.status_code == 200 and ok.json()["reservation"].startswith("r_")
        assert ok.headers["RateLimit"] == '"g";r=1;t=' + ok.headers["RateLimit"].split("t=")[1]
        assert ok.headers["RateLimit-Policy"].startswith('"g";q=2')
        failed = httpx.get(base + "/fail", headers=headers, timeout=10)
        assert failed.status_code == 502
        assert httpx.get(base + "/hello", headers=headers, timeout=10).status_code == 200
        spent = httpx.get(base + "/hello", headers=headers, timeout=10)
        assert spent.status_code == 429
        assert int(spent.headers["Retry-After"]) > 0 and spent.headers["RateLimit"].startswith('"g";r=0')
        assert spent.json()["detail"]["reasons"] == ["limit_reached"]
        # The last commit runs once its response is done: wait for it, boundedly.
        for _ in range(100):
            if used(env, user)["used"] == 2:
                break
            time.sleep(0.05)
        assert (used(env, user)["used"], used(env, user)["reserved"]) == (2, 0), "the failed request was released"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_model_fallback_example_holds_model_a_then_model_b_then_says_why_neither(
        env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("fallback")
    plan_id = f"plan_{user}"
    env.call("PUT", f"/v1/plans/{plan_id}", {"id": plan_id, "periodType": "month", "groups": [
        {"id": "model-a", "unit": "count", "quota": 2,
         "matches": [{"event": "llm.chat", "metadata": {"model": "gpt-4o"}}]},
        {"id": "model-b", "unit": "count", "quota": 1,
         "matches": [{"event": "llm.chat", "metadata": {"model": "gpt-4o-mini"}}]}]})
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": plan_id})
    done = run("model_fallback.py", example_env(env), user, "4")
    assert (done.returncode, done.stdout.splitlines()) == (2, [
        "gpt-4o: call 1", "gpt-4o: call 2", "gpt-4o-mini: call 3",
        "denied gpt-4o: limit_reached", "denied gpt-4o-mini: limit_reached"]), done.stderr
    counters = {c["groupId"]: c["used"] for c in env.call("GET", f"/v1/users/{user}/usage")["counters"]}
    assert counters == {"model-a": 2, "model-b": 1}


def test_the_agent_example_retries_falls_back_and_stops_at_its_runs_budget(
        env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user("agent")
    done = run("agent_run.py", example_env(env), user)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "turn 1: large-model failed (HTTP 503), falling back to small-model" in lines
    assert "turn 1: search failed (HTTP 500), retrying" in lines
    assert [line for line in lines if "-> 3 results" in line] == [
        "turn 1: look up budgets (small-model) -> 3 results",
        *(f"turn {n}: look up budgets (large-model) -> 3 results" for n in (2, 3, 4))]
    assert 'turn 5: stopped by run_budget_exhausted (agent_tokens), left in the run: ' \
           '{"agent_cents": 3.5, "agent_tokens": 500}' in lines
    run_id = lines[0].split()[1]
    assert f"run {run_id} closed: 10 steps, 1 fallbacks" in lines
    assert "  agent_tokens: budget 2500, used 2000, given back 500" in lines
    assert "  agent_cents: budget 10, used 6.5, given back 3.5" in lines
    assert f"user {user}: 2000 tokens, 6.5 cents, 4 tool calls used this month" in lines
    [listed] = env.call("GET", f"/v1/runs?userId={user}")["data"]
    assert (listed["runId"], listed["state"], listed["limits"]["attemptsPerAction"]) == (run_id, "closed", 2)
    assert listed["attempts"]["turn1.think"] == 2 and listed["attempts"]["turn1.search"] == 2
    counters = {c["groupId"]: c for c in env.call("GET", f"/v1/users/{user}/usage")["counters"]}
    assert [(counters[g]["used"], counters[g]["reserved"]) for g in ("agent_tokens", "agent_cents")] == [
        (2000, 0), (6.5, 0)], "the close counted what the steps used and gave the rest back"


def stripe_signed(secret: str, body: bytes, at: Optional[int] = None) -> str:
    """A `Stripe-Signature` header as Stripe makes it."""
    t = int(time.time()) if at is None else at
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def checkout_completed(session_id: str, user: str, pack: str, amount_total: int) -> bytes:
    return json.dumps({
        "id": f"evt_{session_id}", "object": "event", "type": "checkout.session.completed",
        "data": {"object": {"id": session_id, "object": "checkout.session", "client_reference_id": user,
                            "metadata": {"pack": pack}, "payment_status": "paid", "status": "complete",
                            "amount_total": amount_total, "currency": "usd"}},
    }).encode()


def test_the_stripe_example_grants_a_paid_pack_once_and_refuses_a_bad_signature(
        env: Env, fresh_user: Callable[..., str]) -> None:
    user, secret = fresh_user("buyer"), "whsec_" + secrets.token_hex(16)
    port = free_port()
    server = subprocess.Popen([sys.executable, str(EXAMPLES / "stripe_credits.py")],
                              env=example_env(env, PORT=str(port), STRIPE_WEBHOOK_SECRET=secret),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hook = f"http://127.0.0.1:{port}/stripe/webhook"

    def post(body: bytes, signature: Optional[str]) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        return httpx.post(hook, content=body, headers=headers, timeout=10)

    def grants() -> Any:
        return env.call("GET", f"/v1/users/{user}/grants")["data"]

    try:
        until("the stripe example", lambda: httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code == 200)
        session = f"cs_test_{user}"
        body = checkout_completed(session, user, "starter", 1000)
        first = post(body, stripe_signed(secret, body))
        assert first.status_code == 200, first.text
        again = post(body, stripe_signed(secret, body))   # Stripe delivers it again
        assert again.status_code == 200 and again.json()["grantId"] == first.json()["grantId"]
        [granted] = grants()
        assert (granted["amount"], granted["source"], granted["costBasis"], granted["metadata"]) == (
            500, "stripe_checkout", 2, {"checkout_session": session, "pack": "starter"}), "granted once"

        other = checkout_completed(f"cs_test_{user}_2", user, "pro", 4000)
        for signature in (stripe_signed("whsec_wrong", other),        # another endpoint's secret
                          stripe_signed(secret, other + b" "),         # a body changed on the way
                          stripe_signed(secret, other, int(time.time()) - 301),   # too old a replay
                          "v1=" + stripe_signed(secret, other).split("v1=")[1],   # no timestamp
                          None):                                         # no header
            refused = post(other, signature)
            assert refused.status_code == 400, (signature, refused.text)
        assert len(grants()) == 1, "nothing granted for a bad signature"
        assert post(other, stripe_signed(secret, other)).json()["granted"] == 2500, "the same event, signed, grants"
        assert [g["amount"] for g in grants()] == [500, 2500]
    finally:
        server.terminate()
        server.wait(timeout=10)
