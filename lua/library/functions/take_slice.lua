-- take_slice.lua: lease a slice of one of a parent's groups to a member, at the parent's level
-- (docs/decisions/0060-leased-slices.md). A lease is a reservation of the parent's, with one
-- hold, that the member's slot spends as a slice: held here, it counts against the parent's
-- quota in every decision made here, like any open hold. Statements from the member's slot
-- settle it (settle_slice.lua); one no statement settled by its backstop is counted as used
-- whole by the prelude's reclaim, which can never pass the quota.
--
-- KEYS[1..10] as in prelude.lua, the parent's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     the parent's subscription version the node decided with ("0": none)
-- ARGV[6]     the lease's id (the member's intent named it)
-- ARGV[7]     the member
-- ARGV[8]     ms after which no new hold goes on the slice
-- ARGV[9]     the lease's backstop, ms
-- ARGV[10]    the least worth leasing, milli-units (the call that asked)
-- ARGV[11]    the threshold: headroom a take must leave, milli-units
-- ARGV[12..18] one hold (HOLD_FIELDS values, as in holds.lua) of a hard group, whose amount
--             is the slice asked for
-- ARGV[19]    the request's decision instant, ms (as holds.lua's decided_at reads it)
--
-- Returns {"stale"} when the version or the period does not match Redis, {"more"} when expired
-- holds remain to reclaim, {"refused"} when the id was settled before it was taken (its intent
-- was abandoned: nothing may be leased under it now), {"direct"} when the headroom left after
-- the least would be below the threshold (near the limit the member decides here, as a
-- reserve), else {TAKEN: "ok", id, amount, ends, the group's used, held and quota in force}
-- (a repeat of a take that leased answers its lease as it was taken, and the counter now).

register('take_slice', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 19)

  -- 1. An id seen before: the lease it leased, or refused when it was settled untaken.
  local id = ARGV[6]
  local known = redis.call('HGET', KEYS[2], id)
  if known then
    local record = cjson.decode(known)
    if not record.ls or record.s ~= 'held' then
      return {'refused'}
    end
    local reply = {}
    reply[TAKEN.status], reply[TAKEN.id], reply[TAKEN.amount], reply[TAKEN.ends] = 'ok', id, record.h[1].a + 0, record.sx + 0
    local counters = read_counters(c, record.h)
    reply[TAKEN.used], reply[TAKEN.held], reply[TAKEN.quota] = counters[1], counters[2],
      quotas(c, KEYS[6], record.h, now)[1]
    return reply
  end

  -- 2. The node's assumptions checked against Redis, as a reserve's.
  local at = decided_at(ARGV[#ARGV], now)
  local holds = at and read_holds(c, 12, 1, at)
  if not holds then
    return {'stale'}
  end
  local h = holds[1]
  if h.m or h.b or h.ap or h.pv or h.fit then
    error({err = 'ERR qg contract: a slice is leased of a hard group only, got ' .. h.g})
  end
  local version, quota_in_force = subscription(c, KEYS[6], holds, now)
  if version ~= ARGV[5] then
    return {'stale'}
  end

  -- 3. Expired holds (and lapsed leases) go back first, so they never count against the take.
  if reclaim_first(c, now) then
    return {'more'}
  end

  -- 4. What is left after the threshold, up to what was asked; at least the least, or direct.
  local counters = read_counters(c, holds)
  local used, held, quota = counters[1], counters[2], quota_in_force[1]
  local amount = math.min(h.a + 0, quota - used - held - ARGV[11])
  if quota == 0 or amount < ARGV[10] + 0 or amount <= 0 then
    return {'direct'}
  end

  -- 5. Held on the group's counter (":h"), of which ":l" says how much is leased; the record
  -- open until its backstop, which lowers "~open" when it is nearer (prelude.lua).
  h.a = string.format('%d', amount)
  local leased = redis.call('HGET', KEYS[1], h.f .. ':l')
  write_fields(c, {h.f .. ':h', held + amount, h.f .. ':l', (leased and leased + 0 or 0) + amount})
  note_periods(c, holds, counters)
  local record = {v = RECORD_VERSION, s = 'held', ls = ARGV[7], e = '', qt = h.a, c = string.format('%d', at),
    cr = string.format('%d', now), x = ARGV[9], sx = ARGV[8], sn = '0', su = '0', sk = h.a, h = {h}}
  redis.call('HSET', KEYS[2], id, cjson.encode(record))
  redis.call('ZADD', KEYS[3], ARGV[9], id)
  local open = redis.call('HGET', KEYS[1], '~open')
  if open and ARGV[9] + 0 < open + 0 then
    redis.call('HSET', KEYS[1], '~open', ARGV[9])
  end
  local reply = {}
  reply[TAKEN.status], reply[TAKEN.id], reply[TAKEN.amount], reply[TAKEN.ends] = 'ok', id, amount, ARGV[8] + 0
  reply[TAKEN.used], reply[TAKEN.held], reply[TAKEN.quota] = used, held + amount, quota
  return reply
end)
