-- subscribe.lua: put a user on a plan (upsert; repeating the same call changes nothing), applying
-- the new plan's onPlanChange rules when the user had another plan before, in the same step,
-- so a reserve racing the change sees the old state or the new, never a mix.
--
-- KEYS[1]  the subscription hash         qg:{p:u}:sub
-- KEYS[2]  counters hash                 qg:{p:u}:ctr
-- KEYS[3]  counter periods zset          qg:{p:u}:periods
-- ARGV[1]  subscription version the node read ("0": none)
-- ARGV[2]  plan id
-- ARGV[3]  startedAt ms
-- ARGV[4]  "keep" to leave overrides as they are, "replace" to set exactly the ones that follow
-- ARGV[5]  number of overrides n, then n pairs: group id, "<quota milli>|<expires ms or empty>"
-- then     number of plan-change rules m, then 5 values each: rule (reset|block, with
--          "/<balance>" for a balance group), counter field, period start ms, period end ms (""
--          for lifetime), quota milli
-- last     the parent: "keep" to leave it as it is, "none" to remove it, "=<subject id>" to set it
--
-- Returns {"stale"}, or {"ok", then the subscription hash as field, value, ...}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 3, 5, 2, 1, 5, 1)
local K = named(KEYS, {'sub', 'ctr', 'periods'})
local A, at = named(ARGV, {'version', 'plan', 'started', 'mode', 'overrides'})

-- 1. Redis time, and the node's reading of the subscription checked.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if (redis.call('HGET', K.sub, 'ver') or '0') ~= A.version then
  return {'stale'}
end
local n = tonumber(A.overrides)
local overrides = {}
local given
given, at = items(ARGV, at, n, {'group', 'value'})
for _, o in ipairs(given) do
  overrides['ov:' .. o.group] = o.value
end
local listed, last = items(ARGV, at + 1, tonumber(ARGV[at]), {'rule', 'f', 'ps', 'pe', 'q'})
local rules = {}
for _, l in ipairs(listed) do
  local rule = {f = l.f, ps = l.ps, pe = l.pe, q = l.q}
  rule.r, rule.b = string.match(l.rule, '^(%a+)/?(.*)$')
  if tonumber(rule.ps) > now or (rule.pe ~= '' and tonumber(rule.pe) <= now) then
    return {'stale'}
  end
  rules[#rules + 1] = rule
end
local parent_arg = ARGV[last]

-- 2. What changes: the plan, the anchor, the overrides.
local cur = redis.call('HMGET', K.sub, 'plan', 'lastPlan', 'startedAt', 'parent')
local plan, last_plan, started = cur[1], cur[2], cur[3]
local parent = cur[4]
if parent_arg == 'none' then
  parent = nil
elseif string.sub(parent_arg, 1, 1) == '=' then
  parent = string.sub(parent_arg, 2)
end
local stale_overrides = {}
local overrides_change = false
if A.mode == 'replace' then
  local fields = redis.call('HGETALL', K.sub)
  local kept = 0
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 3) == 'ov:' then
      if overrides[fields[i]] == fields[i + 1] then
        kept = kept + 1
      else
        stale_overrides[#stale_overrides + 1] = fields[i]
      end
    end
  end
  overrides_change = #stale_overrides > 0 or kept ~= n
end
if plan == A.plan and started == A.started and not overrides_change and parent == cur[4] then
  local answer = redis.call('HGETALL', K.sub)
  table.insert(answer, 1, 'ok')
  return answer
end

-- 3. A user who had another plan (now or before a cancel) gets the new plan's rules:
-- reset empties the current period's usage (open holds stay), block fills it to the quota. A
-- per-value group's rule applies to the counter of each value it counted in the period (its
-- list, holds.lua's "<group>@<period start>:v").
local previous = plan or last_plan
if previous and previous ~= A.plan then
  for _, rule in ipairs(rules) do
    local fields = {rule.f}
    local list = redis.call('HGET', K.ctr, rule.f .. ':v')
    if list then
      local group, at = string.match(rule.f, '^(.*)(@[^@]*)$')
      fields = {}
      for value in string.gmatch(list, '[^\n]+') do
        fields[#fields + 1] = group .. '~' .. value .. at
      end
    end
    -- A balance group's allowance takes the rule too: marked for its period (its wallet
    -- applies the mark when it next opens the allowance, wallet.lua's C.open), its quick line
    -- dropped so no reserve decides before that.
    if rule.b ~= '' then
      redis.call('HSET', K.ctr, rule.f .. ':pc', rule.r .. ':' .. string.format('%d', now))
      redis.call('HDEL', K.ctr, 'w|' .. rule.b .. '|q')
      if rule.pe ~= '' then
        redis.call('ZADD', K.periods, 'NX', rule.pe, rule.f)
      end
    end
    for _, f in ipairs(fields) do
      local used = tonumber(redis.call('HGET', K.ctr, f .. ':u') or '0')
      if rule.r == 'reset' and used > 0 then
        redis.call('HSET', K.ctr, f .. ':u', '0')
      elseif rule.r == 'block' and used < tonumber(rule.q) then
        redis.call('HSET', K.ctr, f .. ':u', rule.q)
        if rule.pe ~= '' then
          redis.call('ZADD', K.periods, 'NX', rule.pe, f)
        end
      end
    end
  end
end

-- 4. Write the subscription under a new version.
if plan and plan ~= A.plan then
  redis.call('HSET', K.sub, 'lastPlan', plan)
end
redis.call('HSET', K.sub, 'plan', A.plan, 'startedAt', A.started)
if parent then
  redis.call('HSET', K.sub, 'parent', parent)
else
  redis.call('HDEL', K.sub, 'parent')
end
if not redis.call('HGET', K.sub, 'status') then
  redis.call('HSET', K.sub, 'status', 'active')
end
if A.mode == 'replace' then
  if #stale_overrides > 0 then
    for from = 1, #stale_overrides, 1000 do
      redis.call('HDEL', K.sub, unpack(stale_overrides, from, math.min(from + 999, #stale_overrides)))
    end
  end
  for field, value in pairs(overrides) do
    redis.call('HSET', K.sub, field, value)
  end
end
redis.call('HINCRBY', K.sub, 'ver', 1)
local answer = redis.call('HGETALL', K.sub)
table.insert(answer, 1, 'ok')
return answer
