"""An agent whose task runs on a budget: a run holds the task's tokens up front, every model or
tool call is a step drawn from it, a failed tool call is retried once, a failed model falls
back to a smaller one once, and the run's budget ends the loop.

    QUOTA_GATEWAY_URL=http://127.0.0.1:8080 QUOTA_GATEWAY_KEY=qg_sk_… python examples/agent_run.py ex_agent

It puts the plan `PLAN` and subscribes the user to it, so try it with a test project. The
models and the search tool are a stand-in served on loopback by this program (OpenAI's chat
completions wire format, 500 tokens an answer); the large model fails its first call and the
tool its first, as real ones sometimes do.

Each step holds `MAX_TOKENS` (what a call may use at most) from the run, makes the call, and
commits the tokens the answer reports (the cents follow from each model's rate in the plan),
or releases the hold when the call failed. The run's limits allow two attempts per action
(so one retry, or one fallback) and one fallback in all. Closing the run counts what the steps
used on the user and gives the rest of the budget back.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple

import httpx

from quota_gateway import QuotaExceeded, QuotaGateway, RunHandle, RunLimits, StepKind
from quota_gateway.types import Run

LARGE, SMALL = "large-model", "small-model"
MAX_TOKENS = 800
TASK_TOKENS = 2500
LIMITS = RunLimits(attempts_per_action=2, fallbacks=1)

# The run's event, `agent.task`, matches the token and cent groups, so the run holds both; a
# model call (`llm.chat`) draws from them, priced by its model; a tool call (`tool.search`)
# matches only `tool_calls`, which the run does not hold, so it counts on the user as usual.
PLAN: Dict[str, Any] = {
    "id": "ex_plan_agent", "name": "Agent demo", "periodType": "month",
    "groups": [
        {"id": "agent_tokens", "label": "200k agent tokens / month", "unit": "tokens", "quota": 200_000,
         "matches": [{"event": "agent.task"}, {"event": "llm.chat"}]},
        {"id": "agent_cents", "label": "$5 / month of model spend", "unit": "cents", "quota": 500,
         "matches": [{"event": "llm.chat", "metadata": {"model": SMALL}, "measure": {"rate": 0.001}},
                     {"event": "llm.chat", "measure": {"rate": 0.004}},
                     {"event": "agent.task", "measure": {"rate": 0.004}}]},
        {"id": "tool_calls", "label": "1,000 tool calls / month", "unit": "count", "quota": 1000,
         "matches": [{"event": "tool.*"}]},
    ],
}

Call = Callable[[], Tuple[float, Any]]


class CallFailed(Exception):
    """A model or tool call that failed; its step's hold was given back."""


def step(run: RunHandle, action_id: str, kind: StepKind, event: str, estimate: float,
         metadata: Optional[Dict[str, Any]], call: Call) -> Any:
    """One step: hold the estimate from the run, make the call, commit what it used. A denial
    raises QuotaExceeded, since the run cannot pay for the step."""
    hold = run.reserve(event, estimate, metadata, action_id=action_id, kind=kind)
    if not hold.allowed:
        raise QuotaExceeded(hold)
    try:
        used, result = call()
    except BaseException:
        run.release(hold.reservation_id)
        raise
    run.commit(hold.reservation_id, used)
    return result


class Provider:
    """The model provider and the search tool, over HTTP."""

    def __init__(self, base_url: str, http: httpx.Client) -> None:
        self.base_url = base_url
        self.http = http

    def chat(self, model: str, messages: List[Dict[str, str]]) -> Tuple[float, str]:
        res = self.http.post(f"{self.base_url}/chat/completions",
                             json={"model": model, "messages": messages, "max_tokens": MAX_TOKENS})
        if res.status_code != 200:
            raise CallFailed(f"{model} failed (HTTP {res.status_code})")
        answer = res.json()
        return answer["usage"]["total_tokens"], answer["choices"][0]["message"]["content"]

    def search(self, query: str) -> Tuple[float, List[str]]:
        res = self.http.post(f"{self.base_url}/tools/search", json={"query": query})
        if res.status_code != 200:
            raise CallFailed(f"search failed (HTTP {res.status_code})")
        return 1, res.json()["results"]


