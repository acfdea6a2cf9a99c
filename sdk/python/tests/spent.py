"""What the gateway says a user has spent and holds, read apart from the client under test, and
a bounded wait for holds that settle on another thread or task (a stream's finalizer)."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List

from conftest import Env

WAIT_SECONDS = 10.0


def counter(env: Env, user: str) -> Dict[str, Any]:
    """The user's one counter (the tests' plans have one group)."""
    found: Dict[str, Any] = env.call("GET", f"/v1/users/{user}/usage")["counters"][0]
    return found


def spent(env: Env, user: str) -> Any:
    """(used, reserved) of the user's counter."""
    c = counter(env, user)
    return c["used"], c["reserved"]


def entries(env: Env, user: str) -> List[Dict[str, Any]]:
    """The user's ledger entries that changed usage (commits), oldest first."""
    data: List[Dict[str, Any]] = env.call("GET", f"/v1/usage-events?userId={user}")["data"]
    return [e for e in data if e["kind"] in ("commit", "late_commit")]


def settled(env: Env, user: str) -> Any:
    """(used, reserved) once nothing is held, within WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = spent(env, user)
        if found[1] == 0:
            return found
        time.sleep(0.05)
    return spent(env, user)


async def settled_async(env: Env, user: str) -> Any:
    """`settled`, letting the loop run the tasks that settle meanwhile."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(spent, env, user)
        if found[1] == 0:
            return found
        await asyncio.sleep(0.05)
    return await asyncio.to_thread(spent, env, user)
