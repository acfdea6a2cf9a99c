-- put_plan.lua: store a plan document and bump its version when it changed.
--
-- KEYS[1]  the plan hash                 qg:{p}:plan:<planId>   doc, ver
-- KEYS[2]  the project's plan ids set    qg:{p}:plans
-- ARGV[1]  plan id
-- ARGV[2]  the validated plan JSON, without its version
--
-- Returns the plan's version.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 2, 2)
local K, A = named(KEYS, {'plan', 'plans'}), named(ARGV, {'plan', 'doc'})

-- 1. An unchanged document keeps its version.
local cur = redis.call('HMGET', K.plan, 'doc', 'ver')
if cur[1] == A.doc then
  return tonumber(cur[2])
end

-- 2. Store the new document under the next version.
redis.call('HSET', K.plan, 'doc', A.doc)
redis.call('SADD', K.plans, A.plan)
return redis.call('HINCRBY', K.plan, 'ver', 1)
