-- usage.lua: read counters as though expired holds were reclaimed. Never writes.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- ARGV        counter fields, one per group (<group>@<periodStart>)
--
-- Returns {now ms, then per field used, held}.

local reply = {now}
for _, field in ipairs(ARGV) do
  reply[#reply + 1] = counter(field .. ':u')
  reply[#reply + 1] = counter(field .. ':h')
end
return reply
