-- prelude.lua: shared head of every writing script (reserve, track, commit, release, extend).
-- It reads Redis TIME, reclaims this user's expired holds and prunes what outlived the
-- retention window, a bounded number per call, before the script proper reads any counter.
--
-- Every script that includes it passes the same first five keys:
-- KEYS[1]  counters hash                 qg:{p:u}:ctr     <group>@<periodStart>:u|:h -> milli-units
-- KEYS[2]  reservations hash             qg:{p:u}:res     <reservationId> -> JSON record
-- KEYS[3]  open reservations zset        qg:{p:u}:open    by expiry ms
-- KEYS[4]  ended reservations zset       qg:{p:u}:ended   by prune ms
-- KEYS[5]  counter periods zset          qg:{p:u}:periods <group>@<periodStart> by period end ms
--
-- A reservation record is JSON whose numbers are all strings, so no digit is lost to cjson:
-- {"s": held|committed|released|expired, "e": event, "c": created ms, "x": expires ms, "t": ended ms,
--  "l": "1" when committed late, "h": [hold, ...]} with each hold as holds.lua reads it, plus
--  "n": the committed milli-units.

local RECLAIM_BATCH = 64
local PRUNE_BATCH = 16

-- Redis time in whole milliseconds.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Adds a milli-unit amount held as a string to a counter field, exactly.
local function add(field, amount)
  if amount ~= '0' then
    redis.call('HINCRBY', KEYS[1], field, amount)
  end
end

local function negate(amount)
  if amount == '0' then return '0' end
  return '-' .. amount
end

local function counter(field)
  return tonumber(redis.call('HGET', KEYS[1], field) or '0')
end

-- Remembers when a counter's period ends, so its fields can be pruned after retention.
local function note_period(h)
  if h.pe ~= '' then
    redis.call('ZADD', KEYS[5], 'NX', h.pe, h.f)
  end
end

-- Marks a reservation ended and schedules its record's removal after the retention window.
local function finish(id, record, state, now, retention_ms)
  record.s = state
  record.t = string.format('%d', now)
  redis.call('HSET', KEYS[2], id, cjson.encode(record))
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[4], now + retention_ms, id)
end

-- Returns expired holds to their counters (at most RECLAIM_BATCH reservations), drops ended
-- records and counter fields past retention. Returns true when expired holds remain.
local function reclaim(now, retention_ms)
  local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, RECLAIM_BATCH + 1)
  for i = 1, math.min(#due, RECLAIM_BATCH) do
    local id = due[i]
    local raw = redis.call('HGET', KEYS[2], id)
    local record = raw and cjson.decode(raw)
    if record and record.s == 'held' then
      for _, h in ipairs(record.h) do
        add(h.f .. ':h', negate(h.a))
      end
      finish(id, record, 'expired', now, retention_ms)
    else
      redis.call('ZREM', KEYS[3], id)
    end
  end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, PRUNE_BATCH)) do
    redis.call('HDEL', KEYS[2], id)
    redis.call('ZREM', KEYS[4], id)
  end
  for _, f in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - retention_ms, 'LIMIT', 0, PRUNE_BATCH)) do
    redis.call('HDEL', KEYS[1], f .. ':u', f .. ':h')
    redis.call('ZREM', KEYS[5], f)
  end
  return #due > RECLAIM_BATCH
end

-- Appends, per hold, the counter as it stands: used and held milli-units.
local function append_counters(reply, holds)
  for _, h in ipairs(holds) do
    reply[#reply + 1] = counter(h.f .. ':u')
    reply[#reply + 1] = counter(h.f .. ':h')
  end
  return reply
end

-- prelude.lua ends --
