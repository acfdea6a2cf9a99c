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
local K, A = named(KEYS, {'sub'}), named(ARGV, {'status', 'reason'})

-- 1. An unchanged status keeps its version.
local cur = redis.call('HMGET', K.sub, 'status', 'reason')
if (cur[1] or 'active') == A.status and (cur[2] or '') == A.reason then
  local answer = redis.call('HGETALL', K.sub)
  table.insert(answer, 1, 'ok')
  return answer
end

-- 2. Write it under a new version, so every node's cached subscription turns stale.
redis.call('HSET', K.sub, 'status', A.status, 'reason', A.reason)
redis.call('HINCRBY', K.sub, 'ver', 1)
local answer = redis.call('HGETALL', K.sub)
table.insert(answer, 1, 'ok')
return answer
