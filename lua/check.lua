-- check.lua: answer what reserve would, changing nothing.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- KEYS[4]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     subscription version the node decided with ("0": no subscription)
-- ARGV[2]     number of holds n, then 7 values per hold as in holds.lua
--
-- Returns {"stale"}, else {"ok", allowed 0|1, then per hold used, held, quota, denied 0|1}.

-- 1. The node's assumptions checked against Redis: its periods and the subscription version.
local holds = read_holds(3, tonumber(ARGV[2]), now)
if not holds then
  return {'stale'}
end
local version, quota_in_force = subscription(KEYS[4], holds, now)
if version ~= ARGV[1] then
  return {'stale'}
end

-- 2. Decide as reserve would, with expired holds left out.
local reply = {'ok', 0}
reply[2] = weigh(holds, quota_in_force, read_counters(holds), reply)
return reply
