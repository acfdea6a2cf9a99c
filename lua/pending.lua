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
local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
if #due > 0 then
  for _, raw in ipairs(redis.call('HMGET', KEYS[2], unpack(due))) do
    local record = raw and cjson.decode(raw)
    if record and record.s == 'held' then
      for _, h in ipairs(record.h) do
        expired[h.f] = (expired[h.f] or 0) + tonumber(h.a)
      end
    end
  end
end

-- Used and held milli-units of every hold, as though every expired hold had gone back: hold
-- i's used at 2i - 1 and its held at 2i, as the prelude's read_counters answers them.
local function read_counters(holds)
  if #holds == 0 then
    return {}
  end
  local fields = {}
  for i = 1, #holds do
    local h = holds[i]
    fields[2 * i - 1] = h.f .. ':u'
    fields[2 * i] = h.f .. ':h'
  end
  local counters = redis.call('HMGET', KEYS[1], unpack(fields))
  for i = 1, #holds do
    local h = holds[i]
    counters[2 * i - 1] = tonumber(counters[2 * i - 1] or '0')
    counters[2 * i] = math.max(0, tonumber(counters[2 * i] or '0') - (expired[h.f] or 0))
  end
  return counters
end

-- pending.lua ends --
