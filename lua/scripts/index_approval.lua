-- index_approval.lua: keeps a project's approval requests where operators list them. The
-- subject's slot decides a request (reserve.lua opens it, decide_approval.lua decides it);
-- this copy follows, written by the node that moved the event, by the sweeper when that node
-- died first, and by the node that decided. Writing one twice changes nothing, and a request
-- already decided is never listed as pending again.
--
-- KEYS[1]  request id -> its JSON                    qg:{p}:approvals
-- KEYS[2]  every request, by when it was made (ms)   qg:{p}:approvals:all
-- KEYS[3]  pending requests, by when they were made  qg:{p}:approvals:pending
-- KEYS[4]  approved requests                         qg:{p}:approvals:approved
-- KEYS[5]  declined requests                         qg:{p}:approvals:declined
-- KEYS[6]  the request's user's requests, every status qg:{p}:approvals:user:<user>
-- ARGV[1]  request id
-- ARGV[2]  its JSON
-- ARGV[3]  its status: "pending", "approved" or "declined"
-- ARGV[4]  when it was made, ms
--
-- Returns 1 when the copy changed, 0 when it was already as given (or decided already).

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 6, 4)
local K, A = named(KEYS, {'approvals', 'all', 'pending', 'approved', 'declined', 'user'}), named(ARGV, {'id', 'json', 'status', 'made'})

-- 1. A pending request is written once: a repeat of its event after the decision finds it.
if A.status == 'pending' then
  if redis.call('HSETNX', K.approvals, A.id, A.json) == 0 then
    return 0
  end
  redis.call('ZADD', K.all, A.made, A.id)
  redis.call('ZADD', K.pending, A.made, A.id)
  redis.call('ZADD', K.user, A.made, A.id)
  return 1
end

-- 2. A decision replaces it, and moves it from the pending list to its own.
if redis.call('HGET', K.approvals, A.id) == A.json then
  return 0
end
redis.call('HSET', K.approvals, A.id, A.json)
redis.call('ZADD', K.all, A.made, A.id)
redis.call('ZADD', K.user, A.made, A.id)
redis.call('ZREM', K.pending, A.id)
redis.call('ZADD', A.status == 'approved' and K.approved or K.declined, A.made, A.id)
return 1
