"""LangChain's Gemini chat model (`langchain_google_genai.ChatGoogleGenerativeAI`) through the
gateway's proxy, against the provider simulator: a call charged at the usage the provider
reported, and a denial, which the model's own retries ask again whatever `x-should-retry` says,
asked once with them turned off as the book says (`max_retries=1`: the count includes the first
try), never reaching the provider. The model's default (six tries over about half a minute) is
not waited for here: two tries show the loop."""

from __future__ import annotations

from typing import Callable

import pytest
from conftest import ProxyEnv
from google.genai import errors
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_google_genai.chat_models import GoogleRateLimitError
from test_proxy import ledger, proxy_calls, settled

from quota_gateway import QuotaGateway

FLASH = "gemini-2.5-flash"
HELLO = "Say hello to the quota gateway"
# What the simulator counts for HELLO: its 6 words, 3 for the content and 3 for the reply in; 5 out.
HELLO_TOKENS, REPLY_TOKENS = 12, 5
# The users these tests make (the shared `user_on`).
USER_PREFIX = "lg"


def model(proxy: ProxyEnv, user: str, **fields: object) -> ChatGoogleGenerativeAI:
    """The chat model on the proxy's Gemini upstream, paid by `user`."""
    return ChatGoogleGenerativeAI(model=FLASH, google_api_key=proxy.env.secret,
                                  base_url=f"{proxy.base_url}/proxy/gemini",
                                  additional_headers={"X-Quota-User": user}, **fields)


def test_a_call_is_charged_the_usage_the_provider_reported(
        proxy: ProxyEnv, user_on: Callable[..., str]) -> None:
    user = user_on()
    reply = model(proxy, user, max_retries=1, max_output_tokens=10).invoke(HELLO)
    assert reply.usage_metadata is not None
    assert (reply.usage_metadata["input_tokens"], reply.usage_metadata["output_tokens"]) == (
        HELLO_TOKENS, REPLY_TOKENS)
    assert proxy.stats()["calls"] == 1
    assert settled(proxy.env, user) == (HELLO_TOKENS + REPLY_TOKENS, 0)


@pytest.mark.parametrize("max_retries", [1, 2])
def test_a_denial_is_asked_as_often_as_max_retries_says_and_raised_once_never_reaching_the_provider(
        proxy: ProxyEnv, pqg: QuotaGateway, user_on: Callable[..., str], max_retries: int) -> None:
    # A lifetime quota never resets: the denial says `x-should-retry: false`, whatever the date.
    user = user_on(5, period="lifetime")
    before = proxy_calls(proxy, "denied", "gemini", "generate")
    with pytest.raises(GoogleRateLimitError) as denied:
        model(proxy, user, max_retries=max_retries, max_output_tokens=10).invoke(HELLO)
    assert "more than its whole quota" in str(denied.value)
    # Google's error within it: the gateway said not to retry, and was asked again all the same.
    google = denied.value.__cause__
    assert isinstance(google, errors.ClientError) and google.response.headers["x-should-retry"] == "false"
    # `max_retries` counts every try, the first included.
    assert proxy_calls(proxy, "denied", "gemini", "generate") - before == max_retries
    assert len(ledger(pqg, user, "denied")) == max_retries
    assert proxy.stats()["calls"] == 0
    assert settled(proxy.env, user) == (0, 0)
