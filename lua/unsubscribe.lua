-- unsubscribe.lua: end a user's subscription. The user falls back to the project's default
-- plan; the plan is remembered as lastPlan so plan-change rules still apply on return.
-- Blocking outlives a cancel; membership of a parent ends with the subscription.
--
-- KEYS[1]  the subscription hash         qg:{p:u}:sub
--
-- Returns {"ok", then the subscription hash as field, value, ...}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(1)

-- 1. Nothing to end: answer as it is.
local plan = redis.call('HGET', KEYS[1], 'plan')
if not plan then
  return {'ok', unpack(redis.call('HGETALL', KEYS[1]))}
end

-- 2. Remember the plan, drop the plan, its anchor and overrides, under a new version.
local fields = redis.call('HKEYS', KEYS[1])
local gone = {'plan', 'startedAt', 'parent'}
for _, field in ipairs(fields) do
  if string.sub(field, 1, 3) == 'ov:' then
    gone[#gone + 1] = field
  end
end
redis.call('HDEL', KEYS[1], unpack(gone))
redis.call('HSET', KEYS[1], 'lastPlan', plan)
redis.call('HINCRBY', KEYS[1], 'ver', 1)
return {'ok', unpack(redis.call('HGETALL', KEYS[1]))}
