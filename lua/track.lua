-- track.lua: count usage that already happened, without checking any quota. Never denies.
--
-- KEYS[1..5]  as in prelude.lua (ctr, res, open, ended, periods)
-- KEYS[6]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     subscription version the node decided with ("0": no subscription)
-- ARGV[2]     retention ms
-- ARGV[3]     number of holds n, then 9 values per hold as in holds.lua (no in-flight groups)
--
-- Returns {"stale"}, {"more"}, else {"ok", then per hold used, held}.

-- 1. Redis time, and the node's assumptions checked against it.
local now = now_ms()
if (redis.call('HGET', KEYS[6], 'ver') or '0') ~= ARGV[1] then
  return {'stale'}
end
local holds = read_holds(4, tonumber(ARGV[3]), now)
if not holds then
  return {'stale'}
end

-- 2. Expired holds go back first, so the answer's counters are current.
if reclaim(now, tonumber(ARGV[2])) then
  return {'more'}
end

-- 3. Count every group.
for _, h in ipairs(holds) do
  add(h.f .. ':u', h.a)
  note_period(h)
end
return append_counters({'ok'}, holds)
