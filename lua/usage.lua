-- usage.lua: read counters as though expired holds were reclaimed. Never writes.
--
-- KEYS[1]  counters hash                 qg:{p:u}:ctr
-- KEYS[2]  reservations hash             qg:{p:u}:res
-- KEYS[3]  open reservations zset        qg:{p:u}:open
-- ARGV     counter fields, one per group (<group>@<periodStart>)
--
-- Returns {now ms, then per field used, held}.

-- 1. Redis time, and the holds that have expired but not yet gone back.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expired = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  local raw = redis.call('HGET', KEYS[2], id)
  local record = raw and cjson.decode(raw)
  if record and record.s == 'held' then
    for _, h in ipairs(record.h) do
      expired[h.f] = (expired[h.f] or 0) + tonumber(h.a)
    end
  end
end

-- 2. Each counter, with those holds left out.
local reply = {now}
for _, field in ipairs(ARGV) do
  reply[#reply + 1] = tonumber(redis.call('HGET', KEYS[1], field .. ':u') or '0')
  local held = tonumber(redis.call('HGET', KEYS[1], field .. ':h') or '0') - (expired[field] or 0)
  reply[#reply + 1] = math.max(0, held)
end
return reply
