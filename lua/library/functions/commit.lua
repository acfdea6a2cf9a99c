-- commit.lua: turn a reservation into usage, exactly once. A commit never denies.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     reservation id
-- ARGV[6]     "" to commit what was reserved, or the number of holds n,
--             then ARGV[7..6+n] the actual milli-units per hold, in the record's order
-- then        for the ledger: the commit's metadata as JSON ("" when it gave none: the
--             reservation's own, if any, is written), its quantity in milli-units ("": the
--             quantity reserved is written), the id of the key that made the call, the
--             member whose event it was ("" at the member's own level), whether the
--             member's level committed late ("1", "0"; "" at the member's own level), and
--             the call's outcome ("" when it said none; outcomes.lua)
--
-- Returns {"repeat", first reply JSON}, {"reused"}, {"more"}, {"not_found"}, {"conflict", state}
-- when the reservation was released, {"mismatch"} when n is not the record's hold count,
-- {"overflow", group} when a counter would pass 2^53 - 1 milli-units (nothing changes),
-- else {COMMITTED: "ok", late 0|1, record JSON; then per hold its COUNTER: used, held, quota;
-- then the alerts fired (as alerts.lua appends them), then per balance group its balance
-- (wallet.lua's C.append)}.

register('commit', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 6, 1, 6)

  -- 1. A repeat of this Idempotency-Key answers the first answer (`now` is Redis time, read
  -- once for the call: head.lua).
  local first = repeated(c)
  if first then
    return first
  end

  -- 2. Expired holds go back, then the reservation decides by its state.
  local record, state, raw = find_reservation(c, ARGV[ARG.COMMIT.id], now)
  if not record then
    return raw
  end
  if state == 'released' then
    return {'conflict', 'released'}
  end
  if state == 'committed' then
    -- A repeat answers the first answer.
    local reply = append_fired(c, append_counters(c, commit_head(record.l == '1' and 1 or 0, raw), record.h, quotas(c, KEYS[KEY_SUBSCRIPTION], record.h, now)))
    return record.w and C.append(c, reply, record.h, record.w, now) or reply
  end
  if ARGV[ARG.COMMIT.holds] ~= '' and tonumber(ARGV[ARG.COMMIT.holds]) ~= #record.h then
    return {'mismatch'}
  end
  if record.run and state == 'expired' then
    -- A run closed itself at its expiry (the prelude's reclaim committed what its steps used):
    -- its close answers it as it is.
    local reply = append_fired(c, append_counters(c, commit_head(1, raw), record.h, quotas(c, KEYS[KEY_SUBSCRIPTION], record.h, now)))
    return record.w and C.append(c, reply, record.h, record.w, now) or reply
  end

  -- 3. The amounts it counts, into the reservation's own periods (committing.lua). A late
  -- commit (the hold already expired and went back) still counts: the AI call happened.
  -- In-flight limits only give their slot back. Nothing is written before the checks that
  -- may refuse it: a balance's debt, then usage.
  local held, l, late, drawn, live = commit_amounts(c, record, state)
  local over = commit_past_exact(c, record, drawn, live)
  if over then
    return {'overflow', over}
  end
  local quota_in_force, counters
  over, quota_in_force, counters = commit_counters(c, record, held, drawn, live)
  if over then
    return {'overflow', over}
  end
  if record.fc then
    F.committed(c, record)
  end
  -- (Only a record that held credits or drew from a run can burn any: most call nothing here.)
  local burned = (record.w or record.ru) and commit_burns(c, record, drawn, live, held) or nil

  -- 4. The record ends committed, with its outcome; then its ledger entry, in the same step.
  record.l = late and '1' or '0'
  if record.run then
    R.finish(c, ARGV[ARG.COMMIT.id], record)
  end
  local outcome, model = commit_outcome(c, record, l)
  local text = finish(c, ARGV[ARG.COMMIT.id], record, 'committed', now)
  commit_ledger(c, record, late, l, outcome, model, burned)

  -- 5. The answer: the record as it ended, the counters, the alerts and the balances. The
  -- counters are as commit_counters wrote them, but for a run's or a step's, which its run's
  -- settling may have moved since: those are read again.
  local reply = commit_head(late and 1 or 0, text)
  append_fired(c, append_counters(c, reply, record.h, quota_in_force, not (record.run or record.ru) and counters or nil))
  if record.w then
    C.append(c, reply, record.h, record.w, now)
  end
  return remember(c, reply, now)
end)
