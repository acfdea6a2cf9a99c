-- delete_plan.lua: delete a plan no user is on.
--
-- KEYS[1]  the plan hash                 qg:{p}:plan:<planId>
-- KEYS[2]  the project's plan ids set    qg:{p}:plans
-- KEYS[3]  users per plan hash           qg:{p}:plan_users
-- KEYS[4]  the plan's claims zset        qg:{p}:claims:<planId>
-- ARGV[1]  plan id
-- ARGV[2]  how long a claim stands, ms (a subscribe that claimed and never finished)
--
-- Returns {"not_found"}, {"in_use", users}, or {"ok"}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 4, 2)
local K, A = named(KEYS, {'plan', 'plans', 'plan_users', 'claims'}), named(ARGV, {'plan', 'claim_ms'})

-- 1. Refuse while users are on it, or are being put on it (claims younger than ARGV[2]).
if redis.call('EXISTS', K.plan) == 0 then
  return {'not_found'}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', K.claims, '-inf', now - tonumber(A.claim_ms))
local users = tonumber(redis.call('HGET', K.plan_users, A.plan) or '0') + redis.call('ZCARD', K.claims)
if users > 0 then
  return {'in_use', users}
end

-- 2. Delete it: from here on no subscribe can claim it.
redis.call('DEL', K.plan, K.claims)
redis.call('SREM', K.plans, A.plan)
return {'ok'}
