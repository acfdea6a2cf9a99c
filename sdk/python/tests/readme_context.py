"""What the README's Python blocks leave to the reader's own app, typed as an app would have it:
the model call, the render, what the user is told, a Stripe session's id, a webhook delivery as
a web framework hands it over, a user key, a LangChain chat model. `tests/test_readme.py` runs
each block with the names it uses from here (and type-checks it importing them from here), and
reads back what the blocks told the user."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult

from quota_gateway import sign_webhook

# What the user was told, and the credit packs offered, in the order the blocks did it.
told: List[Tuple[Any, ...]] = []
offered: List[str] = []

# Tokens a model call reports: the quick start's and the migration's call (held at 4,000), and
# the runs' steps (held at 800 each).
TOKENS = {"gpt-4o": 1200, "large": 700, "small": 700}


@dataclass
class Usage:
    total_tokens: int


@dataclass
class Answer:
    usage: Usage
    text: str = "an answer"


class ModelError(Exception):
    """The reader's model call failed."""


def call_the_model(model: str = "gpt-4o") -> Answer:
    return Answer(Usage(TOKENS[model]))


def render() -> bytes:
    return b"\x89PNG"


def tell_user(*why: Any) -> None:
    told.append(why)


def offer_a_credit_pack(user_id: str) -> None:
    offered.append(user_id)


checkout_session_id = "cs_test_readme"

# A delivery of `webhook.test`, signed with `secret`, as a web framework hands it over.
secret = "whsec_cmVhZG1lLXNlY3JldC1rZXktMzItYnl0ZXMtbG9uZw=="
raw_body = json.dumps({"type": "webhook.test", "timestamp": "2026-11-25T09:00:00Z", "data": {}}).encode()


@dataclass
class Request:
    headers: Dict[str, str] = field(default_factory=dict)


_sent = str(int(time.time()))
request = Request({"webhook-id": "msg_readme", "webhook-timestamp": _sent,
                   "webhook-signature": sign_webhook(secret, "msg_readme", _sent, raw_body)})

# A user key as the reader's server minted it (`create_user_key(...).key`); building a client
# from it calls nothing.
user_key = "qg_uk_readme"


class ChatModel(BaseChatModel):
    """The reader's chat model: answers "Hello!", reporting its usage as ChatOpenAI does."""

    @property
    def _llm_type(self) -> str:
        return "readme-chat"

    def _generate(self, messages: List[BaseMessage], stop: Optional[List[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        usage: UsageMetadata = {"input_tokens": 9, "output_tokens": 3, "total_tokens": 12}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="Hello!", usage_metadata=usage))])


model = ChatModel()
