"""Both clients behind one awaitable face, so each scenario runs against each of them: the
sync client's methods run in a worker thread, the async client's are awaited."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, Union

from quota_gateway import AsyncQuotaGateway, QuotaGateway


class Both:
    def __init__(self, client: Union[QuotaGateway, AsyncQuotaGateway]) -> None:
        self.client = client
        self.kind = "async" if isinstance(client, AsyncQuotaGateway) else "sync"

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.client, name)
        if self.kind == "async":
            return method  # type: ignore[no-any-return]

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, functools.partial(method, *args, **kwargs))

        return in_thread
