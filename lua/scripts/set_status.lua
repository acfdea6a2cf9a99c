-- set_status.lua: block a user (with a reason) or unblock them. Any user can be blocked,
-- with or without a subscription of their own.
--
-- KEYS[1]  the subscription hash         qg:{p:u}:sub
-- ARGV[1]  "active" or "blocked"
-- ARGV[2]  reason ("" when unblocking)
--
-- Returns {"ok", then the subscription hash as field, value, ...} (as Redis made it: unpack
-- stops near 8,000 values).

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 2)

-- 1. An unchanged status keeps its version.
local cur = redis.call('HMGET', KEYS[1], 'status', 'reason')
if (cur[1] or 'active') == ARGV[1] and (cur[2] or '') == ARGV[2] then
  local answer = redis.call('HGETALL', KEYS[1])
  table.insert(answer, 1, 'ok')
  return answer
end

-- 2. Write it under a new version, so every node's cached subscription turns stale.
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'reason', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'ver', 1)
local answer = redis.call('HGETALL', KEYS[1])
table.insert(answer, 1, 'ok')
return answer
