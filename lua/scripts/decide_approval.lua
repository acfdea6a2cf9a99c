-- decide_approval.lua: approve or decline one pending approval request (reserve.lua opens
-- them), in the subject's slot, so the decision, the override an approval writes and the
-- event that tells of it are one step: two operators deciding at once decide it once.
--
-- KEYS[1]  the counters hash              qg:{p:u}:ctr (the request's state, <counter>:ap)
-- KEYS[2]  the subscription hash          qg:{p:u}:sub (an approval's override)
-- KEYS[3]  the alerts outbox of the slot  (the "approval_decided" event, as alerts.lua's)
-- ARGV[1]  the request's counter field, <group>@<period start>
-- ARGV[2]  group id, or "<group id>~<value>" for one value of a per-value group (the override's
--          name, as override.lua keeps it; the event names the group)
-- ARGV[3]  approval request id
-- ARGV[4]  "a" approve or "d" decline
-- ARGV[5]  an approval's override, "<quota milli>|<expires ms or empty>" ("" to decline)
-- ARGV[6]  the subject's hash tag
-- ARGV[7]  period start ms
-- ARGV[8]  period end ms ("" for lifetime)
-- ARGV[9]  a decline's reason ("" for an approval)
-- ARGV[10] who decided (the audit log's label of the key or operator)
--
-- Returns {"not_found"} when no request is open for the counter, {"decided", "a"|"d"} when it
-- was decided before, {"limit"} when an approval's override would be new and the user has
-- MAX_OVERRIDES (1000) already (nothing written), else {"ok", the event's outbox id, then the
-- subscription hash as field, value, ...}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 3, 10)
local K, A = named(KEYS, {'ctr', 'sub', 'outbox'}), named(ARGV, {'field', 'group', 'request', 'decision', 'override', 'tag', 'ps', 'pe', 'reason', 'by'})

-- 1. Only a pending request is decided.
local field = A.field .. ':ap'
local state = redis.call('HGET', K.ctr, field)
if not state then
  return {'not_found'}
end
if state ~= 'p' then
  return {'decided', state}
end
-- An approval's override, when new, needs room (override_room.lua).
if A.decision == 'a' and redis.call('HEXISTS', K.sub, 'ov:' .. A.group) == 0 and not override_room(K.sub) then
  return {'limit'}
end

-- 2. The decision; an approval's quota as the user's override of the group, under a new
-- subscription version so every node's cached subscription turns stale.
redis.call('HSET', K.ctr, field, A.decision)
local quota = ''
if A.decision == 'a' then
  quota = string.match(A.override, '^(%d+)|%d*$')
  if not quota then
    error({err = 'ERR qg contract: an approval needs an override, not ' .. A.override})
  end
  local ov = 'ov:' .. A.group
  if redis.call('HGET', K.sub, ov) ~= A.override then
    redis.call('HSET', K.sub, ov, A.override)
    redis.call('HINCRBY', K.sub, 'ver', 1)
  end
end

-- 3. The event, moved by the node to the project's approvals and webhooks as reserve's
-- "approval" event is.
local plan = redis.call('HGET', K.sub, 'plan') or ''
local id = redis.call('XADD', K.outbox, 'MAXLEN', '~', 100000, '*', 'tag', A.tag, 'plan', plan,
  'type', 'approval_decided', 'g', string.match(A.group, '^[^~]*'), 'k', '', 't', '',
  'q', quota == '' and '0' or quota, 'n', '0',
  'ps', A.ps, 'pe', A.pe, 'ap', A.request, 'st', A.decision, 'x', string.match(A.override, '|(%d*)$') or '',
  'r', A.reason, 'by', A.by, 'v', string.match(A.group, '~(.*)$') or '')
-- (The hash as Redis made it, never through unpack, which stops near 8,000 values.)
local answer = redis.call('HGETALL', K.sub)
table.insert(answer, 1, id)
table.insert(answer, 1, 'ok')
return answer
