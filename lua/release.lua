-- release.lua: give a reservation's holds back, exactly once.
--
-- KEYS[1..7]  as in prelude.lua
-- ARGV[1..3]  as in prelude.lua (retention, "", "": release needs no Idempotency-Key)
-- ARGV[4]     reservation id
--
-- Returns {"more"} when expired holds remain to reclaim, {"not_found"}, {"conflict", state}
-- when the reservation was committed, else {"ok", "released"|"expired", record JSON, then per
-- hold used, held, quota}.

-- 1. Expired holds go back first; that also marks this reservation expired if its time is up.
local now = now_ms()
if reclaim(now) then
  return {'more'}
end
prune(now)

-- 2. Find the reservation and decide by its state.
local raw = redis.call('HGET', KEYS[2], ARGV[4])
if not raw then
  return {'not_found'}
end
local record = cjson.decode(raw)
local state = state_of(ARGV[4], record)
if state == 'committed' then
  return {'conflict', 'committed'}
end
if state ~= 'held' then
  -- Released before, or expired: the holds are already back.
  return append_counters({'ok', state, raw}, record.h, KEYS[6], now)
end

-- 3. Give every hold back.
move_counters(record.h, ':h', function(_, h) return -tonumber(h.a) end)
finish(ARGV[4], record, 'released', now)
return append_counters({'ok', 'released', cjson.encode(record)}, record.h, KEYS[6], now)
