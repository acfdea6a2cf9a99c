-- commit.lua: turn a reservation into usage, exactly once. A commit never denies.
--
-- KEYS[1..5]  as in prelude.lua (ctr, res, open, ended, periods)
-- ARGV[1]     retention ms
-- ARGV[2]     reservation id
-- ARGV[3]     "" to commit what was reserved, or the number of holds n,
--             then ARGV[4..3+n] the actual milli-units per hold, in the record's order
--
-- Returns {"more"} when expired holds remain to reclaim, {"not_found"}, {"conflict", state}
-- when the reservation was released, {"mismatch"} when n is not the record's hold count,
-- else {"ok", late 0|1, record JSON, then per hold used, held}.

-- 1. Expired holds go back first; that also marks this reservation expired if its time is up.
local now = now_ms()
local retention_ms = tonumber(ARGV[1])
if reclaim(now, retention_ms) then
  return {'more'}
end

-- 2. Find the reservation and decide by its state.
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then
  return {'not_found'}
end
local record = cjson.decode(raw)
if record.s == 'released' then
  return {'conflict', 'released'}
end
if record.s == 'committed' then
  -- A repeat answers the first answer.
  return append_counters({'ok', record.l == '1' and 1 or 0, raw}, record.h)
end
if ARGV[3] ~= '' and tonumber(ARGV[3]) ~= #record.h then
  return {'mismatch'}
end

-- 3. Count the actual amounts into the reservation's own periods. A late commit (the hold
-- already expired and went back) still counts: the AI call happened. In-flight limits only
-- give their slot back.
local late = record.s == 'expired'
for i, h in ipairs(record.h) do
  h.n = ARGV[3] ~= '' and ARGV[3 + i] or h.a
  if not late then
    add(h.f .. ':h', negate(h.a))
  end
  if h.k ~= 'c' then
    add(h.f .. ':u', h.n)
    note_period(h)
  end
end
record.l = late and '1' or '0'
finish(ARGV[2], record, 'committed', now, retention_ms)
return append_counters({'ok', late and 1 or 0, cjson.encode(record)}, record.h)