def think(run: RunHandle, provider: Provider, turn: int, messages: List[Dict[str, str]]) -> str:
    """A model call; when the large model fails, the same action again on the small one."""
    action = f"turn{turn}.think"
    try:
        return str(step(run, action, "primary", "llm.chat", MAX_TOKENS, {"model": LARGE},
                        lambda: provider.chat(LARGE, messages)))
    except CallFailed as failed:
        print(f"turn {turn}: {failed}, falling back to {SMALL}")
        return str(step(run, action, "fallback", "llm.chat", MAX_TOKENS, {"model": SMALL},
                        lambda: provider.chat(SMALL, messages)))


def search(run: RunHandle, provider: Provider, turn: int, query: str) -> List[str]:
    """A tool call, retried once when it fails."""
    action = f"turn{turn}.search"
    try:
        return list(step(run, action, "primary", "tool.search", 1, None, lambda: provider.search(query)))
    except CallFailed as failed:
        print(f"turn {turn}: {failed}, retrying")
        return list(step(run, action, "retry", "tool.search", 1, None, lambda: provider.search(query)))


def agent(run: RunHandle, provider: Provider) -> None:
    """Thinks and searches, turn after turn, until the run cannot pay for the next step."""
    messages = [{"role": "user", "content": "Find out how AI agents are budgeted."}]
    for turn in itertools.count(1):
        try:
            thought = think(run, provider, turn, messages)
            results = search(run, provider, turn, thought)
        except QuotaExceeded as denied:
            progress = denied.decision.run
            left = dict(progress.remaining) if progress else {}
            print(f"turn {turn}: stopped by {', '.join(denied.reasons)} ({', '.join(denied.denied_by)}),"
                  f" left in the run: {json.dumps(left, sort_keys=True)}")
            return
        print(f"turn {turn}: {thought} -> {len(results)} results")
        messages += [{"role": "assistant", "content": thought}, {"role": "user", "content": " ".join(results)}]


def report(run: Run) -> None:
    print(f"run {run.run_id} {run.state}: {run.steps} steps, {run.fallbacks} fallbacks")
    for g in run.groups:
        print(f"  {g.group_id}: budget {g.budget}, used {g.used}, given back {round(g.budget - g.used, 3)}")
    print("  attempts:", " ".join(f"{action}={n}" for action, n in sorted(run.attempts.items())))


class StandIn:
    """The stand-in provider on loopback: chat completions (500 tokens an answer) and a search
    tool; the large model's first call answers 503 and the tool's first 500."""

    def __init__(self) -> None:
        failures = {LARGE: 1, "search": 1}
        lock = threading.Lock()

        def fails(name: str) -> bool:
            with lock:
                left = failures.get(name, 0)
                failures[name] = max(0, left - 1)
                return left > 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path.endswith("/tools/search"):
                    if fails("search"):
                        self.answer(500, {"error": "the index is unavailable"})
                    else:
                        self.answer(200, {"results": [f"{body['query']} #{i}" for i in (1, 2, 3)]})
                    return
                model = body.get("model", "")
                if fails(model):
                    self.answer(503, {"error": {"message": f"{model} is overloaded"}})
                    return
                usage = {"prompt_tokens": 300, "completion_tokens": 200, "total_tokens": 500}
                self.answer(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": model, "usage": usage,
                                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                    "role": "assistant", "content": f"look up budgets ({model})"}}]})

            def answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> int:
    user = sys.argv[1] if len(sys.argv) > 1 else "ex_agent"
    stand_in = StandIn()
    try:
        with QuotaGateway() as qg, httpx.Client(timeout=10) as http:
            qg.put_plan(PLAN)
            qg.upsert_subscription(user, PLAN["id"])
            try:
                with qg.with_run(user, "agent.task", TASK_TOKENS, {"task": "research"}, limits=LIMITS,
                                 ttl_seconds=300) as run:
                    print(f"run {run.id} holds {TASK_TOKENS} tokens")
                    agent(run, Provider(stand_in.url, http))
            except QuotaExceeded as denied:
                print("denied:", ", ".join(denied.reasons))
                return 2
            report(qg.get_run(run.id))
            counters = {c.group_id: c for c in qg.usage(user).counters}
            print(f"user {user}: {counters['agent_tokens'].used} tokens, {counters['agent_cents'].used} cents,"
                  f" {counters['tool_calls'].used} tool calls used this month")
    finally:
        stand_in.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
