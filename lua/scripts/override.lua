-- override.lua: set or remove one per-user quota override.
--
-- KEYS[1]  the subscription hash         qg:{p:u}:sub
-- ARGV[1]  group id
-- ARGV[2]  "<quota milli>|<expires ms or empty>", or "" to remove the override
--
-- Returns {"limit"} when the override is new and the user has MAX_OVERRIDES (1000) already
-- (nothing written), else {"ok", then the subscription hash as field, value, ...}: returned
-- as Redis made it, never through unpack, which stops near 8,000 values.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 2)
local K, A = named(KEYS, {'sub'}), named(ARGV, {'group', 'override'})

-- 1. An unchanged override keeps the version.
local field = 'ov:' .. A.group
local cur = redis.call('HGET', K.sub, field) or ''
if cur == A.override then
  local answer = redis.call('HGETALL', K.sub)
  table.insert(answer, 1, 'ok')
  return answer
end

-- 2. A new override needs room (override_room.lua).
if cur == '' and A.override ~= '' and not override_room(K.sub) then
  return {'limit'}
end

-- 3. Write it under a new version.
if A.override == '' then
  redis.call('HDEL', K.sub, field)
else
  redis.call('HSET', K.sub, field, A.override)
end
redis.call('HINCRBY', K.sub, 'ver', 1)
local answer = redis.call('HGETALL', K.sub)
table.insert(answer, 1, 'ok')
return answer
