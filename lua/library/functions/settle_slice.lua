-- settle_slice.lua: apply a statement of a member's slice to its lease, at the parent's level
-- (docs/decisions/0060-leased-slices.md). A statement is cumulative: what the slice has used
-- since it was placed, and what its open holds still hold. Statements are numbered per lease,
-- and one at or below the number applied last changes nothing, so a statement applied twice,
-- or after a later one, is harmless: the lease counts max(used counted, used) as used and
-- keeps leased what the slice still holds (never more than before); what the statement gives
-- back leaves the group's held. A lease left holding nothing is committed, and a later
-- statement (a late commit on the slice) still counts the usage it adds. A lease its backstop
-- lapsed (the prelude's reclaim counted what it leased as used) holds nothing more, and a
-- statement counts only usage past what the lapse counted.
--
-- KEYS[1..10] as in prelude.lua, the parent's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     the lease's id
-- ARGV[6]     the statement's number, from 1
-- ARGV[7]     what the slice has used since it was placed, milli-units
-- ARGV[8]     what its open holds still hold, milli-units
-- ARGV[9]     the member whose slice it is
--
-- Returns {"more"} when expired holds remain to reclaim, {"overflow", group} when the used
-- counter would pass 2^53 - 1 milli-units (nothing changes), else {SETTLED: "ok", applied 1|0,
-- what the lease still holds; then the alerts fired (as alerts.lua appends them)}. A lease this
-- level never took is settled as nothing: its id is kept, settled, until retention ends, so a
-- take that arrives later under it leases nothing (take_slice.lua).

register('settle_slice', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 9)

  -- 1. Expired holds and lapsed leases go back first; then the lease, or its tombstone.
  local id = ARGV[5]
  local record, state, raw = find_reservation(c, id, now)
  local reply = {}
  if not record then
    if raw[1] ~= 'not_found' then
      return raw
    end
    finish(c, id, {v = RECORD_VERSION, ls = ARGV[9], e = '', h = {}}, 'released', now)
    reply[SETTLED.status], reply[SETTLED.applied], reply[SETTLED.leased] = 'ok', 1, 0
    return append_fired(c, reply)
  end
  if not record.ls then
    error({err = 'ERR qg contract: ' .. id .. ' is no lease'})
  end
  if state == 'released' then
    -- Settled as nothing before it was taken: nothing was leased under it.
    reply[SETTLED.status], reply[SETTLED.applied], reply[SETTLED.leased] = 'ok', 0, 0
    return append_fired(c, reply)
  end
  local leased = record.sk + 0
  if ARGV[6] + 0 <= record.sn + 0 then
    reply[SETTLED.status], reply[SETTLED.applied], reply[SETTLED.leased] = 'ok', 0, leased
    return append_fired(c, reply)
  end

  -- 2. Used counted up to what the slice used; leased down to what its holds still hold (to
  -- nothing once the lease ended: committed, or lapsed).
  local used = math.max(record.su + 0, ARGV[7] + 0)
  local still = state == 'held' and math.min(leased, ARGV[8] + 0) or 0
  local added, back = used - record.su, leased - still
  local over, before, after = move_counters(c, record.h, ':u', function() return added end)
  if over then
    return {'overflow', over}
  end
  if back > 0 then
    move_counters(c, record.h, ':h', function() return -back end)
    local f = record.h[1].f .. ':l'
    local l = redis.call('HGET', KEYS[1], f)
    write_fields(c, {f, math.max(0, (l and l + 0 or 0) - back)})
  end
  alert_crossings(c, record.h, quotas(c, KEYS[6], record.h, now), before, after)
  record.sn, record.su, record.sk = ARGV[6], string.format('%d', used), string.format('%d', still)
  if state == 'held' and still == 0 then
    finish(c, id, record, 'committed', now)
  else
    redis.call('HSET', KEYS[2], id, cjson.encode(record))
  end
  reply[SETTLED.status], reply[SETTLED.applied], reply[SETTLED.leased] = 'ok', 1, still
  return append_fired(c, reply)
end)
