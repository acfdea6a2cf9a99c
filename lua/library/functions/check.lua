-- check.lua: answer what reserve would, changing nothing.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- KEYS[4]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     subscription version the node decided with ("0": no subscription)
-- ARGV[2]     number of holds n, then n times HOLD_FIELDS values, one hold each, as in holds.lua
-- last        the request's decision instant, ms (see holds.lua): its periods must contain it
--
-- Returns {"stale"}, {"more"} when more expired holds are due than one call reads (the node
-- has them reclaimed and asks again), else {"ok", allowed 0|1, then per hold VERDICT_FIELDS
-- values: used, held, quota, denied 0|1 (2: an approval group whose request is pending or would
-- be opened; 3: a per-value group with no room for one more value; 6: a hold that would clamp),
-- then per balance group its balance (wallet.lua's C.append), then per hold that would clamp
-- what it would hold}.

register('check', 'reads', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 4, 2, HOLD_FIELDS, 1)

  -- 1. The node's assumptions checked against Redis: its instant, its periods and the
  -- subscription version.
  local at, holds, quota_in_force = checked(c, ARG.CHECK.holds + 1, n, KEYS[READ_KEY_SUBSCRIPTION], ARGV[ARG.CHECK.version])
  if not at then
    return {'stale'}
  end

  -- 2. Decide as reserve would, with expired holds left out.
  if read_expired(c) then
    return {'more'}
  end
  -- (Its head whole before weigh appends the verdicts after it.)
  local reply = {nil, nil}
  reply[CHECKED.status], reply[CHECKED.allowed] = 'ok', 0
  reply[CHECKED.allowed] = weigh(c, holds, quota_in_force, read_counters(c, holds), reply, c.expired_credits)
  -- An approval group that denies says pending (2) as reserve would: its request is open, or
  -- reserve would open it (as decide_approval.lua keeps its state).
  for i = 1, #holds do
    local h = holds[i]
    if h.ap and reply[verdict_at(CHECKED_FIELDS, i) + VERDICT.denied] == 1 then
      local state = redis.call('HGET', KEYS[READ_KEY_COUNTERS], h.f .. ':ap')
      if not state or state == 'p' then
        reply[verdict_at(CHECKED_FIELDS, i) + VERDICT.denied] = 2
      end
    end
  end
  if holds.credits then
    C.append(c, reply, holds, nil, now)
  end
  -- Last, what each hold that would clamp would hold.
  if holds.clamped then
    append_clamped(holds, reply, CHECKED_FIELDS)
  end
  return reply
end)
