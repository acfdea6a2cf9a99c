-- extend.lua: move a held reservation's expiry to now + ttl, at most a fixed time after creation.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     reservation id
-- ARGV[6]     ttl ms
-- ARGV[7]     the longest lifetime of a reservation, ms after its creation
--
-- Returns {"more"}, {"not_found"}, {"ended", state} (expired, committed or released),
-- else EXTENDED: {"ok", new expiry ms, the next level up ("" for none)}.

register('extend', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 7)

  -- 1. Expired holds go back; only a held reservation can be extended.
  local record, state, reply = find_reservation(c, ARGV[ARG.EXTEND.id], now)
  if not record then
    return reply
  end
  if state ~= 'held' then
    -- Released after it had expired: to its caller it stays expired (410, as before the release).
    return {'ended', record.rx == '1' and 'expired' or state}
  end

  -- 2. The new expiry, capped at creation + the longest lifetime.
  local expires = math.min(now + tonumber(ARGV[ARG.EXTEND.ttl]), tonumber(record.c) + tonumber(ARGV[ARG.EXTEND.lifetime]))
  -- (A nearer expiry than it had may be nearer than "~open" says no hold expires before:
  -- prelude.lua's reclaim_due. Without the field, the next reserve asks the open set.)
  if expires < tonumber(record.x) then
    redis.call('HDEL', KEYS[KEY_COUNTERS], '~open')
  end
  record.x = string.format('%d', expires)
  redis.call('HSET', KEYS[KEY_RESERVATIONS], ARGV[ARG.EXTEND.id], cjson.encode(record))
  redis.call('ZADD', KEYS[KEY_OPEN], expires, ARGV[ARG.EXTEND.id])
  local reply = {}
  reply[EXTENDED.status], reply[EXTENDED.expires], reply[EXTENDED.parent] = 'ok', expires, record.p or ''
  return reply
end)
