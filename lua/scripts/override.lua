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

-- 1. An unchanged override keeps the version.
local field = 'ov:' .. ARGV[1]
local cur = redis.call('HGET', KEYS[1], field) or ''
if cur == ARGV[2] then
  local answer = redis.call('HGETALL', KEYS[1])
  table.insert(answer, 1, 'ok')
  return answer
end

-- 2. A new override needs room (override_room.lua).
if cur == '' and ARGV[2] ~= '' and not override_room(KEYS[1]) then
  return {'limit'}
end

-- 3. Write it under a new version.
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], field)
else
  redis.call('HSET', KEYS[1], field, ARGV[2])
end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
local answer = redis.call('HGETALL', KEYS[1])
table.insert(answer, 1, 'ok')
return answer
