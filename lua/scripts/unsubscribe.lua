-- unsubscribe.lua: end a user's subscription. The user falls back to the project's default
-- plan; the plan is remembered as lastPlan so plan-change rules still apply on return.
-- Blocking outlives a cancel; membership of a parent ends with the subscription.
--
-- KEYS[1]  the subscription hash         qg:{p:u}:sub
--
-- Returns {"ok", then the subscription hash as field, value, ...} (as Redis made it: unpack
-- stops near 8,000 values).

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1)
local K = named(KEYS, {'sub'})

-- 1. Nothing to end: answer as it is.
local plan = redis.call('HGET', K.sub, 'plan')
if not plan then
  local answer = redis.call('HGETALL', K.sub)
  table.insert(answer, 1, 'ok')
  return answer
end

-- 2. Remember the plan, drop the plan, its anchor and overrides, under a new version.
local fields = redis.call('HKEYS', K.sub)
local gone = {'plan', 'startedAt', 'parent'}
for _, field in ipairs(fields) do
  if string.sub(field, 1, 3) == 'ov:' then
    gone[#gone + 1] = field
  end
end
-- (A thousand at a time: unpack stops near 8,000 values.)
for from = 1, #gone, 1000 do
  redis.call('HDEL', K.sub, unpack(gone, from, math.min(from + 999, #gone)))
end
redis.call('HSET', K.sub, 'lastPlan', plan)
redis.call('HINCRBY', K.sub, 'ver', 1)
local answer = redis.call('HGETALL', K.sub)
table.insert(answer, 1, 'ok')
return answer
