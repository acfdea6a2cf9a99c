-- subscribe.lua: put a user on a plan (upsert; repeating the same call changes nothing).
--
-- KEYS[1]  the subscription hash         qg:{p:u}:sub
-- ARGV[1]  plan id
-- ARGV[2]  startedAt ms, or "" to keep an existing anchor (a new subscription starts now)
--
-- Returns {plan, startedAt ms, status, reason, version}.

-- 1. Read what is there.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', KEYS[1], 'plan', 'startedAt', 'status', 'reason', 'ver')
local plan, started, status, reason, ver = cur[1], cur[2], cur[3] or 'active', cur[4] or '', cur[5] or '0'
local new_started = ARGV[2]
if new_started == '' then
  new_started = started or string.format('%d', now)
end

-- 2. Write only a change, so an idempotent repeat keeps the version nodes cached.
if plan ~= ARGV[1] or started ~= new_started then
  if plan and plan ~= ARGV[1] then
    redis.call('HSET', KEYS[1], 'lastPlan', plan)
  end
  redis.call('HSET', KEYS[1], 'plan', ARGV[1], 'startedAt', new_started, 'status', status)
  ver = tostring(redis.call('HINCRBY', KEYS[1], 'ver', 1))
end
return {ARGV[1], new_started, status, reason, ver}
