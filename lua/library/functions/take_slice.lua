-- take_slice.lua: lease a slice of one of a parent's groups to a member, at the parent's level
-- (docs/decisions/0060-leased-slices.md). A lease is a reservation of the parent's, with one
-- hold, that the member's slot spends as a slice: held here, it counts against the parent's
-- quota in every decision made here, like any open hold. Statements from the member's slot
-- settle it (settle_slice.lua); one no statement settled by its backstop is counted as used
-- whole by the prelude's reclaim, which can never pass the quota.
--
-- KEYS[1..10] as in prelude.lua, the parent's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     the parent's subscription version the node decided with ("0": none)
-- ARGV[6]     the member
-- ARGV[7]     ms after which no new hold goes on the slices, at the slice life (near the limit)
-- ARGV[8]     the leases' backstop, ms, for that end (a later end moves it as far)
-- ARGV[9]     the latest the slices may end, ms: while the parent is far from its limit they
--             live longer (below)
-- ARGV[10]    n, the takes: one per group of the parent the member's reserve found short
-- ARGV[11..]  n holds (HOLD_FIELDS values each, as in holds.lua) of hard groups, each amount
--             the slice asked for
-- then        n again, and per take its TAKE: the lease's id (the member's intent named it),
--             the least worth leasing (the call that asked) and the threshold (headroom a take
--             must leave), milli-units; then the statement of the slice of the same group its
--             member's reserve closed (lease, number, used, held; each "" for none)
-- ARGV[#ARGV] the request's decision instant, ms (as holds.lua's decided_at reads it)
--
-- The closed slices' statements are applied first (statements.lua), so what they did not spend
-- is headroom again before the new slices are sized: a renewal is one script here, not a
-- settle and a take.
--
-- Returns, all or nothing as a reserve: {"stale"} when the version or a period does not match
-- Redis, {"more"} when expired holds remain to reclaim, {"refused"} when an id was settled
-- before it was taken (its intent was abandoned: nothing may be leased under it now): each
-- applies and takes nothing. {"direct", then the alerts fired} when a group's headroom left
-- after the least would be below the threshold (near the limit the member decides here, as a
-- reserve): the statements are applied, nothing is taken. Else, per take in order, {TAKEN:
-- "ok", id, amount, ends, the group's used, held and quota in force} (a repeat of a take that
-- leased answers its lease as it was taken, and the counter now), then the alerts the
-- statements fired (as alerts.lua appends them). One call takes every group a reserve found
-- short, so renewing a member's slices is one script here.

register('take_slice', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n, m = shape(KEYS, ARGV, 10, 10, HOLD_FIELDS, 1, TAKE_FIELDS, 1)
  if m ~= n then
    error({err = 'ERR qg contract: take_slice takes ' .. n .. ' holds and ' .. m .. ' leases'})
  end
  -- Take i's TAKE values are at take_at(first, i) + TAKE.<name> (takes.lua).
  local first = ARG.TAKE_SLICE.holds + 1 + n * HOLD_FIELDS

  -- 1. Ids seen before: refused when one was settled before it was taken.
  local known = {}
  for i = 1, n do
    local raw = redis.call('HGET', KEYS[KEY_RESERVATIONS], ARGV[take_at(first, i) + TAKE.ls])
    if raw then
      local record = cjson.decode(raw)
      if not record.ls or record.s ~= 'held' then
        return {'refused'}
      end
      known[i] = record
    end
  end

  -- 2. The node's assumptions checked against Redis, as a reserve's.
  local at = decided_at(ARGV[#ARGV], now)
  local holds = at and read_holds(c, ARG.TAKE_SLICE.holds + 1, n, at)
  if not holds then
    return {'stale'}
  end
  for i = 1, n do
    local h = holds[i]
    if h.m or h.b or h.ap or h.pv or h.fit then
      error({err = 'ERR qg contract: a slice is leased of a hard group only, got ' .. h.g})
    end
  end
  local version, quota_in_force = subscription(c, KEYS[KEY_SUBSCRIPTION], holds, now)
  if version ~= ARGV[ARG.TAKE_SLICE.version] then
    return {'stale'}
  end

  -- 3. Expired holds (and lapsed leases) go back first, so they never count against the take.
  if reclaim_first(c, now) then
    return {'more'}
  end
  -- The closed slices' statements, before anything is sized: what they did not spend is back.
  for i = 1, n do
    local t = take_at(first, i)
    if ARGV[t + TAKE.cl] ~= '' then
      local applied, early = apply_statement(c, ARGV[ARG.TAKE_SLICE.member], ARGV[t + TAKE.cl], ARGV[t + TAKE.n], ARGV[t + TAKE.u],
        ARGV[t + TAKE.h])
      if not applied then
        return early
      end
    end
  end

  -- 4. How long the new slices live and how much each leases (takes.lua), or direct when a
  -- group is near its limit, before anything is written.
  local counters = read_counters(c, holds)
  local ends, amounts = size_slices(c, holds, known, counters, quota_in_force, at, first)
  if not ends then
    return append_fired(c, {'direct'})
  end
  note_periods(c, holds, counters)

  -- 5. Each lease held and written (takes.lua).
  return append_fired(c, write_leases(c, holds, known, amounts, counters, quota_in_force, at, ends, first))
end)
