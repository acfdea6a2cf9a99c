-- extend.lua: move a held reservation's expiry to now + ttl, at most a fixed time after creation.
--
-- KEYS[1..5]  as in prelude.lua (ctr, res, open, ended, periods)
-- ARGV[1]     retention ms
-- ARGV[2]     reservation id
-- ARGV[3]     ttl ms
-- ARGV[4]     the longest lifetime of a reservation, ms after its creation
--
-- Returns {"more"}, {"not_found"}, {"ended", state} (expired, committed or released),
-- else {"ok", new expiry ms}.

-- 1. Expired holds go back first; that also marks this reservation expired if its time is up.
local now = now_ms()
if reclaim(now, tonumber(ARGV[1])) then
  return {'more'}
end

-- 2. Only a held reservation can be extended.
local raw = redis.call('HGET', KEYS[2], ARGV[2])
if not raw then
  return {'not_found'}
end
local record = cjson.decode(raw)
if record.s ~= 'held' then
  return {'ended', record.s}
end

-- 3. The new expiry, capped at creation + the longest lifetime.
local expires = math.min(now + tonumber(ARGV[3]), tonumber(record.c) + tonumber(ARGV[4]))
record.x = string.format('%d', expires)
redis.call('HSET', KEYS[2], ARGV[2], cjson.encode(record))
redis.call('ZADD', KEYS[3], expires, ARGV[2])
return {'ok', expires}
