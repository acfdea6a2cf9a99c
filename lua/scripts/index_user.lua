-- index_user.lua: keep a project's users index in step with one subscription. Calls may arrive
-- out of order; the subscription version orders them, so the index ends at the newest state.
--
-- KEYS[1]  all users zset (score 0, by id)   qg:{p}:users
-- KEYS[2]  user info hash                    qg:{p}:userinfo   user -> "<ver>|<status>|<plan>|<parent>"
-- KEYS[3]  users per plan hash               qg:{p}:plan_users plan -> count
-- KEYS[4]  the new plan's claims zset         qg:{p}:claims:<planId> (any key of the slot without a plan)
-- KEYS[5]  members zset (score 0)            qg:{p}:members    "<parent>\0<member>"
-- ARGV[1]  user id
-- ARGV[2]  subscription version
-- ARGV[3]  status
-- ARGV[4]  plan id, or "" without a subscription
-- ARGV[5]  parent id, or "" without a parent
--
-- Returns 1 when the index changed, 0 when it already had this version or a newer one.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 5, 5)
local K, A = named(KEYS, {'users', 'userinfo', 'plan_users', 'claims', 'members'}), named(ARGV, {'user', 'version', 'status', 'plan', 'parent'})

-- 1. The user's claim on the plan is done with, whatever the version; older news changes
-- nothing else.
if A.plan ~= '' then
  redis.call('ZREM', K.claims, A.user)
end
local cur = redis.call('HGET', K.userinfo, A.user)
local ver, plan, parent = nil, nil, nil
if cur then
  -- Plan ids never hold a "|"; the parent, last, may.
  ver, plan, parent = string.match(cur, '^(%d+)|[^|]*|([^|]*)|?(.*)$')
  if tonumber(ver) >= tonumber(A.version) then
    return 0
  end
end

-- 2. Move the user's count from the old plan to the new one, the membership from the old
-- parent to the new one, and record the state. Ids hold no control characters, so "\0" ends
-- the parent's part of a member entry and one parent's members sort together.
if plan and plan ~= '' then
  if redis.call('HINCRBY', K.plan_users, plan, -1) <= 0 then
    redis.call('HDEL', K.plan_users, plan)
  end
end
if A.plan ~= '' then
  redis.call('HINCRBY', K.plan_users, A.plan, 1)
end
if parent and parent ~= '' then
  redis.call('ZREM', K.members, parent .. '\0' .. A.user)
end
if A.parent ~= '' then
  redis.call('ZADD', K.members, 0, A.parent .. '\0' .. A.user)
end
redis.call('HSET', K.userinfo, A.user, A.version .. '|' .. A.status .. '|' .. A.plan .. '|' .. A.parent)
redis.call('ZADD', K.users, 0, A.user)
return 1
