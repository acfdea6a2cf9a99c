-- reserve.lua: hold quota in every matched group at once, all or nothing.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     subscription version the node decided with ("0": no subscription)
-- ARGV[6]     reservation id
-- ARGV[7]     ttl ms
-- ARGV[8]     number of holds n, then n times HOLD_FIELDS values, one hold each, as in holds.lua
-- then        the reservation's record (see prelude.lua) as the node encoded it, without its
--             opening brace and the fields only Redis knows (s, c, cr, x): the event, the holds as
--             above and p, the next level up, when there is one (a parent the node reserves at
--             next under the same id, named so commit, release and extend reach it); a
--             step's opens with its run, action and kind ("ru", "ra", "rk"; runs.lua), a run's
--             has a "run" object (kept as they are: the next two arguments say them to reserve)
-- then        a step's run, RUN_STEP: "<run id>|<action id>|<kind>", "" for a reserve that is no
--             step (runs.lua; a child run's start is a step too)
-- then        a run's start: its LIMITS as its record's "run" object keeps them, "" for none
-- last        the request's decision instant, ms (see holds.lua): its periods must contain it,
--             and the holds expire ttl after it
--
-- Returns {"repeat", first reply JSON} or {"reused"} for an Idempotency-Key seen before,
-- {"stale"} when the version or a period does not match Redis, {"more"} when expired holds
-- remain to reclaim, {"overflow", group} when a held counter would pass 2^53 - 1 milli-units
-- (only soft groups can come near it; nothing is written), else {"ok", reservation id,
-- expires ms, allowed 0|1 (RESERVED), then per hold its VERDICT: used, held, quota, denied 0|1
-- (2: an approval group whose request is pending; 3: a per-value group with no room for one
-- more value; a step's hold drawn from its run, 4: the run's budget has no room, 5: a
-- fallback would pass its share),
-- then the alerts fired (as alerts.lua appends them), then per balance group its balance
-- (as wallet.lua's C.append_reserved answers it: its quick line's, or its wallet's C.state), then for
-- a step its run's answer (runs.lua's R.answer), then per hold that clamped (denied 6: it did
-- not fit whole and holds what was left, as its record says) what it holds}.

register('reserve', 'writes', function(c)
  local KEYS, ARGV = c.KEYS, c.ARGV
  -- 0. Shape: the call's, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 10, 8, HOLD_FIELDS, 4)
  local record_arg = 9 + HOLD_FIELDS * n

  -- 1. Repeat: a repeat answers the first answer whatever changed since (prelude.lua).
  local first = repeated(c)
  if first then
    return first
  end

  -- 2. Check: the node's assumptions against Redis, its instant, its periods and the
  -- subscription's version (holds.lua).
  local at, holds, quota_in_force = checked(c, 9, n, KEYS[KEY_SUBSCRIPTION], ARGV[5])
  if not at then
    return {'stale'}
  end

  -- 3. Read: a step's run and a run's start as the node names them (runs.lua; nil for a
  -- reserve that is neither), then the counters, expired holds back first (reserving.lua).
  local step, start = ARGV[record_arg + 1], ARGV[record_arg + 2]
  local run = (step ~= '' or start ~= '') and R.of(c, step, start) or nil
  local counters, admits, admitted, fired_at, open, open_before, reclaimed = reserve_read(c, holds, run)
  if not counters then
    return {'more'}
  end

  -- 4. Decide: every group checked before anything is written.
  local reply, allowed, short = reserve_decide(c, holds, quota_in_force, counters, run, at + ARGV[7])
  if short then
    return short
  end

  -- 5. Write: all holds and the reservation, or the denial's alerts, requests and counts.
  if allowed == 1 then
    local tail = holds.clamped and record_clamped(ARGV[record_arg], holds, reply) or ARGV[record_arg]
    local overflow, drawn, alerting = admit_counters(c, holds, counters, reply, run, open, open_before, admits,
      admitted)
    if overflow then
      return {'overflow', overflow}
    end
    admit_record(c, holds, tail, at, reply[RESERVED.expires], drawn)
    if alerting then
      admit_alerts(c, holds, quota_in_force, counters, reply, fired_at)
    end
  else
    reserve_deny(c, holds, quota_in_force, counters, reply, ARGV[record_arg], at, fired_at, open, open_before)
  end
  -- Reserves prune only when they gave expired holds back: commits, releases and tracks prune
  -- always, so the common admit stays cheap and ended records still go.
  if reclaimed then
    prune(c, c.now)
  end

  -- 6. Answer: kept for repeats, denials included.
  return reserve_answer(c, holds, reply, run, at)
end)
