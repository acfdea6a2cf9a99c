-- track.lua: count usage that already happened, without checking any quota. Never denies.
--
-- KEYS[1..7]  as in prelude.lua
-- ARGV[1..3]  as in prelude.lua (retention, idempotency field, body digest)
-- ARGV[4]     subscription version the node decided with ("0": no subscription)
-- ARGV[5]     number of holds n, then 9 values per hold as in holds.lua (no in-flight groups)
-- KEYS[8]     the user's usage ledger stream   qg:{p:u}:ledger
-- then        the ledger: how long it keeps entries, ms ("" when the project keeps none), the
--             event name, its metadata as JSON, and its quantity in milli-units
--
-- Returns {"repeat", first reply JSON}, {"reused"}, {"stale"}, {"more"}, {"overflow", group}
-- when a counter would pass 2^53 - 1 milli-units (nothing is counted), else {"ok", then per
-- hold used, held, quota}.

-- 1. Redis time; a repeat answers the first answer and counts nothing.
local now = now_ms()
local first = repeated()
if first then
  return first
end

-- 2. The node's assumptions checked against Redis: its periods and the subscription version.
local holds = read_holds(6, tonumber(ARGV[5]), now)
if not holds then
  return {'stale'}
end
if subscription(KEYS[6], {}, now) ~= ARGV[4] then
  return {'stale'}
end

-- 3. Expired holds go back first, so the answer's counters are current.
if reclaim(now) then
  return {'more'}
end

-- 4. Count every group, or none when one would pass what a counter holds exactly.
local over = move_counters(holds, ':u', function(_, h) return tonumber(h.a) end)
if over then
  return {'overflow', over}
end

-- 5. The ledger entry, in the same step as the counters.
local l = 6 + 9 * tonumber(ARGV[5])
ledger(KEYS[8], ARGV[l], now, {'kind', 'track', 'ref', ARGV[2], 'event', ARGV[l + 1], 'metadata', ARGV[l + 2],
  'quantity', ARGV[l + 3], 'groups', ledger_groups(holds, function(_, h) return h.a end)})
prune(now)
return remember(append_counters({'ok'}, holds, KEYS[6], now), now)
