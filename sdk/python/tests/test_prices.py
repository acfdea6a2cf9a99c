"""Prices and fit against the real gateway, on both clients: the model catalog, the project's
own prices (set, listed, read, deleted, then `price_not_found`), a cents group priced by the
catalog with a markup counting the catalog's price times the counts times the markup, an
unpriced model denied naming the model (and a track of it refused), and holds that clamp to
what is left (`granted`), by a group's `fit` or the reserve's; the README's section on them run
as written."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable, Dict, List

import pytest
from both import Both
from conftest import Env
from test_quickstart import SDK_README, fresh, python_blocks, run_as_written  # noqa: F401 - fresh: a fixture

from quota_gateway import (Allowed, BatchPrices, Catalog, Denied, Granted, LongContextPrices, PriceDoc, QuotaExceeded,
                           QuotaGateway, QuotaGatewayError)
from quota_gateway.types import CatalogEntry, Plan, PlanGroup


def plan_with(env: Env, user: str, *groups: Dict[str, Any]) -> None:
    """Puts `user` on a plan of its own with these groups."""
    plan = {"id": f"plan_{user}", "periodType": "month", "groups": list(groups)}
    env.call("PUT", f"/v1/plans/plan_{user}", plan)
    env.call("PUT", f"/v1/users/{user}/subscription", {"planId": plan["id"]})


def dollars(markup: float = 1.2, **measure: Any) -> Dict[str, Any]:
    """"$20 a month of any model, at the catalog's price plus 20 %"."""
    return {"id": "dollars", "unit": "cents", "quota": 2000,
            "measure": {"price": "catalog", "markup": markup, **measure}, "matches": [{"event": "*"}]}


def exact(value: float) -> Fraction:
    """A price as the gateway reads it: the decimal it was written as."""
    return Fraction(str(value))


def milli_cents(entry: Any, counts: Dict[str, int], markup: float) -> int:
    """What `counts` cost at a price (`input_per_million`, `output_per_million`) times the markup,
    in milli-cents rounded up, the gateway's arithmetic done apart."""
    dollars_spent = (counts["input_tokens"] * exact(entry.input_per_million)
                     + counts["output_tokens"] * exact(entry.output_per_million)) / 1_000_000
    return math.ceil(dollars_spent * 100 * exact(markup) * 1000)


def milli(amount: float) -> int:
    return round(amount * 1000)


async def test_the_catalog_lists_models_with_their_prices_and_finds_one_by_an_alias(client: Both) -> None:
    catalog = await client.catalog()
    assert isinstance(catalog, Catalog) and catalog.version and len(catalog.models) > 10
    gpt = catalog.find("gpt-4.1")
    assert isinstance(gpt, CatalogEntry) and gpt.model == "gpt-4.1" and gpt.provider == "openai"
    assert gpt.input_per_million > 0 and gpt.output_per_million > gpt.input_per_million
    assert gpt.context_window > 0 and gpt.max_output_tokens > 0 and gpt.source.startswith("https://")
    assert len(gpt.as_of) == 10 and gpt.as_of[4] == "-"
    assert {m.provider for m in catalog.models} <= {"openai", "anthropic", "google", "mistral", "bedrock"}
    aliased = next(m for m in catalog.models if m.aliases)
    assert catalog.find(aliased.aliases[0]) == aliased and catalog.find("no-such-model") is None


async def test_a_price_is_set_listed_read_and_deleted_then_not_found(
        client: Both, fresh_user: Callable[..., str]) -> None:
    # A name with a slash, sent as one path segment; the catalog does not list it.
    model = f"acme/{fresh_user('ft')}:v1"
    made = await client.set_price(model, 3, 12.5, cached_input_per_million=0.3,
                                  per_image={"standard/1024x1024": 0.04})
    assert (made.model, made.input_per_million, made.output_per_million) == (model, 3, 12.5)
    assert (made.cached_input_per_million, made.cache_write_per_million) == (0.3, None)
    assert made.per_image == {"standard/1024x1024": 0.04} and made.updated_at and made.catalog is None
    listed = await client.prices()
    assert model in [p.model for p in listed.data] and listed.next_cursor is None
    assert await client.price(model) == made
    changed = await client.set_price(model, 2, 8)
    assert (changed.input_per_million, changed.cached_input_per_million, changed.per_image) == (2, None, None)
    assert await client.delete_price(model) is None
    with pytest.raises(QuotaGatewayError) as gone:
        await client.price(model)
    assert (gone.value.code, gone.value.status) == ("price_not_found", 404)
    with pytest.raises(QuotaGatewayError) as again:
        await client.delete_price(model)
    assert again.value.code == "price_not_found"
    assert model not in [p.model for p in (await client.prices()).data]


