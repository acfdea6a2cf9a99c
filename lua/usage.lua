-- usage.lua: read counters as though expired holds were reclaimed. Never writes.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- KEYS[4]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     number of groups n, then n pairs: counter field (<group>@<periodStart>) and plan
--             quota milli
--
-- Returns {"more"} when more expired holds are due than one call reads (the node has them
-- reclaimed and asks again), else {"ok", now ms, then per field COUNTER_FIELDS values: used,
-- held, quota}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
local n = shape(4, 1, 2)

-- 1. Expired holds are left out by hand, while there are few enough to read in one call.
if read_expired() then
  return {'more'}
end

-- 2. Every group's counter as it stands, with the quota in force.
local groups = {}
for i = 1, n do
  local f = ARGV[2 * i]
  groups[i] = {g = string.match(f, '^(.-)@'), f = f, q = ARGV[2 * i + 1]}
end
return append_counters({'ok', now}, groups, quotas(KEYS[4], groups, now))
