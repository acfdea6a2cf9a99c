"""An upper bound on the tokens a model call may cost, from its request alone (no I/O).

The input: every text of the request counted by the model's tokenizer when one is installed
and usable offline (`_tokens.py`), else by its UTF-8 bytes, since a byte-level BPE token (the
tokenizers of OpenAI's, Llama's and most current models) stands for at least one byte, so no
text has more tokens than bytes. Texts are message contents, names, tool calls and their
results, instructions, tool and function definitions and response schemas (as JSON, keys
included), with on top:

- `REQUEST_TOKENS` per request (the reply's priming: OpenAI's chat format uses 3),
- `MESSAGE_TOKENS` per message or input item (its role and delimiters: OpenAI's uses 3 or 4),
- `TOOLS_TOKENS` once when tools or functions are declared, and `TOOL_TOKENS` per tool,
- `image_tokens` per image part (3,800 by default: the most an image costs on OpenAI's models
  that count one as at most 8 tiles or 1,536 patches; gpt-4o-mini counts one as up to 48,169,
  so raise it for that model), and per audio or file part its data's bytes plus `image_tokens`.

The output: the request's maximum (`max_completion_tokens`, `max_tokens`, `max_output_tokens`)
or else the caller's default, times `n`, plus a predicted output's text (counted with the input:
the output's maximum is what a clamped reserve lowers, `lower_max_output`).

What the request does not carry cannot be bounded: the turns before a `previous_response_id` or
a `conversation`, a stored `prompt`, files by id beyond one part, the results of built-in tools
(web or file search). Pass `quota_estimate=` for those calls.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ._tokens import counter

REQUEST_TOKENS = 16
MESSAGE_TOKENS = 8
TOOLS_TOKENS = 64
TOOL_TOKENS = 16
IMAGE_TOKENS = 3_800

# Content parts that are text, and those that are images; any other typed part (audio, a file)
# counts its data's bytes plus an image's tokens.
TEXT_PARTS = frozenset({"text", "input_text", "output_text", "refusal", "summary_text", "reasoning_text"})
IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


class Estimate:
    """Counts one request's texts for one model."""

    def __init__(self, model: str, image_tokens: int = IMAGE_TOKENS) -> None:
        self.count: Callable[[str], int] = counter(model) or utf8_bytes
        self.tokenizer = self.count is not utf8_bytes
        self.image_tokens = image_tokens

    def value(self, value: Any) -> int:
        """Every text in a JSON-like value: strings, keys, numbers; a content part by its kind."""
        if value is None or isinstance(value, bool):
            return 0
        if isinstance(value, str):
            return self.count(value)
        if isinstance(value, (int, float)):
            return self.count(str(value))
        if isinstance(value, Mapping):
            kind = value.get("type")
            if isinstance(kind, str) and kind in IMAGE_PARTS:
                return self.image_tokens
            if isinstance(kind, str) and kind.startswith(("input_audio", "file", "input_file", "audio")):
                return self.image_tokens + utf8_bytes(json.dumps(value, default=str))
            return sum(self.count(str(k)) + self.value(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return sum(self.value(v) for v in value)
        dump = getattr(value, "model_dump", None)  # a pydantic object (the provider's own types)
        if callable(dump):
            return self.value(dump())
        return self.count(str(value))

    def messages(self, messages: Any) -> int:
        """A list of messages (or input items), each with its overhead; a string is one message."""
        if messages is None:
            return 0
        if isinstance(messages, str):
            return MESSAGE_TOKENS + self.count(messages)
        return sum(MESSAGE_TOKENS + self.value(m) for m in messages)

    def json(self, value: Any) -> int:
        """A definition as the provider reads it: JSON text, keys included."""
        if value is None:
            return 0
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        return self.count(json.dumps(value, default=str))

    def tools(self, *lists: Any) -> int:
        tools = [t for each in lists if each for t in each]
        if not tools:
            return 0
        return TOOLS_TOKENS + sum(TOOL_TOKENS + self.json(t) for t in tools)


def _max_output(request: Mapping[str, Any], keys: Any, default: int) -> int:
    for key in keys:
        value = request.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return default


def _choices(request: Mapping[str, Any]) -> int:
    n = request.get("n")
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def chat_counts(request: Mapping[str, Any], default_max_tokens: int,
                image_tokens: int = IMAGE_TOKENS) -> Tuple[int, int]:
    """What a chat completion may cost at most, as (input, output) tokens: the input is its
    `messages`, `tools`, `functions`, `response_format` and each choice's `prediction`, the
    output its maximum output times `n`."""
    est = Estimate(str(request.get("model") or ""), image_tokens)
    prompt = (REQUEST_TOKENS + est.messages(request.get("messages"))
              + est.tools(request.get("tools"), request.get("functions")) + est.json(request.get("response_format")))
    choices = _choices(request)
    output = _max_output(request, ("max_completion_tokens", "max_tokens"), default_max_tokens)
    return prompt + choices * est.value(request.get("prediction")), choices * output


def chat_bound(request: Mapping[str, Any], default_max_tokens: int, image_tokens: int = IMAGE_TOKENS) -> int:
    """What a chat completion (`messages`, `tools`, `functions`, `response_format`, `n`,
    `prediction`, maximum output) may cost at most."""
    return sum(chat_counts(request, default_max_tokens, image_tokens))


def responses_counts(request: Mapping[str, Any], default_max_tokens: int,
                     image_tokens: int = IMAGE_TOKENS) -> Tuple[int, int]:
    """What a Responses API call may cost at most, as (input, output) tokens: `input`,
    `instructions`, `tools` and `text`, and its maximum output."""
    est = Estimate(str(request.get("model") or ""), image_tokens)
    instructions = request.get("instructions")
    prompt = (REQUEST_TOKENS + est.messages(request.get("input"))
              + (est.messages([instructions]) if instructions else 0)
              + est.tools(request.get("tools")) + est.json(request.get("text")))
    return prompt, _max_output(request, ("max_output_tokens",), default_max_tokens)


def responses_bound(request: Mapping[str, Any], default_max_tokens: int, image_tokens: int = IMAGE_TOKENS) -> int:
    """What a Responses API call (`input`, `instructions`, `tools`, `text`, maximum output) may
    cost at most, from what the request itself carries."""
    return sum(responses_counts(request, default_max_tokens, image_tokens))


def messages_counts(model: str, messages: Any, request: Optional[Mapping[str, Any]], default_max_tokens: int,
                    image_tokens: int = IMAGE_TOKENS) -> Tuple[int, int]:
    """Chat counts for messages given apart from the request (LangChain's)."""
    return chat_counts({**(request or {}), "model": model, "messages": messages}, default_max_tokens, image_tokens)


def messages_bound(model: str, messages: Any, request: Optional[Mapping[str, Any]], default_max_tokens: int,
                   image_tokens: int = IMAGE_TOKENS) -> int:
    """A chat bound for messages given apart from the request (LangChain's)."""
    return sum(messages_counts(model, messages, request, default_max_tokens, image_tokens))


def lower_max_output(request: Dict[str, Any], api: str, granted: int) -> int:
    """Lowers a request's maximum output to what a clamped reserve granted (`granted` output
    tokens in all, shared by a chat's `n` choices): the field the request named (both, when it
    named both), else the API's own (`max_completion_tokens`, `max_output_tokens`), as the
    gateway's proxy does. Answers the output tokens now asked for in all (at least a token a
    choice: a provider refuses a maximum of 0)."""
    if api == "chat":
        choices = _choices(request)
        per_choice = max(1, granted // choices)
        named = [k for k in ("max_completion_tokens", "max_tokens") if _max_output(request, (k,), 0)]
        for key in named or ["max_completion_tokens"]:
            request[key] = per_choice
        return per_choice * choices
    request["max_output_tokens"] = max(1, granted)
    return max(1, granted)
