-- prelude.lua: shared head of every writing script of the data plane (reserve, track, commit,
-- release, extend). It reads Redis TIME, answers idempotent repeats, reclaims this user's
-- expired holds and prunes what outlived the retention window, a bounded number per call,
-- before the script proper reads any counter.
--
-- Every script that includes it passes the same first ten keys and four arguments:
-- KEYS[1]  counters hash                 qg:{p:u}:ctr     <group>@<periodStart>:u|:h -> milli-units
-- KEYS[2]  reservations hash             qg:{p:u}:res     <reservationId> -> JSON record
-- KEYS[3]  open reservations zset        qg:{p:u}:open    by expiry ms
-- KEYS[4]  ended zset                    qg:{p:u}:ended   reservation ids and "i:"<idempotency field> by prune ms
-- KEYS[5]  counter periods zset          qg:{p:u}:periods <group>@<periodStart> by period end ms,
--                                                         and "d|"<day>|<group> by prune ms + retention
-- KEYS[6]  the subscription hash         qg:{p:u}:sub     (overrides are ov:<groupId> fields)
-- KEYS[7]  idempotency hash              qg:{p:u}:idem    <route>:<key digest> -> <body digest>|<first reply JSON>
-- KEYS[8]  usage ledger stream           qg:{p:u}:ledger  entries by Redis time
-- KEYS[9]  daily rollups hash            qg:{p:u}:daily   <day>|<group>|<stat> -> integer
-- KEYS[10] alerts outbox of the slot     qg:{<slot tag>}:outbox (see alerts.lua)
-- ARGV[1]  retention ms
-- ARGV[2]  idempotency field, or "" when the call has no Idempotency-Key
-- ARGV[3]  body digest (hex), or ""
-- ARGV[4]  how long the ledger and the rollups keep, ms ("" when the project keeps neither)
--
-- A rollup day is a UTC day number (Unix ms / 86400000); its stats per group are u (milli-units
-- used), a (reserves admitted), d (reserves denied), r (releases), x (expiries).
--
-- A reservation record is JSON whose numbers are all strings, so no digit is lost to cjson:
-- {"s": held|committed|released, "e": event, "c": created ms, "x": expires ms, "t": ended ms,
--  "l": "1" when committed late, "h": [hold, ...]} with each hold as holds.lua reads it, plus
--  "n": the committed milli-units. A held record whose id has left the open set has expired.

-- A call returns at most this many expired reservations and this many holds (a reservation
-- in 32 groups holds 32), so one call stays well under a millisecond; more answers "more".
local RECLAIM_BATCH = 64
local RECLAIM_HOLDS = 96
local PRUNE_BATCH = 16
local retention_ms = tonumber(ARGV[1])
local keep_ms = ARGV[4]
local DAY_MS = 86400000
local ROLLUP_STATS = {'u', 'a', 'd', 'r', 'x'}

-- Redis time in whole milliseconds.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Counter fields as numbers (0 when absent), and whether each field existed: one HMGET.
local function read_fields(fields)
  local values, existed = {}, {}
  if #fields == 0 then
    return values, existed
  end
  local raw = redis.call('HMGET', KEYS[1], unpack(fields))
  for i = 1, #fields do
    values[i] = tonumber(raw[i] or '0')
    existed[i] = raw[i] ~= false and raw[i] ~= nil
  end
  return values, existed
end

-- Used and held milli-units of each hold, with a flag for counters never written before.
local function read_counters(holds)
  local fields = {}
  for i, h in ipairs(holds) do
    fields[2 * i - 1] = h.f .. ':u'
    fields[2 * i] = h.f .. ':h'
  end
  local values, existed = read_fields(fields)
  local used, held, fresh = {}, {}, {}
  for i = 1, #holds do
    used[i], held[i] = values[2 * i - 1], values[2 * i]
    fresh[i] = not existed[2 * i - 1] and not existed[2 * i]
  end
  return used, held, fresh
end

