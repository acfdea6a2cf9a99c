-- delete_plan.lua: delete a plan no user is on.
--
-- KEYS[1]  the plan hash                 qg:{p}:plan:<planId>
-- KEYS[2]  the project's plan ids set    qg:{p}:plans
-- KEYS[3]  users per plan hash           qg:{p}:plan_users
-- ARGV[1]  plan id
--
-- Returns {"not_found"}, {"in_use", users}, or {"ok"}.

-- 1. Refuse while users are on it.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_found'}
end
local users = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if users > 0 then
  return {'in_use', users}
end

-- 2. Delete it.
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return {'ok'}
