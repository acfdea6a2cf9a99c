-- reserve.lua: hold quota in every matched group at once, all or nothing; given alternatives,
-- hold the first that every matched group admits, decided in this one call.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     subscription version the node decided with ("0": no subscription)
-- ARGV[6]     reservation id
-- ARGV[7]     ttl ms
-- ARGV[8]     number of holds n (every alternative's, in the order asked), then n times
--             HOLD_FIELDS values, one hold each, as in holds.lua
-- then        number of alternatives m (1 for a plain reserve, at most MAX_ALTERNATIVES), then
--             per alternative, in the order asked, how many of the holds above are its own
--             (the next that many) and its reservation's record (see prelude.lua) as the node
--             encoded it, without its opening brace and the fields only Redis knows (s, c, cr,
--             x): the event, the holds as above and p, the next level up, when there is one (a
--             parent the node reserves at next under the same id, named so commit, release and
--             extend reach it); a step's opens with its run, action and kind ("ru", "ra", "rk";
--             runs.lua), a run's has a "run" object (kept as they are: the next two arguments
--             say them to reserve); an alternative's names its index as asked ("ac") and every
--             alternative ("al"; alternatives.lua)
-- then        an attempt after the first of an original action, FALLBACK: "<chain>|<caps>" (the
--             action, the caps of its groups; fallbacks.lua), "" for any other reserve (of one
--             alternative only)
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
-- fallback would pass its share, or an attempt its chain's cap, fallbacks.lua),
-- then the alerts fired (as alerts.lua appends them), then per balance group its balance
-- (as wallet.lua's C.append_reserved answers it: its quick line's, or its wallet's C.state), then for
-- a step its run's answer (runs.lua's R.answer), then per hold that clamped (denied 6: it did
-- not fit whole and holds what was left, as its record says) what it holds}.
-- A call of several alternatives answers {FIRST: "ok", id, expires, allowed, how many
-- alternatives it weighed (t: the held one's place, or m), then the VERDICTs of the t
-- alternatives' holds, then the alerts fired, then per alternative weighed its balances, its
-- run's answer and its clamped holds, as above} (alternatives.lua's A.answer).

-- (The callback's argument places are read from ARG once, when the library loads, by the
-- function that makes it, whose locals they are: the library's own level has room for few more
-- locals, and `ARG.RESERVE.holds` read in a call costs it two table lookups each time.)
register('reserve', 'writes', (function()
  local VERSION, TTL, HOLDS = ARG.RESERVE.version, ARG.RESERVE.ttl, ARG.RESERVE.holds
  local END_STEP, END_START, END_FALLBACK = ARG.RESERVE_END.step, ARG.RESERVE_END.start, ARG.RESERVE_END.fallback
  local ALT_HOLDS, ALT_RECORD = ARG.ALTERNATIVE.holds, ARG.ALTERNATIVE.record
  return function(c)
    local KEYS, ARGV = c.KEYS, c.ARGV
    -- 0. Shape: the call's, as src/store/scripts/contract.rs declares it: its holds, then its
    -- alternatives, each its count of those holds and its record (alternatives.lua).
    local n, m = shape(KEYS, ARGV, 10, 8, HOLD_FIELDS, 1, 2, 4)
    local alt_arg = HOLDS + 1 + HOLD_FIELDS * n
    -- (A plain reserve's one count is its holds': their texts compared, no call made.)
    local count = m == 1 and ARGV[alt_arg + ALT_HOLDS] == ARGV[HOLDS] and n or A.counts(c, alt_arg, n, m)

    -- 1. Repeat: a repeat answers the first answer whatever changed since (prelude.lua).
    local first = repeated(c)
    if first then
      return first
    end

    -- 2. Check: the node's assumptions against Redis, its instant, its periods and the
    -- subscription's version (holds.lua), every alternative's before anything is read.
    local at, holds, quota_in_force = checked(c, HOLDS + 1, count, KEYS[KEY_SUBSCRIPTION], ARGV[VERSION])
    local others = at and m > 1 and A.checked(c, at, alt_arg, m)
    if not at or others == nil then
      return {'stale'}
    end

    -- 3. Read: a step's run and a run's start as the node names them (runs.lua; nil for neither), then the
    -- counters, expired holds back first (reserving.lua). 4. Decide: every group checked before anything is
    -- written (an attempt after the first of an action, its chain's caps too: fallbacks.lua), then the record's
    -- blanks filled (fits.lua); an alternative denied with another after it is kept (`passed`), the next tried.
    local step, start, tail, a, passed, reclaimed = ARGV[#ARGV - END_STEP], ARGV[#ARGV - END_START], ARGV[alt_arg + ALT_RECORD], 1, nil, false
    local chain, run, counters, admits, admitted, fired_at, open, open_before, gave, fields, reply, allowed, short = F.of(c, ARGV[#ARGV - END_FALLBACK], m)
    while true do
      run = (step ~= '' or start ~= '') and R.of(c, step, start) or nil
      counters, admits, admitted, fired_at, open, open_before, gave, fields = reserve_read(c, holds, run)
      if not counters then
        return {'more'}
      end
      reclaimed = reclaimed or gave
      reply, allowed, short = reserve_decide(c, holds, quota_in_force, counters, run, at + ARGV[TTL], chain)
      if short then
        return short
      end
      tail = holds.fits and FIT.fill(tail, holds, allowed) or tail
      if allowed == 1 or a == m then
        break
      end
      passed = passed or {}
      passed[a], a = {holds, quota_in_force, counters, reply, run, tail, fired_at}, a + 1
      holds, quota_in_force, tail = others[a][1], others[a][2], ARGV[A.at(alt_arg, a) + ALT_RECORD]
    end

    -- 5. Write: all holds and the reservation (with the denials of the alternatives before it),
    -- or the denial's alerts, requests and counts; the passed alternatives' as a denial's.
    if allowed == 1 then
      local overflow, drawn, alerting = admit_counters(c, holds, reply, run, counters, fields, open, open_before, admits, admitted)
      if overflow then
        return {'overflow', overflow}
      end
      admit_record(c, holds, passed and A.denied(c, passed, tail) or tail, at, reply[RESERVED.expires], drawn, chain)
      if alerting then
        admit_alerts(c, holds, quota_in_force, counters, reply, fired_at)
      end
    else
      reserve_deny(c, {holds = holds, quota_in_force = quota_in_force, counters = counters, fired_at = fired_at,
        open = open, open_before = open_before, reply = reply, tail = tail, at = at, passed = passed, run = run})
    end
    -- Reserves prune only when they gave expired holds back: commits, releases and tracks prune
    -- always, so the common admit stays cheap and ended records still go.
    if reclaimed then
      prune(c, c.now)
    end
    -- 6. Answer: kept for repeats, denials included.
    if m > 1 then
      return A.answer(c, passed, holds, reply, run, at)
    end
    return reserve_answer(c, holds, reply, run, at)
  end
end)())
