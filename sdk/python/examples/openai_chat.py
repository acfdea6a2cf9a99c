"""Chat completions paid from a user's token quota, plain and streamed, sync and async.

    pip install './sdk/python[openai]'   # from the repository's root (README.md, Install)
    QUOTA_GATEWAY_URL=http://127.0.0.1:8080 QUOTA_GATEWAY_KEY=qg_sk_… OPENAI_API_KEY=sk-… \
        python examples/openai_chat.py alice

The user needs a plan with a `tokens` group matching the event `llm.tokens`. Each call holds
the most it may cost (its messages' bound plus `max_tokens`), then counts what the answer
reports; a denial never reaches the provider. The streams read the chunks as code written for
the plain client does: the usage chunk the wrapper asks for is never shown to them.
"""

from __future__ import annotations

import asyncio
import sys

import openai

from quota_gateway import AsyncQuotaGateway, QuotaExceeded, QuotaGateway
from quota_gateway.openai import AsyncQuotaOpenAI, QuotaOpenAI

MESSAGES = [{"role": "user", "content": "Say hello."}]


def sync_calls(user: str) -> None:
    with QuotaGateway() as qg:
        chat = QuotaOpenAI(openai.OpenAI(), qg, event="llm.tokens", metadata={"feature": "example"})
        answer = chat.chat.completions.create(quota_user=user, model="gpt-4o-mini", messages=MESSAGES,
                                              max_tokens=200)
        print("answer:", answer.choices[0].message.content, "tokens:", answer.usage.total_tokens)
        with chat.chat.completions.create(quota_user=user, model="gpt-4o-mini", messages=MESSAGES,
                                          max_tokens=200, stream=True) as stream:
            text = "".join(c.choices[0].delta.content or "" for c in stream)
        print("streamed:", text, "tokens:", stream.used)


async def async_calls(user: str) -> None:
    async with AsyncQuotaGateway() as qg:
        chat = AsyncQuotaOpenAI(openai.AsyncOpenAI(), qg, event="llm.tokens")
        stream = await chat.chat.completions.create(quota_user=user, model="gpt-4o-mini", messages=MESSAGES,
                                                    max_tokens=200, stream=True)
        async with stream:
            text = "".join([c.choices[0].delta.content or "" async for c in stream])
        print("async streamed:", text, "tokens:", stream.used)
        usage = await qg.usage(user)
        print("tokens left:", usage.counters[0].remaining)


def main() -> int:
    user = sys.argv[1] if len(sys.argv) > 1 else "alice"
    try:
        sync_calls(user)
        asyncio.run(async_calls(user))
    except QuotaExceeded as denied:
        print("denied:", ", ".join(denied.reasons))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
