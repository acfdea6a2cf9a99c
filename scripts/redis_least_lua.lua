#!lua name=qg_floor
-- The least Lua a governed proxied call's two scripts could be (scripts/redis-call-costs
-- --floor): the same commands as the gateway's reserve and commit of a plain call send, with
-- the same keys and arguments (a plain reserve of n holds, a commit naming its actual amounts,
-- its metadata, its quantity and its key), and no more logic than those commands need: no
-- idempotency, no alternatives, runs, slices, credits, alerts or outcomes, no checks of the
-- node's instant or periods. What each writes is what the gateway's write (the counters, the
-- record as JSON, the ledger entry with its groups, the day's rollups), so replaying them
-- measures what this design costs Redis at the least. A benchmark's library only: never loaded
-- by the gateway.
--
-- qg_floor_nothing: a call that reads Redis's time and answers, with any keys and arguments:
-- what a script call costs before it does anything.

local function now_ms()
  local t = redis.call('TIME')
  return t[1] * 1000 + math.floor(t[2] / 1000)
end

redis.register_function('qg_floor_nothing', function()
  now_ms()
  return {'ok'}
end)

-- ARGV: [5] the subscription's version, [6] the reservation id, [7] ttl ms, [8] n holds, then
-- 7 values a hold (group, counter field, period start and end, amount, quota, the rest), then
-- the count of alternatives (1), its count of holds, its record's tail, three empty markers and
-- the decision instant.
redis.register_function('qg_floor_reserve', function(KEYS, ARGV)
  now_ms()
  if redis.call('HGET', KEYS[6], 'ver') ~= ARGV[5] then
    return {'stale'}
  end
  local n, at = tonumber(ARGV[8]), tonumber(ARGV[#ARGV])
  local fields, groups = {}, {}
  for i = 1, n do
    local f = ARGV[8 + (i - 1) * 7 + 2]
    fields[2 * i - 1], fields[2 * i] = f .. ':u', f .. ':h'
    groups[i] = ARGV[8 + (i - 1) * 7 + 1]
  end
  local admits = 'a|' .. math.floor(at / 86400000) .. '|' .. table.concat(groups, ',')
  fields[2 * n + 1], fields[2 * n + 2] = '~open', admits
  for i = 1, n do
    fields[2 * n + 2 + i] = ARGV[8 + (i - 1) * 7 + 2] .. ':a'
  end
  local v = redis.call('HMGET', KEYS[1], unpack(fields))
  local x = string.format('%d', at + ARGV[7])
  local reply, writes = {'ok', ARGV[6], x, 1}, {}
  for i = 1, n do
    local b = 8 + (i - 1) * 7
    local used, held, a, q = (v[2 * i - 1] or 0) + 0, (v[2 * i] or 0) + 0, ARGV[b + 5] + 0, ARGV[b + 6] + 0
    if used + held + a > q then
      reply[4] = 0
    end
    writes[#writes + 1], writes[#writes + 2] = fields[2 * i], string.format('%d', held + a)
    reply[#reply + 1], reply[#reply + 2], reply[#reply + 3], reply[#reply + 4] = used, held + a, q, 0
  end
  writes[#writes + 1], writes[#writes + 2] = admits, string.format('%d', (v[2 * n + 2] or 0) + 1)
  redis.call('HSET', KEYS[1], unpack(writes))
  local c = string.format('%d', at)
  redis.call('HSET', KEYS[2], ARGV[6], '{"s":"held","c":"' .. c .. '","cr":"' .. c .. '","x":"' .. x .. '",' .. ARGV[8 + n * 7 + 3])
  redis.call('ZADD', KEYS[3], x, ARGV[6])
  return reply
end)

-- A day's per-model rollup text with `used` added to `model`'s line.
local function model_line(text, model, used)
  local key = '"' .. model .. '":["'
  local at = text and string.find(text, key, 1, true)
  if not at then
    return cjson.encode({[model] = {string.format('%d', used), '0'}})
  end
  local u, a, past = string.match(text, '^(%d+)","(%d+)()"', at + #key)
  return string.sub(text, 1, at + #key - 1) .. string.format('%d', u + used) .. '","' .. a .. string.sub(text, past)
end

-- ARGV: [1] retention ms, [4] the ledger's keep ms, [5] the reservation id, [6] n holds, then
-- the n actual amounts, then the metadata, the quantity and the key's id.
redis.register_function('qg_floor_commit', function(KEYS, ARGV)
  local now = now_ms()
  local id = ARGV[5]
  -- What every commit keeps bounded: expired holds first, then ended records and periods.
  if redis.call('ZCOUNT', KEYS[3], '-inf', now) > 0 then
    return {'more'}
  end
  redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 16)
  redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - ARGV[1], 'LIMIT', 0, 16)
  local r = cjson.decode(redis.call('HGET', KEYS[2], id))
  if not redis.call('ZSCORE', KEYS[3], id) then
    return {'conflict'}
  end
  local n = #r.h
  local fields, overrides = {}, {}
  for i, h in ipairs(r.h) do
    h.n = ARGV[6 + i]
    fields[2 * i - 1], fields[2 * i] = h.f .. ':u', h.f .. ':h'
    overrides[i] = 'ov:' .. h.g
  end
  local v = redis.call('HMGET', KEYS[1], unpack(fields))
  local writes, reply = {}, {'ok', 0, ''}
  for i, h in ipairs(r.h) do
    local used, held = (v[2 * i - 1] or 0) + h.n, math.max(0, (v[2 * i] or 0) - h.a)
    writes[#writes + 1], writes[#writes + 2] = fields[2 * i - 1], string.format('%d', used)
    writes[#writes + 1], writes[#writes + 2] = fields[2 * i], string.format('%d', held)
    reply[#reply + 1], reply[#reply + 2], reply[#reply + 3] = used, held, h.q
  end
  redis.call('HSET', KEYS[1], unpack(writes))
  redis.call('HMGET', KEYS[6], unpack(overrides))
  r.s, r.t, r.l = 'committed', string.format('%d', now), '0'
  reply[3] = cjson.encode(r)
  redis.call('HSET', KEYS[2], id, reply[3])
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZADD', KEYS[4], string.format('%d', now + ARGV[1]), id)
  -- The ledger entry and the day's rollups: usage per group, and per group and model.
  local metadata = ARGV[6 + n + 1]
  local at, past = string.find(metadata, '"model":"', 1, true)
  local model = at and string.match(metadata, '^([^"\\]+)"', past + 1) or 'none'
  local day = string.format('%d|', math.floor(now / 86400000))
  local groups, rollups = {}, {}
  for i, h in ipairs(r.h) do
    local priced = h.me and string.sub(h.me, 1, 10) == '{"priced":' and h.me or nil
    groups[i] = {g = h.g, u = h.k, ps = h.ps, pe = h.pe, a = h.n, pr = priced}
    rollups[2 * i - 1], rollups[2 * i] = day .. h.g .. '|u', day .. h.g .. '|m'
  end
  local before, after = redis.call('HMGET', KEYS[9], unpack(rollups)), {}
  for i, h in ipairs(r.h) do
    after[#after + 1], after[#after + 2] = rollups[2 * i - 1], string.format('%d', (before[2 * i - 1] or 0) + h.n)
    after[#after + 1], after[#after + 2] = rollups[2 * i], model_line(before[2 * i] or nil, model, h.n)
  end
  redis.call('HSET', KEYS[9], unpack(after))
  redis.call('XADD', KEYS[8], 'MINID', string.format('%d', now - ARGV[4]), '*', 'kind', 'commit', 'ref', id,
    'event', r.e, 'metadata', metadata, 'quantity', ARGV[6 + n + 2], 'since', r.cr, 'at', r.c, 'reserved', r.qt,
    'held_metadata', r.md, 'key', ARGV[6 + n + 3], 'groups', cjson.encode(groups))
  return reply
end)
