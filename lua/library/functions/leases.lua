-- leases.lua: the leases a team's level has open (take_slice.lua), a page of its open set at a
-- time, for the node to end the slices whose time is over when a denial says capacity is
-- leased (docs/decisions/0060-leased-slices.md). Never writes.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- ARGV[1]     the open set's rank to read from
-- ARGV[2]     how many of its ids to read (at most 1,000)
--
-- Returns {LEASES: "ok", now ms, the rank to read from next (0: none left); then per open lease
-- its LEASE: id, member, the team's counter field, its period's end ("" for a lifetime), when
-- its slice ends, what statements counted used, what it still leases}.

register('leases', 'reads', function(c)
  local KEYS, ARGV = c.KEYS, c.ARGV
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 3, 2)

  local from, count = ARGV[ARG.LEASES.rank] + 0, math.min(ARGV[ARG.LEASES.count] + 0, 1000)
  local ids = redis.call('ZRANGE', KEYS[READ_KEY_OPEN], from, from + count - 1)
  local reply = {}
  reply[LEASES.status], reply[LEASES.now] = 'ok', c.now
  reply[LEASES.next] = #ids == count and from + count or 0
  for _, id in ipairs(ids) do
    -- (A lease's id is "l" and the id of the reservation that asked; src/quota/ids.rs starts
    -- no other id with it.)
    if string.sub(id, 1, 1) == 'l' then
      local raw = redis.call('HGET', KEYS[READ_KEY_RESERVATIONS], id)
      local record = raw and cjson.decode(raw)
      if record and record.ls and record.s == 'held' then
        local r = #reply
        local h = record.h[1]
        reply[r + LEASE.id], reply[r + LEASE.member], reply[r + LEASE.field] = id, record.ls, h.f
        reply[r + LEASE.period_end], reply[r + LEASE.ends] = h.pe, record.sx + 0
        reply[r + LEASE.used], reply[r + LEASE.leased] = record.su + 0, record.sk + 0
      end
    end
  end
  return reply
end)
