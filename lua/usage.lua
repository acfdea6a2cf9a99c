-- usage.lua: read counters as though expired holds were reclaimed. Never writes.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- KEYS[4]     the subscription hash        qg:{p:u}:sub
-- ARGV        pairs of counter field (<group>@<periodStart>) and plan quota milli, one per group
--
-- Returns {now ms, then per field used, held, quota}.

local groups = {}
for i = 1, #ARGV, 2 do
  groups[#groups + 1] = {g = string.match(ARGV[i], '^(.-)@'), f = ARGV[i], q = ARGV[i + 1]}
end
return append_counters({now}, groups, quotas(KEYS[4], groups, now))
