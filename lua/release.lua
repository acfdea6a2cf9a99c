-- release.lua: give a reservation's holds back, exactly once.
--
-- KEYS[1..7]  as in prelude.lua
-- ARGV[1..3]  as in prelude.lua (retention, "", "": release needs no Idempotency-Key)
-- ARGV[4]     reservation id
--
-- Returns {"more"} when expired holds remain to reclaim, {"not_found"}, {"conflict", state}
-- when the reservation was committed, else {"ok", "released"|"expired", record JSON, then per
-- hold used, held, quota}.

-- 1. Expired holds go back, then the reservation decides by its state.
local now = now_ms()
local record, state, raw = find_reservation(ARGV[4], now)
if not record then
  return raw
end
if state == 'committed' then
  return {'conflict', 'committed'}
end
if state ~= 'held' then
  -- Released before, or expired: the holds are already back.
  return append_counters({'ok', state, raw}, record.h, KEYS[6], now)
end

-- 2. Give every hold back.
move_counters(record.h, ':h', function(_, h) return -tonumber(h.a) end)
finish(ARGV[4], record, 'released', now)
return append_counters({'ok', 'released', cjson.encode(record)}, record.h, KEYS[6], now)
