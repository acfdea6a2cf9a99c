"""A LangChain chat model whose runs are paid from a user's token quota.

    pip install './sdk/python[langchain]'   # from the repository's root (README.md, Install)
    QUOTA_GATEWAY_URL=http://127.0.0.1:8080 QUOTA_GATEWAY_KEY=qg_sk_… python examples/langchain_callback.py alice

`EchoChatModel` stands in for a provider's chat model (ChatOpenAI, ChatAnthropic, ...): it
answers with the prompt and reports token usage as they do. The handler holds the most the run
may cost (the messages' bound plus `max_tokens`) when it starts and commits the reported usage
when it ends.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from quota_gateway import QuotaExceeded, QuotaGateway
from quota_gateway.langchain import QuotaCallbackHandler


class EchoChatModel(BaseChatModel):
    max_tokens: int = 256

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _generate(self, messages: List[BaseMessage], stop: Optional[List[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        text = " ".join(str(m.content) for m in messages)
        prompt = len(text.split())
        usage = {"input_tokens": prompt, "output_tokens": prompt, "total_tokens": 2 * prompt}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text, usage_metadata=usage))])


def main() -> int:
    user = sys.argv[1] if len(sys.argv) > 1 else "alice"
    with QuotaGateway() as qg:
        handler = QuotaCallbackHandler(qg, event="llm.tokens")
        model = EchoChatModel()
        try:
            reply = model.invoke("count these five words please",
                                 config={"callbacks": [handler], "metadata": {"user_id": user}})
        except QuotaExceeded as denied:
            print("denied:", ", ".join(denied.reasons))
            return 2
        print("reply:", reply.content)
        print("tokens used:", qg.usage(user).counters[0].used)
    return 0


if __name__ == "__main__":
    sys.exit(main())