-- Writes counter fields in one HSET; values are integers below 2^53, formatted exactly.
local function write_fields(fields, values)
  if #fields == 0 then
    return
  end
  local args = {}
  for i, field in ipairs(fields) do
    args[2 * i - 1] = field
    args[2 * i] = string.format('%d', values[i])
  end
  redis.call('HSET', KEYS[1], unpack(args))
end

-- Remembers when a new counter's period ends, so its fields can be pruned after retention.
local function note_periods(holds, fresh)
  local args = {}
  for i, h in ipairs(holds) do
    if fresh[i] and h.pe ~= '' then
      args[#args + 1] = h.pe
      args[#args + 1] = h.f
    end
  end
  if #args > 0 then
    redis.call('ZADD', KEYS[5], 'NX', unpack(args))
  end
end

-- The largest counter a double holds exactly (2^53 - 1 milli-units): a change that would pass
-- it is refused whole rather than counted inexactly.
local MAX_EXACT = 9007199254740991

-- Adds delta(i, hold) to each hold's counter (suffix ":u" used or ":h" held), never below
-- zero. Answers the id of a group the change would take past MAX_EXACT, in which case nothing
-- was written; else nil and each counter before and after the change.
local function move_counters(holds, suffix, delta)
  local used, held, fresh = read_counters(holds)
  local before, after = suffix == ':u' and used or held, {}
  local fields, values = {}, {}
  for i, h in ipairs(holds) do
    local d = delta(i, h)
    after[i] = before[i]
    if d ~= 0 then
      local value = math.max(0, before[i] + d)
      if value > MAX_EXACT then
        -- Past what a double counts exactly: nothing is written, the caller refuses.
        return h.g
      end
      after[i] = value
      fields[#fields + 1] = h.f .. suffix
      values[#values + 1] = value
    end
  end
  write_fields(fields, values)
  note_periods(holds, fresh)
  return nil, before, after
end

-- A reservation's state: a held one that is no longer open has expired (reclaim took it).
local function state_of(id, record)
  if record.s == 'held' and not redis.call('ZSCORE', KEYS[3], id) then
    return 'expired'
  end
  return record.s
end

-- Marks a reservation ended and schedules its record's removal after the retention window.
local function finish(id, record, state, now)
  record.s = state
  record.t = string.format('%d', now)
  redis.call('HSET', KEYS[2], id, cjson.encode(record))
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[4], now + retention_ms, id)
end

-- Adds `delta` to one of the user's rollups: `stat` of `group` on the UTC day of `at` (ms).
-- A day's fields are pruned with the ledger: the first write of a field schedules it in the
-- periods set, scored so that prune takes it when the day is `keep_ms` old.
local function rollup(at, group, stat, delta)
  if keep_ms == '' or delta == 0 then
    return
  end
  local day = string.format('%d', math.floor(at / DAY_MS))
  if redis.call('HINCRBY', KEYS[9], day .. '|' .. group .. '|' .. stat, string.format('%d', delta)) == delta then
    local prune_at = (tonumber(day) + 1) * DAY_MS + tonumber(keep_ms) - retention_ms
    redis.call('ZADD', KEYS[5], 'NX', string.format('%d', prune_at), 'd|' .. day .. '|' .. group)
  end
end

-- Returns expired holds to their counters (at most RECLAIM_HOLDS of them). Returns true when
-- expired holds remain, and whether this call returned any.
-- A reclaimed record keeps state "held"; leaving the open set is what makes it expired.
local function reclaim(now)
  local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, RECLAIM_BATCH + 1)
  local done, back, order, taken = {}, {}, {}, 0
  -- Expiries per day and group, counted once per pair: [day][group] -> holds.
  local expired = {}
  if #due > 0 then
    for _, id in ipairs(due) do
      if #done == RECLAIM_BATCH then
        break
      end
      -- One record at a time: only the records this call returns are read.
      local raw = redis.call('HGET', KEYS[2], id)
      local record = raw and cjson.decode(raw)
      if record and record.s == 'held' then
        if taken > 0 and taken + #record.h > RECLAIM_HOLDS then
          break
        end
        local day = math.floor(tonumber(record.x) / DAY_MS)
        expired[day] = expired[day] or {}
        for _, h in ipairs(record.h) do
          expired[day][h.g] = (expired[day][h.g] or 0) + 1
          local field = h.f .. ':h'
          if not back[field] then
            back[field] = 0
            order[#order + 1] = field
          end
          back[field] = back[field] + tonumber(h.a)
        end
        taken = taken + #record.h
      end
      done[#done + 1] = id
    end
    local values = read_fields(order)
    for i, field in ipairs(order) do
      values[i] = math.max(0, values[i] - back[field])
    end
    write_fields(order, values)
    for day, groups in pairs(expired) do
      for group, n in pairs(groups) do
        rollup(day * DAY_MS, group, 'x', n)
      end
    end
    local ended = {}
    for _, id in ipairs(done) do
      ended[#ended + 1] = now + retention_ms
      ended[#ended + 1] = id
    end
    redis.call('ZREM', KEYS[3], unpack(done))
    redis.call('ZADD', KEYS[4], unpack(ended))
  end
  return #done < #due, #done > 0
end

-- Drops ended records, idempotency entries and counter fields past retention, a bounded
-- number per call. Only calls that write anyway prune, so a denial stays cheap.
local function prune(now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, PRUNE_BATCH)) do
    if string.sub(id, 1, 2) == 'i:' then
      redis.call('HDEL', KEYS[7], string.sub(id, 3))
    else
      redis.call('HDEL', KEYS[2], id)
    end
    redis.call('ZREM', KEYS[4], id)
  end
  for _, f in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - retention_ms, 'LIMIT', 0, PRUNE_BATCH)) do
    if string.sub(f, 1, 2) == 'd|' then
      local fields = {}
      for i, stat in ipairs(ROLLUP_STATS) do
        fields[i] = string.sub(f, 3) .. '|' .. stat
      end
      redis.call('HDEL', KEYS[9], unpack(fields))
    else
      redis.call('HDEL', KEYS[1], f .. ':u', f .. ':h', f .. ':a')
    end
    redis.call('ZREM', KEYS[5], f)
  end
end

-- Commit, release and extend start alike: expired holds go back first (which also makes this
-- reservation expired if its time is up), old state is pruned, then the reservation is read.
-- Answers the record, its state and its JSON, or a reply to return at once.
local function find_reservation(id, now)
  if reclaim(now) then
    return nil, nil, {'more'}
  end
  prune(now)
  local raw = redis.call('HGET', KEYS[2], id)
  if not raw then
    return nil, nil, {'not_found'}
  end
  local record = cjson.decode(raw)
  return record, state_of(id, record), raw
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

-- Records a usage change in the user's ledger (KEYS[8], a stream: entry ids are Redis times)
-- and in today's "used" rollups, unless the project keeps neither (`keep_ms` ""). Trims
-- ledger entries older than `keep_ms` on the way. `fields` are the entry's field, value pairs
-- (every number a string) but its groups, which are the holds for which `amount_of(i, hold)`
-- gives milli-units (as a string; nil leaves the hold out).
local function ledger(now, holds, amount_of, fields)
  if keep_ms == '' then
    return
  end
  local groups = {}
  for i, h in ipairs(holds) do
    local amount = amount_of(i, h)
    if amount then
      groups[#groups + 1] = {g = h.g, u = h.k, ps = h.ps, pe = h.pe, a = amount}
      rollup(now, h.g, 'u', tonumber(amount))
    end
  end
  fields[#fields + 1] = 'groups'
  fields[#fields + 1] = cjson.encode(groups)
  -- Exact trimming: usually nothing or one entry goes per append, so it costs little.
  local oldest = string.format('%d', now - tonumber(keep_ms))
  redis.call('XADD', KEYS[8], 'MINID', oldest, '*', unpack(fields))
end

-- prelude.lua ends --
