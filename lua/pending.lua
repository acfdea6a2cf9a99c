#!lua flags=no-writes
-- pending.lua: shared head of the read-only scripts (check, usage). They never write, so they
-- see expired holds that no writing script has reclaimed yet, and leave them out by hand.
--
-- KEYS[1]  counters hash                 qg:{p:u}:ctr
-- KEYS[2]  reservations hash             qg:{p:u}:res
-- KEYS[3]  open reservations zset        qg:{p:u}:open

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Milli-units per counter field still held by reservations that have expired.
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

-- A counter as though every expired hold had gone back.
local function counter(field)
  local value = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if string.sub(field, -2) == ':h' then
    value = math.max(0, value - (expired[string.sub(field, 1, -3)] or 0))
  end
  return value
end

-- pending.lua ends --
