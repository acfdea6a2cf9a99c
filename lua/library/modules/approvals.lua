-- approvals.lua: approval gates opened where they deny first, in the subject's slot
-- (docs/decisions/0045-approval-gates.md), after alerts.lua: a reserve's first denial of an
-- approval group in its period opens the group's approval request, which decide_approval.lua
-- (the control plane) decides.
--
-- A request's state is its counter's ":ap" field: p pending, a approved, d declined, as
-- decide_approval.lua writes them. While it is pending the group denies as pending (2). Its
-- opening is an "approval" event in the outbox (as alerts.lua writes alerts), which the node
-- moves to the project's approvals and webhooks.

-- Opens hold h's approval request, unless its group has one in this period: its ":ap" field,
-- pending, pruned with its counter (which a group that never admitted did not note), and the
-- event, with the group's quota in force, used and held, and the event the reservation is
-- for, as the record the node encoded (`tail`) names it. Answers the request's state.
local function open_approval(c, h, quota, used, held, tail)
  local KEYS, field = c.KEYS, h.f .. ':ap'
  local state = redis.call('HGET', KEYS[KEY_COUNTERS], field)
  if state then
    return state
  end
  redis.call('HSET', KEYS[KEY_COUNTERS], field, 'p')
  if h.pe ~= '' then
    redis.call('ZADD', KEYS[KEY_PERIODS], 'NX', h.pe, h.f)
  end
  local tag = string.match(KEYS[KEY_COUNTERS], '{(.*)}')
  local plan = redis.call('HGET', KEYS[KEY_SUBSCRIPTION], 'plan') or ''
  local event = string.match(tail, '"e":"([^"]*)"') or ''
  outbox(c, true, 'tag', tag, 'plan', plan, 'type', 'approval', 'g', h.g, 'k', h.k or '', 't', '',
    'q', string.format('%d', quota), 'n', string.format('%d', used), 'h', string.format('%d', held), 'ps', h.ps,
    'pe', h.pe, 'ap', h.ap, 'e', event, 'a', h.a, 'v', h.val or '')
  return 'p'
end

-- approvals.lua ends --
