-- prelude.lua: shared head of every writing script of the data plane (reserve, track, commit,
-- release, extend). It reads Redis TIME, answers idempotent repeats, reclaims this user's
-- expired holds and prunes what outlived the retention window, a bounded number per call,
-- before the script proper reads any counter.
--
-- Every script that includes it passes the same first seven keys and three arguments:
-- KEYS[1]  counters hash                 qg:{p:u}:ctr     <group>@<periodStart>:u|:h -> milli-units
-- KEYS[2]  reservations hash             qg:{p:u}:res     <reservationId> -> JSON record
-- KEYS[3]  open reservations zset        qg:{p:u}:open    by expiry ms
-- KEYS[4]  ended zset                    qg:{p:u}:ended   reservation ids and "i:"<idempotency field> by prune ms
-- KEYS[5]  counter periods zset          qg:{p:u}:periods <group>@<periodStart> by period end ms
-- KEYS[6]  the subscription hash         qg:{p:u}:sub     (overrides are ov:<groupId> fields)
-- KEYS[7]  idempotency hash              qg:{p:u}:idem    <route>:<key digest> -> <body digest>|<first reply JSON>
-- ARGV[1]  retention ms
-- ARGV[2]  idempotency field, or "" when the call has no Idempotency-Key
-- ARGV[3]  body digest (hex), or ""
--
-- A reservation record is JSON whose numbers are all strings, so no digit is lost to cjson:
-- {"s": held|committed|released|expired, "e": event, "c": created ms, "x": expires ms, "t": ended ms,
--  "l": "1" when committed late, "h": [hold, ...]} with each hold as holds.lua reads it, plus
--  "n": the committed milli-units.

local RECLAIM_BATCH = 64
local PRUNE_BATCH = 16
local retention_ms = tonumber(ARGV[1])

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
    if string.sub(id, 1, 2) == 'i:' then
      redis.call('HDEL', KEYS[7], string.sub(id, 3))
    else
      redis.call('HDEL', KEYS[2], id)
    end
    redis.call('ZREM', KEYS[4], id)
  end
  for _, f in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - retention_ms, 'LIMIT', 0, PRUNE_BATCH)) do
    redis.call('HDEL', KEYS[1], f .. ':u', f .. ':h')
    redis.call('ZREM', KEYS[5], f)
  end
  return #due > RECLAIM_BATCH
end

-- The first answer to this Idempotency-Key, or nil when there is none: {"repeat", reply JSON},
-- or {"reused"} when the key came with another body.
local function repeated()
  if ARGV[2] == '' then
    return nil
  end
  local stored = redis.call('HGET', KEYS[7], ARGV[2])
  if not stored then
    return nil
  end
  local digest, reply = string.match(stored, '^(%x*)|(.*)$')
  if digest ~= ARGV[3] then
    return {'reused'}
  end
  return {'repeat', reply}
end

-- Keeps the answer for repeats of this Idempotency-Key until the retention window ends.
-- Numbers are stored as integer strings, so cjson never formats one.
local function remember(reply, now)
  if ARGV[2] ~= '' then
    local copy = {}
    for i, v in ipairs(reply) do
      copy[i] = type(v) == 'number' and string.format('%d', v) or v
    end
    redis.call('HSET', KEYS[7], ARGV[2], ARGV[3] .. '|' .. cjson.encode(copy))
    redis.call('ZADD', KEYS[4], now + retention_ms, 'i:' .. ARGV[2])
  end
  return reply
end

-- prelude.lua ends --
