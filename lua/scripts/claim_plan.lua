-- claim_plan.lua: note that a user is about to be put on a plan, if the plan exists, so that
-- deleting the plan and subscribing to it can never both succeed (they meet here, in the
-- project's slot; the subscription itself lives in the user's).
--
-- KEYS[1]  the plan hash                 qg:{p}:plan:<planId>
-- KEYS[2]  the plan's claims zset        qg:{p}:claims:<planId>   user -> claim time ms
-- ARGV[1]  user id
--
-- Returns 1 when claimed, 0 when there is no such plan.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 2, 1)
local K, A = named(KEYS, {'plan', 'claims'}), named(ARGV, {'user'})

-- 1. A deleted plan cannot be claimed: the subscribe loses.
if redis.call('EXISTS', K.plan) == 0 then
  return 0
end

-- 2. Claim it at Redis time; the users index drops the claim once it counts the user.
local t = redis.call('TIME')
redis.call('ZADD', K.claims, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), A.user)
return 1
