-- release.lua: give a reservation's holds back, exactly once.
--
-- KEYS[1..5]  as in prelude.lua (ctr, res, open, ended, periods)
-- ARGV[1]     retention ms
-- ARGV[2]     reservation id
--
-- Returns {"more"} when expired holds remain to reclaim, {"not_found"}, {"conflict", state}
-- when the reservation was committed, else {"ok", "released"|"expired", record JSON, then per hold used, held}.

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
if record.s == 'committed' then
  return {'conflict', 'committed'}
end
if record.s ~= 'held' then
  -- Released before, or expired: the holds are already back.
  return append_counters({'ok', record.s, raw}, record.h)
end

-- 3. Give every hold back.
for _, h in ipairs(record.h) do
  add(h.f .. ':h', negate(h.a))
end
finish(ARGV[2], record, 'released', now, retention_ms)
return append_counters({'ok', 'released', cjson.encode(record)}, record.h)
