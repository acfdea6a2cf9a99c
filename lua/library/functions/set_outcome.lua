-- set_outcome.lua: what a committed call's output came to, said after its commit (an output is
-- often judged later: a user keeps an image or asks again). Counted where the commit counted,
-- in the counters of the reservation's periods and the rollups of its commit's day; said again
-- it changes nothing, and a changed judgement moves the count from the word said before
-- (outcomes.lua), so every call is counted under one outcome at most.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, "" (no Idempotency-Key: said twice is the same),
--             "", ledger keep)
-- ARGV[5]     reservation id
-- ARGV[6]     the outcome, [a-z0-9_.-]{1,32}
-- ARGV[7]     the id of the key that made the call ("" for none)
-- ARGV[8]     the member whose call it was, at a parent's level ("" at the member's own)
--
-- Returns {"more"}, {"not_found"}, {"conflict", state} when the reservation is not committed
-- (held, released or expired), {"judged"} when its outcome was changed MAX_OUTCOME_CHANGES
-- times already (each change writes a ledger entry: their number is bounded), else {"ok", the outcome said before ("" for none), the record
-- JSON as it now is; then the notes it wrote for ancestors, as alerts.lua's append_fired}.

register('set_outcome', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 8)

  -- 1. Expired holds go back first (a reservation whose time is up is expired, not held).
  local record, state, raw = find_reservation(c, ARGV[ARG.SET_OUTCOME.id], now)
  if not record then
    return raw
  end
  if state ~= 'committed' then
    return {'conflict', state}
  end
  local word, previous = ARGV[ARG.SET_OUTCOME.outcome], record.o
  if previous == word then
    return append_fired(c, {'ok', previous, raw})
  end
  -- How often one call's outcome may change once said: a person may change their mind, a loop
  -- may not write a ledger entry a call for ever.
  local MAX_OUTCOME_CHANGES = 8
  local changes = (record.oc or 0) + 0
  if previous and changes >= MAX_OUTCOME_CHANGES then
    return {'judged'}
  end

  -- 2. The count moves in the periods and on the day the commit counted in.
  local counted_at = record.t + 0
  local counters, ends, groups = outcome_holds(record.h, record.sl)
  count_outcome(c, counters, ends, groups, counted_at, word, previous, record.om or model_of(record.md))
  record.o = word
  if previous then
    record.oc = string.format('%d', changes + 1)
  end
  local text = cjson.encode(record)
  redis.call('HSET', KEYS[KEY_RESERVATIONS], ARGV[ARG.SET_OUTCOME.id], text)

  -- 3. The ledger says so (no usage: its groups' amounts are 0), at this level and, for holds
  -- on slices, at their ancestors', where append_ledger.lua counts it in their counters.
  if ARGV[ARG.WRITING.keep] ~= '' then
    local fields = {'kind', 'outcome', 'ref', ARGV[ARG.SET_OUTCOME.id], 'event', record.e, 'metadata', record.md or '',
      'at', record.c, 'counted', record.t, 'outcome', word}
    if previous then
      fields[#fields + 1], fields[#fields + 2] = 'previous', previous
    end
    if record.ru then
      R.named(c, fields, record.ru, record.ra, record.rk)
    end
    local function none(_, h)
      return h.k ~= 'c' and '0' or nil
    end
    ancestor_ledgers(c, record, none, attributed({unpack(fields)}, ARGV[ARG.SET_OUTCOME.key], ''))
    ledger(c, now, record.h, function(i, h)
      return not (record.sl and record.sl[tostring(i)]) and none(i, h) or nil
    end, attributed(fields, ARGV[ARG.SET_OUTCOME.key], ARGV[ARG.SET_OUTCOME.member]))
  end
  return append_fired(c, {'ok', previous or '', text})
end)