async def test_audio_is_priced_by_its_seconds_characters_and_audio_tokens(
        client: Both, fresh_user: Callable[..., str]) -> None:
    catalog = await client.catalog()
    whisper, tts, transcribe = (catalog.find(m) for m in ("whisper-1", "tts-1", "gpt-4o-transcribe"))
    assert whisper is not None and (whisper.per_minute, whisper.per_second) == (0.006, None)
    assert tts is not None and tts.per_million_characters == 15
    assert transcribe is not None and (transcribe.audio_input_per_million, transcribe.input_per_million) == (6, 2.5)
    model = f"acme/{fresh_user('au')}:v1"
    try:
        made = await client.set_price(model, 0, 0, per_second=0.0001, audio_input_per_million=6,
                                      per_million_characters=16)
        assert (made.per_second, made.audio_input_per_million, made.per_million_characters) == (0.0001, 6, 16)
        assert (made.per_minute, made.audio_output_per_million) == (None, None)
        with pytest.raises(QuotaGatewayError) as both:
            await client.set_price(model, 0, 0, per_second=0.0001, per_minute=0.006)
        assert both.value.code == "invalid_request" and "perMinute" in str(both.value)
    finally:
        await client.delete_price(model)


async def test_a_long_context_tier_prices_a_call_past_its_threshold_whole_and_batch_prices_are_kept(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    pro = (await client.catalog()).find("gemini-2.5-pro")
    assert pro is not None and pro.long_context == LongContextPrices(200_000, 2.5, 15, 0.25)
    assert pro.batch is not None and pro.batch.input_per_million < pro.input_per_million
    model = f"acme/{fresh_user('lc')}:v1"
    tier = LongContextPrices(over_input_tokens=200_000, input_per_million=2.5, output_per_million=15,
                             cached_input_per_million=0.25)
    try:
        made = await client.set_price(model, 1.25, 10, long_context=tier, batch=BatchPrices(0.625, 5))
        assert (made.long_context, made.batch) == (tier, BatchPrices(0.625, 5))
        assert await client.price(model) == made
        # As the wire's JSON object too.
        again = await client.set_price(model, 1.25, 10, long_context={"overInputTokens": 128_000,
                                                                      "inputPerMillion": 2.5, "outputPerMillion": 15})
        assert (again.long_context, again.batch) == (LongContextPrices(128_000, 2.5, 15), None)
        await client.set_price(model, 1.25, 10, long_context=tier)
        user = fresh_user()
        plan_with(env, user, dollars(1))
        # At the threshold the base prices; one token past it, every token at the tier's.
        at = await client.track(user, "llm.call", 1, {"model": model, "input_tokens": 200_000, "output_tokens": 1000})
        base = PriceDoc(1.25, 10)
        assert milli(at.counters[0].used) == milli_cents(base, {"input_tokens": 200_000, "output_tokens": 1000}, 1)
        over = await client.track(user, "llm.call", 1, {"model": model, "input_tokens": 200_001, "output_tokens": 1000})
        assert milli(over.counters[0].used) - milli(at.counters[0].used) == milli_cents(
            tier, {"input_tokens": 200_001, "output_tokens": 1000}, 1)
        with pytest.raises(QuotaGatewayError) as bad:
            await client.set_price(model, 1, 1, long_context=LongContextPrices(0, 2.5, 15))
        assert (bad.value.code, bad.value.field) == ("invalid_request", "longContext.overInputTokens")
    finally:
        await client.delete_price(model)


async def test_a_price_of_a_catalog_model_answers_the_catalogs_beside_it_and_a_bad_one_names_its_field(
        client: Both) -> None:
    catalog = await client.catalog()
    nano = catalog.find("gpt-5-nano")
    assert nano is not None
    try:
        made = await client.set_price("gpt-5-nano", 0.01, 0.02)
        assert made.catalog == PriceDoc(nano.input_per_million, nano.output_per_million,
                                        nano.cached_input_per_million, nano.cache_write_per_million,
                                        nano.per_image, batch=nano.batch)
        assert made.catalog is not None and made.catalog.batch is not None
    finally:
        await client.delete_price("gpt-5-nano")
    with pytest.raises(QuotaGatewayError) as bad:
        await client.set_price("my-model", -1, 1)
    assert (bad.value.code, bad.value.field) == ("invalid_request", "inputPerMillion")
    with pytest.raises(QuotaGatewayError) as precise:
        await client.set_price("my-model", 1, 1, cached_input_per_million=0.0000001)
    assert precise.value.field == "cachedInputPerMillion"
    with pytest.raises(QuotaGatewayError) as named:
        await client.set_price("bad name", 1, 1)
    assert (named.value.code, named.value.field) == ("invalid_request", "model")


async def test_a_cents_group_priced_by_the_catalog_counts_its_price_times_the_counts_times_the_markup(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    plan_with(env, user, dollars(1.2))
    catalog = await client.catalog()
    gpt = catalog.find("gpt-4.1")
    assert gpt is not None
    worst = {"input_tokens": 5000, "output_tokens": 2000}
    held = await client.reserve(user, "llm.call", 1, {"model": "gpt-4.1", **worst})
    assert isinstance(held, Allowed) and held.granted is None
    assert milli(held.counters[0].reserved) == milli_cents(gpt, worst, 1.2), "the worst case at its price"
    used = {"input_tokens": 4000, "output_tokens": 1500}
    committed = await client.commit(held.reservation_id, metadata=used)
    expected = milli_cents(gpt, used, 1.2)
    assert milli(committed.counters[0].used) == expected and committed.counters[0].reserved == 0
    assert 0 < expected < milli_cents(gpt, worst, 1.2)
    # The ledger says where the price came from: the catalog, of this version.
    [entry] = [e for e in (await client.list_usage_events(user_id=user)).data if e.kind == "commit"]
    [group] = entry.groups
    assert (group.group_id, group.unit, milli(group.amount)) == ("dollars", "cents", expected)
    assert group.price is not None
    assert (group.price.source, group.price.catalog_version, group.price.model) == ("catalog", catalog.version,
                                                                                    "gpt-4.1")


async def test_an_unpriced_model_is_denied_naming_it_until_the_project_prices_it(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user, model = fresh_user(), f"{fresh_user('fine-tune-')}"
    plan_with(env, user, dollars(1))
    call = {"model": model, "input_tokens": 1_000_000, "output_tokens": 1_000_000}
    denied = await client.reserve(user, "llm.call", 1, call)
    assert isinstance(denied, Denied) and denied.reasons == ["unpriced_model"]
    assert [(d.reason, d.group_id, d.model) for d in denied.denials] == [("unpriced_model", "dollars", model)]
    check = await client.can_use(user, "llm.call", 1, call)
    assert not check.allowed and check.reasons == ["unpriced_model"]
    with pytest.raises(QuotaGatewayError) as refused:
        await client.track(user, "llm.call", 1, call)
    assert (refused.value.code, refused.value.status) == ("unpriced_model", 422)
    # Priced by the project: $1 + $2 a million tokens, 300 cents for a million of each.
    await client.set_price(model, 1, 2)
    try:
        held = await client.reserve(user, "llm.call", 1, call)
        assert isinstance(held, Allowed) and held.counters[0].reserved == 300
        await client.commit(held.reservation_id)
        [entry] = [e for e in (await client.list_usage_events(user_id=user)).data if e.kind == "commit"]
        assert entry.groups[0].price is not None
        assert (entry.groups[0].price.source, entry.groups[0].price.catalog_version) == ("override", None)
    finally:
        await client.delete_price(model)
    again = await client.reserve(user, "llm.call", 1, call)
    assert again.reasons == ["unpriced_model"], "unpriced again once its price is gone"


async def test_a_clamping_group_grants_what_is_left(client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    plan_with(env, user, {"id": "renders", "unit": "count", "quota": 15, "fit": "clamp",
                          "matches": [{"event": "*"}]})
    first = await client.reserve(user, "render", 10)
    assert isinstance(first, Allowed) and first.granted is None, "fits whole: all it asked"
    check = await client.can_use(user, "render", 10)
    assert check.allowed and check.granted == Granted(5, None)
    second = await client.reserve(user, "render", 10)
    assert isinstance(second, Allowed) and second.granted == Granted(5, None)
    assert (second.granted.quantity, second.granted.output_tokens) == (5, None)
    held = await client.get_reservation(second.reservation_id)
    assert held.holds[0].amount == 5, "it holds what it was granted"
    assert not (await client.reserve(user, "render", 1)).allowed, "nothing left"
    await client.release(first.reservation_id)
    whole = await client.reserve(user, "render", 15, fit="whole")
    assert not whole.allowed and whole.reasons == ["limit_reached"], "a reserve may refuse to clamp"


async def test_a_reserve_clamps_a_group_that_does_not_down_to_its_min_fit_and_shrinks_its_output(
        client: Both, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    # 100 output tokens a month, the group itself whole-only.
    plan_with(env, user, {"id": "out", "unit": "tokens", "quota": 100, "measure": {"metadata": "output_tokens"},
                          "matches": [{"event": "*"}]})
    call = {"model": "m", "input_tokens": 20, "output_tokens": 70}
    first = await client.reserve(user, "llm.call", 90, call)
    assert isinstance(first, Allowed) and first.granted is None
    assert not (await client.reserve(user, "llm.call", 90, call)).allowed, "30 left: whole, it is denied"
    below = await client.reserve(user, "llm.call", 90, call, fit="clamp", min_fit=40)
    assert not below.allowed, "30 left is less than the least it takes"
    clamped = await client.reserve(user, "llm.call", 90, call, fit="clamp", min_fit=10)
    assert isinstance(clamped, Allowed) and clamped.granted == Granted(50, 30), "its output cut to 30, 40 less"
    await client.commit(first.reservation_id, metadata={"output_tokens": 70})
    await client.commit(clamped.reservation_id, metadata={"output_tokens": 30})
    usage = await client.usage(user)
    assert (usage.counters[0].used, usage.counters[0].reserved) == (100, 0)


async def test_a_plans_fit_min_fit_and_price_measure_read_back_and_put_back_whole(
        client: Both, fresh_user: Callable[..., str]) -> None:
    pid = f"plan_{fresh_user('fit')}"
    groups = [PlanGroup("out", "tokens", 100, [{"event": "*"}], measure={"metadata": "output_tokens"}, fit="clamp",
                        min_fit=10),
              PlanGroup("dollars", "cents", 2000, [{"event": "*"}],
                        measure={"price": "catalog", "markup": 1.2, "unpriced": "allow"})]
    stored = await client.put_plan(Plan(groups, id=pid, period_type="month"))
    read = await client.get_plan(pid)
    assert (read.groups[0].fit, read.groups[0].min_fit, read.groups[1].fit) == ("clamp", 10, None)
    assert read.groups[1].measure == {"price": "catalog", "markup": 1.2, "unpriced": "allow"}
    again = await client.put_plan(read)
    assert again.version == stored.version and again.groups == read.groups, "the same document: no new version"
    await client.delete_plan(pid)


def test_a_clamped_reservation_block_commits_what_it_was_granted(
        qg: QuotaGateway, env: Env, fresh_user: Callable[..., str]) -> None:
    user = fresh_user()
    plan_with(env, user, {"id": "out", "unit": "tokens", "quota": 100, "fit": "clamp", "minFit": 10,
                          "measure": {"metadata": "output_tokens"}, "matches": [{"event": "*"}]})
    qg.track(user, "llm.call", 1, {"output_tokens": 60})
    seen: List[Any] = []
    with qg.reservation(user, "llm.call", 70, {"input_tokens": 20, "output_tokens": 50}) as r:
        seen.append(r.granted)
        assert r.granted is not None and r.granted.output_tokens is not None
        assert r.quantity == r.granted.quantity == 60   # 20 in, 40 out
    assert seen == [Granted(60, 40)]
    assert r.committed is not None and r.committed.counters[0].used == 100, "the granted output, not the asked"
    with pytest.raises(QuotaExceeded) as denied:
        with qg.reservation(user, "llm.call", 70, {"input_tokens": 20, "output_tokens": 50}, fit="whole"):
            pass
    assert denied.value.reasons == ["limit_reached"]


def test_the_readmes_prices_section_runs_as_written(
        fresh: Dict[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    blocks = python_blocks(SDK_README, "## Prices, the catalog and fit", "## Approval requests")
    assert len(blocks) == 2
    client = "from quota_gateway import QuotaGateway\nqg = QuotaGateway()\n"   # the quick start's
    scope = run_as_written([client, *blocks], fresh, monkeypatch, caplog)
    qg: QuotaGateway = scope["qg"]
    gpt = scope["gpt"]
    assert isinstance(gpt, CatalogEntry) and scope["catalog"].version
    assert [p.model for p in qg.prices().data] == ["acme/support-ft-7"]
    [dollars_used] = qg.usage("bob").counters
    assert milli(dollars_used.used) == milli_cents(gpt, {"input_tokens": 4000, "output_tokens": 1500}, 1.2)
    assert scope["hold"].granted == Granted(5000, 3000) and scope["max_tokens"] == 3000
