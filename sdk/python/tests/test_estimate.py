"""The bound a call is held for: never below what the provider counts (here, the stand-in's
realistic count), every text of the request included (tools, images, n), and a tokenizer used
only where it loads; one that cannot load its files (no network) counts as absent."""

from __future__ import annotations

import sys
import types
from typing import Any, List

import pytest
from openai_standin import prompt_tokens

from quota_gateway import _tokens
from quota_gateway._estimate import (IMAGE_TOKENS, MESSAGE_TOKENS, REQUEST_TOKENS, TOOLS_TOKENS, chat_bound,
                                     responses_bound)

TEXTS = ["hi", "Say hello.", " ".join(["budget"] * 900), "日本語のテキスト" * 50, "emoji 🎉" * 100, ""]


@pytest.mark.parametrize("text", TEXTS, ids=["short", "sentence", "900 words", "cjk", "emoji", "empty"])
def test_the_byte_bound_is_never_below_the_providers_count(text: str) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]
    bound = chat_bound({"model": "some-model", "messages": messages}, 0)
    assert bound >= prompt_tokens({"messages": messages})
    assert bound == REQUEST_TOKENS + 2 * MESSAGE_TOKENS + sum(
        len(k.encode()) + len(v.encode()) for m in messages for k, v in m.items())
    assert responses_bound({"model": "m", "input": text, "instructions": "Be brief."}, 0) >= prompt_tokens(
        {"input": text, "instructions": "Be brief."})


def test_tools_images_n_and_the_maximum_are_held() -> None:
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    plain = chat_bound(base, 100)
    tool = {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    assert chat_bound({**base, "tools": [tool]}, 100) > plain + TOOLS_TOKENS
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 9999}}]}
    with_image = chat_bound({**base, "messages": [*base["messages"], image]}, 100)
    assert plain + IMAGE_TOKENS < with_image < plain + IMAGE_TOKENS + 100, "an image, not its base64"
    assert chat_bound({**base, "n": 3, "max_tokens": 50}, 100) == plain - 100 + 150
    assert chat_bound({**base, "max_completion_tokens": 7, "max_tokens": 50}, 100) == plain - 93
    assert responses_bound({"model": "m", "input": "hi", "max_output_tokens": 5}, 100) == \
        REQUEST_TOKENS + MESSAGE_TOKENS + 2 + 5


def fake_tiktoken(loads: bool, seen: List[str]) -> Any:
    """A tiktoken whose encoding files load, or cannot be downloaded."""
    module = types.ModuleType("tiktoken")

    def encoding_name_for_model(model: str) -> str:
        if not model.startswith("gpt-"):
            raise KeyError(model)
        return f"enc-{loads}-{id(seen)}"

    class Encoding:
        def encode(self, text: str, disallowed_special: Any = ()) -> List[int]:
            return [0] * ((len(text) + 3) // 4)

    def get_encoding(name: str) -> Encoding:
        seen.append(name)
        if not loads:
            raise ConnectionError("could not download the encoding's file")
        return Encoding()

    setattr(module, "encoding_name_for_model", encoding_name_for_model)
    setattr(module, "get_encoding", get_encoding)
    return module


@pytest.mark.parametrize("loads", [True, False], ids=["loads", "cannot-load"])
def test_a_tokenizer_counts_where_it_loads_and_is_absent_where_it_cannot(
        monkeypatch: pytest.MonkeyPatch, loads: bool) -> None:
    seen: List[str] = []
    monkeypatch.setitem(sys.modules, "tiktoken", fake_tiktoken(loads, seen))
    text = "x" * 400
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}
    by_bytes = chat_bound({**request, "model": "claude"}, 0)
    counted = chat_bound(request, 0)
    assert chat_bound(request, 0) == counted and len(seen) == 1, "loaded once, success or failure"
    if loads:
        assert counted < by_bytes and counted >= REQUEST_TOKENS + MESSAGE_TOKENS + 100
    else:
        assert counted == by_bytes
    assert _tokens.counter("claude") is None, "a model the tokenizer does not know"
