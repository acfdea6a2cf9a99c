-- reserve.lua: hold quota in every matched group at once, all or nothing.
--
-- KEYS[1..5]  as in prelude.lua (ctr, res, open, ended, periods)
-- KEYS[6]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     subscription version the node decided with ("0": no subscription)
-- ARGV[2]     retention ms for ended records and counters
-- ARGV[3]     reservation id
-- ARGV[4]     ttl ms
-- ARGV[5]     event name
-- ARGV[6]     number of holds n, then 9 values per hold as in holds.lua
--
-- Returns {"stale"} when the version or a period does not match Redis, {"more"} when expired
-- holds remain to reclaim, else {"ok", expires ms, allowed 0|1, then per hold used, held, denied 0|1}.

-- 1. Redis time, and the node's assumptions checked against it.
local now = now_ms()
if (redis.call('HGET', KEYS[6], 'ver') or '0') ~= ARGV[1] then
  return {'stale'}
end
local holds = read_holds(7, tonumber(ARGV[6]), now)
if not holds then
  return {'stale'}
end

-- 2. Expired holds go back first, so they never count against this decision.
local retention_ms = tonumber(ARGV[2])
if reclaim(now, retention_ms) then
  return {'more'}
end

-- 3. Check every group before writing anything.
local allowed, denied = decide(holds)

-- 4. Write all holds and the reservation, or nothing.
local expires = now + tonumber(ARGV[4])
if allowed == 1 then
  for _, h in ipairs(holds) do
    add(h.f .. ':h', h.a)
    note_period(h)
  end
  local record = {s = 'held', e = ARGV[5], c = string.format('%d', now),
                  x = string.format('%d', expires), h = holds}
  redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(record))
  redis.call('ZADD', KEYS[3], expires, ARGV[3])
end

local reply = {'ok', expires, allowed}
for i, h in ipairs(holds) do
  reply[#reply + 1] = counter(h.f .. ':u')
  reply[#reply + 1] = counter(h.f .. ':h')
  reply[#reply + 1] = denied[i]
end
return reply
