-- reserve.lua: hold quota in every matched group at once, all or nothing.
--
-- KEYS[1..4]  as in prelude.lua (ctr, res, open, ended)
-- KEYS[5]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     subscription version the node decided with ("0": no subscription)
-- ARGV[2]     retention ms for ended records
-- ARGV[3]     reservation id
-- ARGV[4]     ttl ms
-- ARGV[5]     event name
-- ARGV[6]     number of holds n, then 7 values per hold:
--             group id, counter field, period start ms, period end ms ("" for lifetime),
--             amount milli, quota milli, mode (hard|soft)
--
-- Returns {"stale"} when the version or a period does not match Redis, {"more"} when expired
-- holds remain to reclaim, else {"ok", allowed 0|1, expires ms, then per hold used, held, denied 0|1}.

-- 1. Redis time, and the node's assumptions checked against it.
local now = now_ms()
local version = redis.call('HGET', KEYS[5], 'ver') or '0'
if version ~= ARGV[1] then
  return {'stale'}
end
local n = tonumber(ARGV[6])
local holds = {}
for i = 0, n - 1 do
  local at = 7 + i * 7
  local h = {g = ARGV[at], f = ARGV[at + 1], ps = ARGV[at + 2], pe = ARGV[at + 3],
             a = ARGV[at + 4], q = ARGV[at + 5], m = ARGV[at + 6]}
  -- A node with a skewed clock may hand a period that has ended: refuse rather than count twice.
  if tonumber(h.ps) > now or (h.pe ~= '' and tonumber(h.pe) <= now) then
    return {'stale'}
  end
  holds[#holds + 1] = h
end

-- 2. Expired holds go back first, so they never count against this decision.
local retention_ms = tonumber(ARGV[2])
if reclaim(now, retention_ms) then
  return {'more'}
end

-- 3. Check every group before writing anything.
local allowed = 1
local denied = {}
for i, h in ipairs(holds) do
  local quota = tonumber(h.q)
  local count = counter(h.f .. ':u') + counter(h.f .. ':h')
  denied[i] = 0
  if h.m == 'hard' and (quota == 0 or count + tonumber(h.a) > quota) then
    denied[i] = 1
    allowed = 0
  end
end

-- 4. Write all holds and the reservation, or nothing.
local expires = now + tonumber(ARGV[4])
if allowed == 1 then
  for _, h in ipairs(holds) do
    add(h.f .. ':h', h.a)
  end
  local record = {s = 'held', e = ARGV[5], c = string.format('%d', now),
                  x = string.format('%d', expires), h = holds}
  redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(record))
  redis.call('ZADD', KEYS[3], expires, ARGV[3])
end

local reply = {'ok', allowed, expires}
for i, h in ipairs(holds) do
  reply[#reply + 1] = counter(h.f .. ':u')
  reply[#reply + 1] = counter(h.f .. ':h')
  reply[#reply + 1] = denied[i]
end
return reply
