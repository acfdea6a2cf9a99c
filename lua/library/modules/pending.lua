-- pending.lua: for the read-only functions (check, usage; registered 'reads', so Redis runs
-- them with the `no-writes` flag). They never write, so they see expired holds that no writing
-- call has reclaimed yet, and leave them out by hand.
--
-- Their keys, READ_KEY_<NAME> (src/store/scripts/keys.rs): the counters hash, the
-- reservations hash and the open reservations (as the writing functions' first three,
-- prelude.lua), then the subscription hash (check's and usage's).

-- Reads what expired reservations still hold into the call's `expired` (milli-units per
-- counter field, which read_counters leaves out) and `expired_credits` (per grant, and
-- "~oh|<balance>" overdrawn, of the credits they hold), as a writing script's reclaim
-- would return it, at most PENDING_BATCH reservations (the reclaim's batch), so one call's work
-- stays bounded. Answers true when more are due, or when a run or a step of one is due: the
-- script then answers "more", and the node has a writing script reclaim them before it asks
-- again.
local function read_expired(c)
  -- The limit is PENDING_BATCH + 1 (one more tells whether more remain), as the command takes it.
  local PENDING_BATCH, PENDING_LIMIT = 64, '65'
  local due = redis.call('ZRANGEBYSCORE', c.KEYS[READ_KEY_OPEN], '-inf', string.format('%d', c.now), 'LIMIT', '0', PENDING_LIMIT)
  if #due > PENDING_BATCH then
    return true
  end
  local expired, expired_credits = {}, {}
  c.expired, c.expired_credits = expired, expired_credits
  if #due > 0 then
    for _, raw in ipairs(redis.call('HMGET', c.KEYS[READ_KEY_RESERVATIONS], unpack(due))) do
      local record = raw and cjson.decode(raw)
      if record and record.v and record.v ~= RECORD_VERSION then
        error({err = 'ERR qg contract: a reservation record of another encoding than ' .. RECORD_VERSION})
      end
      if record and record.s == 'held' and (record.run or record.ru) then
        -- A run's expiry commits what its steps used, and a step's draws were never the
        -- user's (runs.lua): a writing script's reclaim settles them first.
        return true
      elseif record and record.s == 'held' and not record.ls then
        -- (A lapsed lease is counted as used, not given back: its amount stays counted.)
        for _, h in ipairs(record.h) do
          expired[h.f] = (expired[h.f] or 0) + h.a
        end
        -- Credits they hold, per grant and overdrawn per balance (wallet.lua's fits).
        for _, part in pairs(record.w or {}) do
          for _, held in ipairs(part.g) do
            expired_credits[held[1]] = (expired_credits[held[1]] or 0) + held[2]
          end
          local oh = '~oh|' .. part.b
          expired_credits[oh] = (expired_credits[oh] or 0) + part.o
        end
      end
    end
  end
  return false
end

-- pending.lua ends --
