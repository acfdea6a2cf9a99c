"""Both clients behind one awaitable face, so each scenario runs against each of them: the
sync client's methods run in a worker thread, the async client's are awaited. A run's handle
(`RunHandle`, `AsyncRunHandle`) gets the same face; its plain attributes pass through."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Union

from quota_gateway import AsyncQuotaGateway, AsyncRunHandle, QuotaGateway, RunHandle


class Both:
    def __init__(self, client: Union[QuotaGateway, AsyncQuotaGateway, RunHandle, AsyncRunHandle]) -> None:
        self.client: Any = client
        self.kind = "async" if isinstance(client, (AsyncQuotaGateway, AsyncRunHandle)) else "sync"

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if self.kind == "async" or not callable(method):
            return method

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, functools.partial(method, *args, **kwargs))

        return in_thread
