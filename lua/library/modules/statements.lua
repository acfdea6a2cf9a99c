-- statements.lua: a member's statement of its slice applied to its lease, at the parent's level
-- (docs/decisions/0060-leased-slices.md), for settle_slice.lua and take_slice.lua (which applies
-- the statement of the slice a renewal closed before it leases the next); after changes.lua,
-- alerts.lua and counters.lua.
--
-- A statement is cumulative: what the slice has used since it was placed, and what its open
-- holds still hold. Statements are numbered per lease, and one at or below the number applied
-- last changes nothing, so a statement applied twice, or after a later one, is harmless: the
-- lease counts max(used counted, used) as used and keeps leased what the slice still holds
-- (never more than before); what the statement gives back leaves the group's held. A lease left
-- holding nothing is committed, and a later statement (a late commit on the slice) still counts
-- the usage it adds. A lease its backstop lapsed (the prelude's reclaim counted what it leased
-- as used) holds nothing more, and a statement counts only usage past what the lapse counted.
-- A lease this level never took is settled as nothing: its id is kept, settled, until
-- retention ends, so a take that arrives later under it leases nothing.

-- Applies statement `number` of lease `id`, of `member`'s slice: what it has used and still
-- holds, milli-units (as text). Answers 1 when it changed the lease (0 when a later one had)
-- and what the lease still holds; or nil and the early answer of the whole call ({"more"},
-- {"overflow", group}: this statement changes nothing). Alerts it fires join `c.fired`.
local function apply_statement(c, member, id, number, used_stated, held_stated)
  local now = c.now
  -- Expired holds and lapsed leases go back first; then the lease, or its tombstone.
  local record, state, raw = find_reservation(c, id, now)
  if not record then
    if raw[1] ~= 'not_found' then
      return nil, raw
    end
    finish(c, id, {v = RECORD_VERSION, ls = member, e = '', h = {}}, 'released', now)
    return 1, 0
  end
  if not record.ls then
    error({err = 'ERR qg contract: ' .. id .. ' is no lease'})
  end
  if state == 'released' then
    -- Settled as nothing before it was taken: nothing was leased under it.
    return 0, 0
  end
  local leased = record.sk + 0
  if number + 0 <= record.sn + 0 then
    return 0, leased
  end

  -- Used counted up to what the slice used; leased down to what its holds still hold (to
  -- nothing once the lease ended: committed, or lapsed).
  local used = math.max(record.su + 0, used_stated + 0)
  local still = state == 'held' and math.min(leased, held_stated + 0) or 0
  local added, back = used - record.su, leased - still
  local over, before, after = move_counters(c, record.h, ':u', function() return added end)
  if over then
    return nil, {'overflow', over}
  end
  if back > 0 then
    move_counters(c, record.h, ':h', function() return -back end)
    local f = record.h[1].f .. ':l'
    local l = redis.call('HGET', c.KEYS[KEY_COUNTERS], f)
    write_fields(c, {f, math.max(0, (l and l + 0 or 0) - back)})
  end
  alert_crossings(c, record.h, quotas(c, c.KEYS[KEY_SUBSCRIPTION], record.h, now), before, after)
  record.sn, record.su, record.sk = number, string.format('%d', used), string.format('%d', still)
  if state == 'held' and still == 0 then
    finish(c, id, record, 'committed', now)
  else
    redis.call('HSET', c.KEYS[KEY_RESERVATIONS], id, cjson.encode(record))
  end
  return 1, still
end

-- statements.lua ends --
