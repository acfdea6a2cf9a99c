"""Model A while the user's quota of it lasts, then Model B: one reserve of both, decided at once.

    QUOTA_GATEWAY_URL=http://127.0.0.1:8080 QUOTA_GATEWAY_KEY=qg_sk_… python examples/model_fallback.py alice 3

The user needs a plan with a group for each model's calls: events `llm.chat` whose metadata
`model` is `gpt-4o` (Model A) or `gpt-4o-mini` (Model B). Each call asks for Model A, then Model
B, in one `reserve_first`: the gateway holds the first the plan admits and says which
(`chosen`), so no other request can take Model A's last call between its denial and Model B's
hold, as a loop of two reserves would let it. The call is then made with the chosen model and
committed; when neither model has room, the user is told why, per model.
"""

from __future__ import annotations

import sys

from quota_gateway import QuotaGateway

MODELS = ["gpt-4o", "gpt-4o-mini"]


def answer(model: str, prompt: str) -> str:
    """The model call (an OpenAI client's `chat.completions.create` in an app)."""
    return f"{model}: {prompt}"


def main() -> int:
    user = sys.argv[1] if len(sys.argv) > 1 else "alice"
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with QuotaGateway() as qg:
        for n in range(calls):
            hold = qg.reserve_first(user, [{"event": "llm.chat", "metadata": {"model": m}} for m in MODELS])
            if not hold.allowed:
                for passed in hold.alternatives:
                    print(f"denied {MODELS[passed.index]}: {', '.join(passed.reasons)}")
                return 2
            # (`chosen` is None only in a plain reserve's answer.)
            model = MODELS[hold.chosen or 0]
            print(answer(model, f"call {n + 1}"))
            qg.commit(hold.reservation_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
