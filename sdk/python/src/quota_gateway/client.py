"""`QuotaGateway`: the blocking client. `aio.py` has the same methods, awaitable."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, TypeVar, Union

import httpx

from . import _calls as c
from . import _price_calls as pr
from . import _run_calls as r
from . import _simulation_calls as s
from . import _user_key_calls as k
from . import _webhook_calls as w
from . import proxy as p
from . import types as t
from ._base import KEEP, Shared, left_over, outcome
from ._core import Attempts, Call, Done, Fail, Request, Retry, Step
from ._orphans import DRAIN_SECONDS, replay, undo
from ._run_calls import RunLimitsArg
from ._simulation_calls import Candidate, OnProgress
from .errors import QuotaGatewayError
from .params import (AlternativeParams, ApprovalStatus, FailMode, Fit, GrantCategory, Metadata, Outcome,
                     OverrideParams, StepKind, When)
from .reservation import ReservationContext
from .runs import DeniedRun, RunAnswer, RunContext, RunHandle
from .simulations import Simulation

if TYPE_CHECKING:
    import anthropic as _anthropic
    import openai as _openai
    from botocore.client import BaseClient as _BaseClient
    from google import genai as _genai

T = TypeVar("T")


class QuotaGateway(Shared):
    """The gateway's API, one method per route; thread-safe.

    `api_key` defaults to `QUOTA_GATEWAY_KEY`, `base_url` to `QUOTA_GATEWAY_URL`, else
    http://127.0.0.1:8080. `timeout` bounds each call with all its retries (seconds);
    `fail_mode` says what `reserve`, `can_use` and `start_run` answer when the gateway gives
    no answer.
    """

    def __init__(self, api_key: Optional[str] = None, *, base_url: Optional[str] = None,
                 timeout: float = 5.0, attempt_timeout: Optional[float] = None, max_retries: int = 3,
                 fail_mode: FailMode = "closed", user_token: Optional[str] = None,
                 http_client: Optional[httpx.Client] = None) -> None:
        super().__init__(api_key, base_url, timeout, attempt_timeout, max_retries, fail_mode, user_token)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client()
        self._draining = threading.Lock()

    def close(self) -> None:
        """Sends the kept commits once more (they carry usage the provider was paid for), then
        closes the HTTP client if this client made it."""
        if self.pending_commits:
            self._release_orphans()
            left_over(self.pending_commits)
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> QuotaGateway:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _run(self, call: Call[T], drain: bool = True) -> T:
        if call.local is not None:
            return call.local()
        attempts = Attempts(self._config, call, time.monotonic())
        in_flight = False
        step: Step[T]
        try:
            while True:
                request = attempts.request(time.monotonic())
                if not isinstance(request, Request):
                    step = request
                    break
                response, error = None, None
                in_flight = True
                try:
                    response = self._http.request(request.method, request.url, headers=request.headers,
                                                  content=request.content, timeout=request.timeout)
                except httpx.TransportError as err:
                    error = err
                in_flight = False
                step = outcome(attempts, response, error, time.monotonic())
                if not isinstance(step, Retry):
                    break
                time.sleep(step.delay)
            if attempts.succeeded and drain and len(self._orphans):
                self._release_orphans()
        except BaseException:
            # Interrupted (KeyboardInterrupt): a reserve on its way is released later by its key.
            attempts.lost(in_flight)
            self._keep(call, attempts)
            raise
        self._keep(call, attempts)
        if isinstance(step, Done):
            return step.value
        raise step.error

    def _release_orphans(self) -> None:
        """Sends again, boundedly, what was kept (see `_orphans.py`); one thread at a time."""
        if not self._draining.acquire(blocking=False):
            return
        try:
            started = time.monotonic()
            for orphan in self._orphans.due(started):
                if time.monotonic() - started > DRAIN_SECONDS:
                    break  # the rest wait for the next call, which is someone's request
                try:
                    found = self._run(replay(orphan), drain=False)
                    if found:
                        self._run(undo(orphan, found), drain=False)
                    self._orphans.done(orphan)
                except QuotaGatewayError as err:
                    self._orphans.done(orphan, err)
        finally:
            self._draining.release()

    # The data plane.

    def reserve(self, user_id: str, event: str, quantity: float = 1, metadata: Optional[Metadata] = None,
                *, ttl_seconds: Optional[int] = None, idempotency_key: Optional[str] = None,
                run_id: Optional[str] = None, action_id: Optional[str] = None,
                kind: Optional[StepKind] = None, fit: Optional[Fit] = None,
                min_fit: Optional[float] = None) -> t.Decision:
        """Holds quota in every matched group, all or nothing; never raises for a gateway that
        cannot be reached (see `fail_mode`). With `run_id` it is a step of that run (see
        `start_run`): it draws from the run's budget, `action_id` names the action it is an
        attempt of, `kind` is "primary" (default), "retry" or "fallback".

        `fit="clamp"` lets a hold that does not fit whole take what is left of its hard group,
        down to `min_fit` (in output tokens when the metadata names `output_tokens`, else in
        the quantity): the answer's `granted` then says what the call may spend. `fit="whole"`
        denies it instead; left out, each group's own `fit` decides."""
        step = r.step_fields(run_id, action_id, kind)
        decision = self._run(c.reserve(self._fail_mode, user_id, event, quantity, metadata, ttl_seconds,
                                       idempotency_key, step, fit, min_fit))
        return self._noticed(decision, event, run_id)

    def reserve_first(self, user_id: str, alternatives: Sequence[AlternativeParams], *,
                      ttl_seconds: Optional[int] = None, idempotency_key: Optional[str] = None,
                      run_id: Optional[str] = None, action_id: Optional[str] = None,
                      kind: Optional[StepKind] = None, fit: Optional[Fit] = None,
                      min_fit: Optional[float] = None) -> t.Decision:
        """Holds the first of `alternatives` (1 to 8 dicts `{"event", "quantity"?, "metadata"?}`,
        in the order preferred) that every matched group admits, decided at once in the gateway:
        Model A while its quota lasts, then Model B, with no other call between A's denial and
        B's hold. The decision is the held one's, with `chosen` (its index) and `alternatives`
        (each one passed over before it, with its reasons); when none fits, a denial of them all.
        Never raises for a gateway that cannot be reached (see `fail_mode`); the other options
        are `reserve`'s."""
        step = r.step_fields(run_id, action_id, kind)
        return self._run(c.reserve_first(self._fail_mode, user_id, alternatives, ttl_seconds, idempotency_key,
                                         step, fit, min_fit))

    def can_use(self, user_id: str, event: str, quantity: float = 1,
                metadata: Optional[Metadata] = None, *, fit: Optional[Fit] = None,
                min_fit: Optional[float] = None) -> t.Check:
        """What `reserve` would answer now, holding nothing (with what it would be `granted`
        when a hold would clamp)."""
        return self._run(c.can_use(self._fail_mode, user_id, event, quantity, metadata, fit, min_fit))

    def commit(self, reservation_id: str, quantity: Optional[float] = None,
               metadata: Optional[Metadata] = None, *, idempotency_key: Optional[str] = None,
               outcome: Optional[Outcome] = None) -> t.CommitAnswer:
        """Makes the hold usage (the actual `quantity` when given), exactly once; its ledger
        entry carries the reservation's metadata with `metadata` merged on top, and `outcome`,
        what the call's output came to when it is known now (`set_outcome` says it later)."""
        return self._run(c.commit(reservation_id, quantity, metadata, idempotency_key, outcome))

    def release(self, reservation_id: str) -> t.ReleaseAnswer:
        """Gives the hold back, exactly once; `status` is "expired" after expiry."""
        return self._run(c.release(reservation_id))

    def extend(self, reservation_id: str, ttl_seconds: int) -> t.ExtendAnswer:
        """Moves the expiry to now + ttl_seconds (at most 24 h after the reserve)."""
        return self._run(c.extend(reservation_id, ttl_seconds))

    def get_reservation(self, reservation_id: str) -> t.Reservation:
        """The reservation's status and holds, and what it was for (`quantity`, `metadata`)."""
        return self._run(c.get_reservation(reservation_id))

    def set_outcome(self, reservation_id: str, outcome: Outcome) -> t.OutcomeAnswer:
        """Says what a committed call's output came to, after its commit (an output is often
        judged later: the user keeps it, or asks again): "accepted", "rejected", "failed" or a
        word of the app's. Said again, nothing changes (`previous` is the same word); a new word
        replaces the old and moves the count, at most 8 times a call. Raises
        `reservation_not_committed` (409) for a reservation held, released or expired,
        `outcome_changed_enough` (409) past 8 changes, `reservation_not_found` (404)."""
        return self._run(c.set_outcome(reservation_id, outcome))

    def track(self, user_id: str, event: str, quantity: float = 1, metadata: Optional[Metadata] = None,
              *, idempotency_key: Optional[str] = None, run_id: Optional[str] = None,
              action_id: Optional[str] = None, kind: Optional[StepKind] = None,
              outcome: Optional[Outcome] = None) -> t.TrackAnswer:
        """Counts usage that already happened, past any quota; with `run_id`, into that run;
        with `outcome`, what its output came to."""
        step = r.step_fields(run_id, action_id, kind)
        return self._run(c.track(user_id, event, quantity, metadata, idempotency_key, step, outcome))

    def reservation(self, user_id: str, event: str, quantity: float = 1, metadata: Optional[Metadata] = None,
                    *, ttl_seconds: Optional[int] = None, fit: Optional[Fit] = None,
                    min_fit: Optional[float] = None) -> ReservationContext:
        """`with qg.reservation(...) as r:` reserves (raising `QuotaExceeded` when denied,
        `QuotaUnavailable` when the gateway gave no decision), commits when the block ends
        (`r.commit(actual)` sets the amount, committed even if the block raises after it;
        `r.commit(outcome="accepted")` what the output came to), and releases on an exception
        before that. With `fit` and `min_fit` (as `reserve` takes
        them) a hold may clamp: `r.granted` says what it was granted, and the block's
        default commit is that quantity."""
        return ReservationContext(self, user_id, event, quantity, metadata, ttl_seconds, fit, min_fit)

    # Runs.

    def start_run(self, user_id: str, event: str, quantity: Optional[float] = None,
                  metadata: Optional[Metadata] = None, *, limits: Optional[RunLimitsArg] = None,
                  ttl_seconds: Optional[int] = None, parent_run_id: Optional[str] = None,
                  idempotency_key: Optional[str] = None) -> RunAnswer:
        """Holds a run's budget up front, as a reserve of `event` would hold it (every matched
        group, all or nothing), for its steps to draw from; `limits` bounds its steps, attempts
        per action and fallbacks (a `RunLimits` or a dict). Answers a `RunHandle`, or a
        `DeniedRun` when refused (never raising for that, nor for a gateway that gives no
        answer: see `fail_mode`). With `parent_run_id` the budget is carved from that run."""
        start = self._run(r.start(self._fail_mode, user_id, event, quantity, metadata, limits, ttl_seconds,
                                  parent_run_id, idempotency_key))
        return RunHandle(self, start, user_id) if start.allowed else DeniedRun(start)

    def with_run(self, user_id: str, event: str, quantity: Optional[float] = None,
                 metadata: Optional[Metadata] = None, *, limits: Optional[RunLimitsArg] = None,
                 ttl_seconds: Optional[int] = None, parent_run_id: Optional[str] = None,
                 idempotency_key: Optional[str] = None) -> RunContext:
        """`with qg.with_run(...) as run:` starts a run (raising `QuotaExceeded` when refused) and
        closes it when the block ends, however it ends (`run.closed` is then the closed run),
        with the outcome the block set (`run.outcome = "accepted"`)."""
        return RunContext(self, dict(user_id=user_id, event=event, quantity=quantity, metadata=metadata,
                                     limits=limits, ttl_seconds=ttl_seconds, parent_run_id=parent_run_id,
                                     idempotency_key=idempotency_key))

    def get_run(self, run_id: str) -> t.Run:
        """The run: its state, limits, steps, attempts per action, and per group its budget,
        what its steps used and hold, and what remains."""
        return self._run(r.get(run_id))

    def list_runs(self, user_id: str) -> t.Page[t.Run]:
        """The user's runs, newest first (at most 100), one page (`next_cursor` None)."""
        return self._run(r.list_runs(user_id))

    def close_run(self, run_id: str, *, outcome: Optional[Outcome] = None) -> t.Run:
        """Ends a run: what its steps committed counts on the user's counters and grants, the
        rest (open steps included) goes back; with `outcome`, what the run's output came to. A
        repeat answers the closed run (its outcome as the first close said it); `state` is
        "expired" for a run that had expired (and so closed itself)."""
        return self._run(r.close(run_id, outcome))

    def extend_run(self, run_id: str, ttl_seconds: int) -> t.RunExtended:
        """Moves the run's expiry to now + ttl_seconds."""
        return self._run(r.extend(run_id, ttl_seconds))

    # Simulations (the pricing lab).

    def start_simulation(self, candidate: Candidate, cohort: Mapping[str, Any], *,
                         from_: Optional[When] = None, to: Optional[When] = None) -> Simulation:
        """Starts replaying the recorded demand of `cohort` (`{"plan_id": ...}`: the users on a
        plan, or `{"user_ids": [...]}`: 1 to 10,000 users) from `from_` to `to` (default the 30
        days before now; at most 92) against `candidate` (a plan document, as `put_plan` takes
        it, or `{"plan_id": ...}` naming a stored plan) and against the plans they are on.
        Answers at once, `status` "running". Past a bound raises `simulation_bound` (422) with
        `field` naming it: "range", "cohort.userIds", "users", "entries" or "concurrency". Not
        retried once it may have arrived (a repeat would start a second simulation)."""
        return self._run(s.start(candidate, cohort, from_, to))

    def simulation(self, simulation_id: str) -> Simulation:
        """The simulation: its progress, then its report (or its error); `simulation_not_found`
        (404) for an unknown id or after a day."""
        return self._run(s.get(simulation_id))

    def simulation_csv(self, simulation_id: str) -> str:
        """The report's per-user rows as CSV text (a header line, then a row per user, most
        affected first); `simulation_running` (409) before it is done, `simulation_failed`
        (409) when it failed."""
        return self._run(s.csv(simulation_id))

    def simulate(self, candidate: Candidate, cohort: Mapping[str, Any], *, from_: Optional[When] = None,
                 to: Optional[When] = None, poll_interval: float = s.DEFAULT_POLL_SECONDS,
                 timeout: float = s.DEFAULT_SIMULATE_SECONDS,
                 on_progress: Optional[OnProgress] = None) -> Simulation:
        """Starts a simulation (as `start_simulation`) and reads it every `poll_interval`
        seconds until it is no longer running, calling `on_progress` with its progress on every
        answer; answers it done, with its `report`. Within `timeout` seconds (10 minutes, the
        gateway's own cap) for the whole. Raises `QuotaGatewayError` `simulation_failed` (with
        `field` the bound it passed, such as "wallTime") when it failed, `simulation_timeout`
        (its id in `detail`) when it still runs at the deadline; a read the gateway does not
        answer is tried again at the next poll."""
        polling = s.Polling(self._config.timeout, poll_interval, timeout, on_progress, time.monotonic())
        first = self._run(polling.bounded(s.start(candidate, cohort, from_, to), time.monotonic()))
        step = polling.on_answer(first, time.monotonic())
        while isinstance(step, s.Wait):
            time.sleep(step.delay)
            read = polling.read(time.monotonic())
            if isinstance(read, Fail):
                raise read.error
            try:
                answer = self._run(read)
            except QuotaGatewayError as err:
                step = polling.on_error(err, time.monotonic())
            else:
                step = polling.on_answer(answer, time.monotonic())
        if isinstance(step, Fail):
            raise step.error
        return step.value

    # Reads.

    def usage(self, user_id: str) -> t.Usage:
        """Every group of the user's plan in its current period (a publishable key with a
        user token reads that user's only)."""
        return self._run(c.usage(user_id))

    def daily_usage(self, user_id: str, *, from_: Union[str, date, None] = None,
                    to: Union[str, date, None] = None) -> t.DailyUsage:
        return self._run(c.daily_usage(user_id, from_, to))

    def list_usage_events(self, *, user_id: Optional[str] = None, member_id: Optional[str] = None,
                          from_: Optional[When] = None, to: Optional[When] = None,
                          cursor: Optional[str] = None, limit: Optional[int] = None) -> t.UsageEventPage:
        """A page of the usage ledger, oldest first per user: one user's, or every user's
        without `user_id`; `member_id` (with `user_id`) reads one member's entries of a
        parent's ledger. Pass `cursor=page.next_cursor` until it is None: a page may hold
        fewer entries than `limit` and still name one."""
        return self._run(c.list_usage_events(user_id, member_id, from_, to, cursor, limit))

    def list_users(self, *, cursor: Optional[str] = None, limit: Optional[int] = None,
                   plan_id: Optional[str] = None, status: Optional[str] = None,
                   parent_id: Optional[str] = None) -> t.UserPage:
        return self._run(c.list_users(cursor, limit, plan_id, status, parent_id))

    # Subscriptions and users.

    def upsert_subscription(self, user_id: str, plan_id: str, *, started_at: Optional[When] = None,
                            overrides: Optional[Mapping[str, OverrideParams]] = None,
                            parent_id: Optional[str] = KEEP) -> t.Subscription:
        """Puts a user on a plan; `parent_id=None` removes the parent, left out keeps it."""
        return self._run(c.upsert_subscription(user_id, plan_id, started_at, overrides, parent_id, KEEP))

    def get_subscription(self, user_id: str) -> t.Subscription:
        return self._run(c.user_call("GET", user_id, "/subscription"))

    def delete_subscription(self, user_id: str) -> t.Subscription:
        return self._run(c.user_call("DELETE", user_id, "/subscription"))

    def set_override(self, user_id: str, group_id: str, quota: float, *,
                     expires_at: Optional[When] = None, value: Optional[str] = None) -> t.Subscription:
        """The user's quota of a group instead of the plan's (until `expires_at`); with `value`,
        of that one value of a per-value group (`"per"`), before the group's own override. A
        `value` on a group that does not count per value raises `invalid_request` (`field`
        "value"). The subscription lists it under `overrides` as `<group_id>~<value>`. A user
        keeps at most 1,000 overrides: a new one past them raises `override_limit` (409)."""
        return self._run(c.set_override(user_id, group_id, quota, expires_at, value))

    def remove_override(self, user_id: str, group_id: str, *, value: Optional[str] = None) -> t.Subscription:
        """Back to the plan's quota; with `value`, that value back to the group's override (or
        the plan's quota)."""
        return self._run(c.remove_override(user_id, group_id, value))

    def block(self, user_id: str, reason: str) -> t.Subscription:
        return self._run(c.user_call("POST", user_id, "/block", {"reason": reason}))

    def unblock(self, user_id: str) -> t.Subscription:
        return self._run(c.user_call("POST", user_id, "/unblock", {}))

    def adjust(self, user_id: str, group_id: str, amount: float, reason: str, *,
               idempotency_key: Optional[str] = None) -> t.AdjustmentAnswer:
        """Corrects the current period's counter of one group (negative refunds); once,
        however often it is retried (its Idempotency-Key)."""
        return self._run(c.adjust(user_id, group_id, amount, reason, idempotency_key))

    def list_adjustments(self, user_id: str) -> t.Page[t.Adjustment]:
        """The user's adjustments, newest first, one page (`next_cursor` None)."""
        return self._run(c.list_adjustments(user_id))

    def create_user_token(self, user_id: str, ttl_seconds: Optional[int] = None) -> t.UserToken:
        """A short-lived token for a browser to read this user's usage with a publishable key."""
        return self._run(c.create_user_token(user_id, ttl_seconds))

    # User keys, and the provider through the proxy.

    def create_user_key(self, user_id: str, label: Optional[str] = None,
                        expires_at: Optional[When] = None) -> t.UserKey:
        """A key for one end user's app (`qg_uk_…`, in `key`, shown only now): it calls the
        provider through the proxy as that user and nothing else (naming another user is refused
        403, and every other route of the gateway refuses it). It works until `expires_at`
        (never when None) or until revoked. Not retried once it may have arrived (a repeat
        mints another)."""
        return self._run(k.create(user_id, label, expires_at))

    def list_user_keys(self, user_id: str) -> t.Page[t.UserKey]:
        """The user's keys, without their secret part (`key` None), one page (`next_cursor` None)."""
        return self._run(k.list_for(user_id))

    def revoke_user_key(self, key_id: str) -> None:
        """Revokes a user key (its `id`): refused from then on. An unknown (or already revoked)
        id raises `key_not_found` (404)."""
        return self._run(k.revoke(key_id))

    def openai(self, user_id: str, *, upstream: str = "openai", metadata: Optional[Metadata] = None,
               run: Optional[str] = None, action: Optional[str] = None, kind: Optional[StepKind] = None,
               **client_kwargs: Any) -> _openai.OpenAI:
        """The official `openai.OpenAI` calling the provider through the gateway's proxy
        (`/proxy/{upstream}/v1`) with this client's secret key, paid from `user_id`'s quota:
        each call holds its worst case first, a denial raises the SDK's `RateLimitError`
        before the provider is called, and the provider's reported usage is what counts.
        `metadata` is added to each call's ledger entry; `run`, `action` and `kind` make each
        call a step of that run. `client_kwargs` go to the constructor (`max_retries`,
        `timeout`, `http_client`, ...). Needs the `openai` extra."""
        return p.openai_client(self.base_url, self._config.api_key, user=user_id, upstream=upstream,
                               metadata=metadata, run=run, action=action, kind=kind, **client_kwargs)

    def azure_openai(self, user_id: str, *, api_version: str, upstream: str = "azure",
                     metadata: Optional[Metadata] = None, run: Optional[str] = None, action: Optional[str] = None,
                     kind: Optional[StepKind] = None, **client_kwargs: Any) -> _openai.AzureOpenAI:
        """The official `openai.AzureOpenAI` calling Azure OpenAI through the gateway's proxy
        (`/proxy/{upstream}` as its endpoint; name a deployment as the model), with this
        client's secret key as Azure's `api-key`, as `openai` does. Needs the `openai` extra."""
        return p.azure_openai_client(self.base_url, self._config.api_key, api_version=api_version, user=user_id,
                                     upstream=upstream, metadata=metadata, run=run, action=action, kind=kind,
                                     **client_kwargs)

    def anthropic(self, user_id: str, *, upstream: str = "anthropic", metadata: Optional[Metadata] = None,
                  run: Optional[str] = None, action: Optional[str] = None, kind: Optional[StepKind] = None,
                  **client_kwargs: Any) -> _anthropic.Anthropic:
        """The official `anthropic.Anthropic` calling the provider through the gateway's proxy
        (`/proxy/{upstream}`), as `openai` does. Needs the `anthropic` extra."""
        return p.anthropic_client(self.base_url, self._config.api_key, user=user_id, upstream=upstream,
                                  metadata=metadata, run=run, action=action, kind=kind, **client_kwargs)

    def bedrock_runtime(self, user_id: str, *, upstream: str = "bedrock", region: str = "us-east-1",
                        metadata: Optional[Metadata] = None, run: Optional[str] = None,
                        action: Optional[str] = None, kind: Optional[StepKind] = None,
                        **client_kwargs: Any) -> _BaseClient:
        """boto3's `bedrock-runtime` client calling Amazon Bedrock through the gateway's proxy
        (`/proxy/{upstream}` as its endpoint: `converse`, `invoke_model` and their streams) with
        this client's secret key as a Bedrock API key, as `openai` does; botocore sends it only
        over HTTPS, so the gateway's URL is an `https://` one. A denial raises botocore's
        `ClientError` (code `ThrottlingException`), not retried. `client_kwargs` go to
        `boto3.Session.client` (`config`, `verify`, ...). Needs the `bedrock` extra."""
        return p.bedrock_runtime_client(self.base_url, self._config.api_key, user=user_id, upstream=upstream,
                                        region=region, metadata=metadata, run=run, action=action, kind=kind,
                                        **client_kwargs)

    def anthropic_bedrock(self, user_id: str, *, upstream: str = "bedrock", region: str = "us-east-1",
                          metadata: Optional[Metadata] = None, run: Optional[str] = None,
                          action: Optional[str] = None, kind: Optional[StepKind] = None,
                          **client_kwargs: Any) -> _anthropic.AnthropicBedrock:
        """The official `anthropic.AnthropicBedrock` calling Claude on Amazon Bedrock through the
        gateway's proxy (`/proxy/{upstream}`), this client's secret key sent as a Bedrock API key,
        as `openai` does; name a Bedrock model id or inference profile as the model. Needs the
        `anthropic` extra."""
        return p.anthropic_bedrock_client(self.base_url, self._config.api_key, user=user_id, upstream=upstream,
                                          region=region, metadata=metadata, run=run, action=action, kind=kind,
                                          **client_kwargs)

    def gemini(self, user_id: str, *, upstream: str = "gemini", metadata: Optional[Metadata] = None,
               run: Optional[str] = None, action: Optional[str] = None, kind: Optional[StepKind] = None,
               **client_kwargs: Any) -> _genai.Client:
        """The official `google.genai.Client` calling Gemini through the gateway's proxy
        (`/proxy/{upstream}`), as `openai` does; a denial raises its `ClientError` (`code`
        429). Needs the `gemini` extra."""
        return p.gemini_client(self.base_url, self._config.api_key, user=user_id, upstream=upstream,
                               metadata=metadata, run=run, action=action, kind=kind, **client_kwargs)

    def vertex_gemini(self, user_id: str, *, project: str, location: str, upstream: str = "vertex",
                      metadata: Optional[Metadata] = None, run: Optional[str] = None, action: Optional[str] = None,
                      kind: Optional[StepKind] = None, **client_kwargs: Any) -> _genai.Client:
        """Google's `google.genai.Client` on Vertex AI (`vertexai=True`, in `project` and
        `location`) calling Gemini through the gateway's Vertex AI upstream (`/proxy/{upstream}`),
        this client's secret key sent as its OAuth access token (`Authorization: Bearer`), as
        `openai` does: it looks for no Application Default Credentials, the gateway minting
        Vertex's own. A denial raises its `ClientError` (`code` 429). Needs the `gemini` extra."""
        return p.vertex_gemini_client(self.base_url, self._config.api_key, project=project, location=location,
                                      user=user_id, upstream=upstream, metadata=metadata, run=run, action=action,
                                      kind=kind, **client_kwargs)

    def anthropic_vertex(self, user_id: str, *, project: str, region: str, upstream: str = "vertex",
                         metadata: Optional[Metadata] = None, run: Optional[str] = None,
                         action: Optional[str] = None, kind: Optional[StepKind] = None,
                         **client_kwargs: Any) -> _anthropic.AnthropicVertex:
        """The official `anthropic.AnthropicVertex` calling Claude on Vertex AI through the gateway's
        Vertex AI upstream (`/proxy/{upstream}/v1`, in `project` and `region`), this client's
        secret key sent as its access token, as `openai` does; name a Vertex model
        (`claude-haiku-4-5@20251001`). Needs the `anthropic` extra."""
        return p.anthropic_vertex_client(self.base_url, self._config.api_key, project=project, region=region,
                                         user=user_id, upstream=upstream, metadata=metadata, run=run, action=action,
                                         kind=kind, **client_kwargs)

    # Credits.

    def grant(self, user_id: str, balance: str, amount: float, *, priority: Optional[int] = None,
              category: Optional[GrantCategory] = None, effective_at: Optional[When] = None,
              expires_at: Optional[When] = None, cost_basis: Optional[float] = None,
              source: Optional[str] = None, metadata: Optional[Metadata] = None,
              idempotency_key: Optional[str] = None) -> t.GrantMade:
        """Adds `amount` credits to one of the user's balances; they pay its debt first
        (`debt_paid`). `priority` 0-100 (default 50, lower burns first), `category` "paid"
        (default) or "promotional", `cost_basis` in cents per credit. Granted once however
        often it is retried: pass the payment's id as `idempotency_key` so a payment's
        webhook delivered twice grants once (a repeat answers the grant first made)."""
        return self._run(c.grant(user_id, balance, amount, priority, category, effective_at, expires_at,
                                 cost_basis, source, metadata, idempotency_key))

    def list_grants(self, user_id: str, balance: Optional[str] = None) -> t.Page[t.Grant]:
        """The user's grants (of one `balance`, or of all), in burn order, spent, expired and
        voided ones included, one page (`next_cursor` None)."""
        return self._run(c.list_grants(user_id, balance))

    def void_grant(self, user_id: str, grant_id: str) -> t.Grant:
        """Ends a grant: what it has remaining is voided now, what open reservations hold of
        it when they give it back. A repeat answers the voided grant."""
        return self._run(c.void_grant(user_id, grant_id))

    def balances(self, user_id: str) -> t.Page[t.Balance]:
        """Every balance of the user, one page (`next_cursor` None): available, held, debt and
        soonest expiry, each with its grants in burn order."""
        return self._run(c.balances(user_id))

    def balances_summary(self, *, balance: Optional[str] = None, user_id: Optional[str] = None,
                         from_: Optional[When] = None, to: Optional[When] = None) -> t.CreditSummary:
        """What the ledger says of credits over a span (every user's, or `user_id`'s): granted,
        burned with its revenue at cost basis, voided, expired and outstanding, paid and
        promotional apart."""
        return self._run(c.balances_summary(balance, user_id, from_, to))

    # Approval requests.

    def list_approvals(self, *, status: Optional[ApprovalStatus] = None, user_id: Optional[str] = None,
                       cursor: Optional[str] = None, limit: Optional[int] = None) -> t.ApprovalPage:
        """Approval requests, oldest first (a queue): of one `status` ("pending", "approved",
        "declined") or all, of one user or all. Pass `cursor=page.next_cursor` until it is None."""
        return self._run(c.list_approvals(status, user_id, cursor, limit))

    def get_approval(self, approval_id: str) -> t.Approval:
        """One approval request (`approval_id` from a denial's `approval_id`, or a list)."""
        return self._run(c.get_approval(approval_id))

    def approve(self, approval_id: str, quota: float, *, expires_at: Optional[When] = None) -> t.Approval:
        """Approves a pending request: the user's quota of the group becomes `quota` for the
        rest of the request's period (or until `expires_at`), as an override. A decided request
        raises `approval_decided` (409); an override that would be the user's 1,001st raises
        `override_limit` (409). A request whose period ended undecided answers "declined" (its
        period ended before a decision), raising nothing. Not retried once it may have arrived:
        after a `backend_unavailable` error, `get_approval` says whether it was decided."""
        return self._run(c.approve(approval_id, quota, expires_at))

    def decline(self, approval_id: str, reason: str) -> t.Approval:
        """Declines a pending request with a `reason` (1 to 256 bytes): the group stays hard for
        the rest of the period. Raises and retries as `approve` does."""
        return self._run(c.decline(approval_id, reason))

    # Plans.

    def put_plan(self, plan: Union[t.Plan, Mapping[str, Any]], *, plan_id: Optional[str] = None) -> t.Plan:
        return self._run(c.put_plan(plan, plan_id))

    def get_plan(self, plan_id: str) -> t.Plan:
        return self._run(c.plan_call("GET", plan_id))

    def list_plans(self, *, owner: Optional[str] = None) -> t.Page[t.Plan]:
        """Every plan of the project, one page (`next_cursor` None); with `owner`, only those
        where it owns the plan or one of its groups: the budgets it answers for."""
        return self._run(c.list_plans(owner))

    def delete_plan(self, plan_id: str) -> None:
        return self._run(c.delete_plan(plan_id))

    # The model catalog and the project's prices.

    def catalog(self) -> t.Catalog:
        """The catalog the gateway prices by: its `version` and every model in it, with its
        prices (USD per million tokens, or per image), context window, output limit, and the
        page and day they were read from (`source`, `as_of`). `catalog().find(model)` looks a
        model up by its name or an alias."""
        return self._run(pr.catalog())

    def prices(self) -> t.Page[t.Price]:
        """Every price the project set (at most 1,000), by model name, one page (`next_cursor`
        None); each with the catalog's price of the model for comparison (`catalog`)."""
        return self._run(pr.list_prices())

    def price(self, model: str) -> t.Price:
        """The project's price of `model`; `price_not_found` (404) when it set none (the
        catalog's price, if any, applies: see `catalog`)."""
        return self._run(pr.get(model))

    def set_price(self, model: str, input_per_million: float, output_per_million: float, *,
                  cached_input_per_million: Optional[float] = None,
                  cache_write_per_million: Optional[float] = None,
                  per_image: Optional[Mapping[str, float]] = None,
                  audio_input_per_million: Optional[float] = None,
                  audio_output_per_million: Optional[float] = None,
                  per_second: Optional[float] = None, per_minute: Optional[float] = None,
                  per_million_characters: Optional[float] = None, long_context: pr.Tier = None,
                  batch: pr.Batch = None) -> t.Price:
        """Sets the project's price of `model` (1 to 128 of `A-Z a-z 0-9 _ . : / -`), which
        beats the catalog's in every priced group (`"measure": {"price": ...}`) from the next
        reserve on: USD per million input and output tokens (cached and cache-write input
        priced as input unless given), per image by `"<quality>/<size>"`, and for audio per
        million audio input and output tokens (priced as input and output unless given), per
        second or minute of audio (`audio_seconds`) and per million characters spoken
        (`input_characters`); at most 6 decimals. `long_context` (a `LongContextPrices`, or its
        JSON object) prices a whole call whose input tokens are more than its
        `over_input_tokens` at its prices; `batch` (a `BatchPrices`) is kept and shown, pricing
        no call yet. A bad price raises `invalid_request` naming its `field`; a 1,001st model
        `price_limit` (409)."""
        return self._run(pr.put(model, input_per_million, output_per_million, cached_input_per_million,
                                cache_write_per_million, per_image,
                                {"audioInputPerMillion": audio_input_per_million,
                                 "audioOutputPerMillion": audio_output_per_million, "perSecond": per_second,
                                 "perMinute": per_minute, "perMillionCharacters": per_million_characters},
                                long_context, batch))

    def delete_price(self, model: str) -> None:
        """Removes the project's price of `model`: the catalog prices it again (or no one
        does, and priced groups deny it `unpriced_model`). `price_not_found` (404) when the
        project set none."""
        return self._run(pr.delete(model))

    # Webhook endpoints.

    def create_webhook(self, url: str, *, events: Optional[Sequence[str]] = None,
                       description: Optional[str] = None,
                       idempotency_key: Optional[str] = None) -> t.Webhook:
        """A webhook endpoint; the answer's `secret` (`whsec_…`) is shown only now. Made once,
        however often it is retried (its Idempotency-Key)."""
        return self._run(w.create(url, events, description, idempotency_key))

    def list_webhooks(self) -> t.Page[t.Webhook]:
        """Every endpoint of the project, never their secret, one page (`next_cursor` None)."""
        return self._run(w.list_all())

    def get_webhook(self, webhook_id: str) -> t.Webhook:
        return self._run(w.get(webhook_id))

    def delete_webhook(self, webhook_id: str) -> None:
        return self._run(w.delete(webhook_id))

    def enable_webhook(self, webhook_id: str) -> t.Webhook:
        """Delivers to the endpoint again (its failing time starts afresh)."""
        return self._run(w.set_enabled(webhook_id, True))

    def disable_webhook(self, webhook_id: str) -> t.Webhook:
        """Stops delivering to the endpoint; its pending deliveries end as failed."""
        return self._run(w.set_enabled(webhook_id, False))

    def rotate_webhook_secret(self, webhook_id: str) -> str:
        """A new secret; the old one signs too for 24 hours."""
        return self._run(w.rotate(webhook_id))

    def test_webhook(self, webhook_id: str) -> str:
        """Sends a `webhook.test` event; answers the delivery id."""
        return self._run(w.test(webhook_id))

    def list_webhook_deliveries(self, webhook_id: str, *, limit: Optional[int] = None) -> t.Page[t.WebhookDelivery]:
        """The endpoint's newest deliveries with their tries, one page (`next_cursor` None)."""
        return self._run(w.deliveries(webhook_id, limit))

    def retry_webhook_delivery(self, webhook_id: str, delivery_id: str) -> str:
        return self._run(w.retry(webhook_id, delivery_id))
