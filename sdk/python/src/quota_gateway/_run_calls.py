"""The run routes as `Call`s, shared by both clients.

A start carries an Idempotency-Key like a reserve (a repeat answers the run it made), and one
that may have run without an answer is closed later by that key, as a reserve is released,
since it holds the run's whole budget until it expires. Close and extend take no key: a
repeated close answers the closed run, and extend sets now + ttl. A run whose start the
gateway never decided, let through by `fail_mode="open"`, has the id "": closing, extending
or reading it answers locally, and its steps are plain reserves of the user.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Union

from . import types as t
from ._calls import Metadata, event, header_fields, new_key, one, page, said, seg
from ._core import Call
from ._load import camel, dump, load
from .errors import QuotaGatewayError
from .params import RunLimitsParams

RUNS_PATH = "/v1/runs"
DEFAULT_RUN_TTL_SECONDS = 900.0
RunLimitsArg = Union[t.RunLimits, RunLimitsParams]


def limits_body(limits: RunLimitsArg) -> Dict[str, Any]:
    """Wire limits from a `RunLimits` or a dict (snake_case or the wire's camelCase keys)."""
    if isinstance(limits, t.RunLimits):
        return dict(dump(limits))
    return {camel(k): v for k, v in limits.items() if v is not None}


def started(data: Any, headers: Mapping[str, str]) -> t.RunStart:
    answer = load(t.RunStart, data, **header_fields(headers))
    if answer.allowed and not isinstance(answer.run_id, str):
        raise TypeError("an admitted run without a runId")
    return answer


def failed_start(fail_mode: str) -> Callable[[QuotaGatewayError], t.RunStart]:
    def fallback(_err: QuotaGatewayError) -> t.RunStart:
        opened = fail_mode == "open"
        return t.RunStart(opened, "" if opened else None, None, ["backend_unavailable"], [], [], [],
                          unchecked=True)
    return fallback


def start(fail_mode: str, user_id: str, name: str, quantity: Optional[float], metadata: Optional[Metadata],
          limits: Optional[RunLimitsArg], ttl_seconds: Optional[int], parent_run_id: Optional[str],
          idempotency_key: Optional[str]) -> Call[t.RunStart]:
    body = event(user_id, name, 1 if quantity is None else quantity, metadata)
    optional = {"ttlSeconds": ttl_seconds, "parentRunId": parent_run_id,
                "limits": limits_body(limits) if limits is not None else None}
    body.update({k: v for k, v in optional.items() if v is not None})
    # As for reserve: only a start keyed here is closed behind the caller's back.
    orphan_ttl = None if idempotency_key else float(ttl_seconds or DEFAULT_RUN_TTL_SECONDS)
    return Call("POST", RUNS_PATH, started, body, idempotency_key=idempotency_key or new_key(),
                fallback=failed_start(fail_mode), orphan_ttl=orphan_ttl)


def step_fields(run_id: Optional[str], action_id: Optional[str], kind: Optional[str]) -> Dict[str, Any]:
    """The body fields that make a reserve or a track a step of a run. An unchecked run ("")
    does not exist on the gateway, so its steps count on the user alone; `action_id` or `kind`
    without a run are sent all the same, for the gateway to refuse them by name."""
    if run_id == "":
        return {}
    fields = {"runId": run_id, "actionId": action_id, "kind": kind}
    return {k: v for k, v in fields.items() if v is not None}


def unchecked_run(state: t.RunState = "unchecked") -> t.Run:
    return t.Run("", "", "", state, "", "", None, None, t.RunLimits(), 0, 0, {}, [], [])


def run_path(run_id: str, tail: str = "") -> str:
    return f"{RUNS_PATH}/{seg(run_id) if run_id else ''}{tail}"


def get(run_id: str) -> Call[t.Run]:
    local = unchecked_run if run_id == "" else None
    return Call("GET", run_path(run_id), one(t.Run), local=local)


def close(run_id: str, outcome: Optional[str] = None) -> Call[t.Run]:
    # No key: a repeated close answers the run as the first close left it (its outcome too).
    local = unchecked_run if run_id == "" else None
    return Call("POST", run_path(run_id, "/close"), one(t.Run), said(outcome) or None, local=local)


def extend(run_id: str, ttl_seconds: int) -> Call[t.RunExtended]:
    local = (lambda: t.RunExtended("", "")) if run_id == "" else None
    return Call("POST", run_path(run_id, "/extend"), one(t.RunExtended), {"ttlSeconds": ttl_seconds},
                local=local)


def list_runs(user_id: str) -> Call[t.Page[t.Run]]:
    if not user_id:
        raise ValueError("user_id must not be empty")
    return Call("GET", RUNS_PATH, page(t.Run), query={"userId": user_id})
