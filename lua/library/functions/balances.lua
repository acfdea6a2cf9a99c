-- balances.lua: a subject's balances and grants as they stand, expired holds given back first.
--
-- KEYS[1..10] as in prelude.lua
-- KEYS[11]    grants hash, as in grant.lua
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     number of balances n the subject's plan names, then their names
-- then        number of holds m, then m times HOLD_FIELDS values (holds.lua): a hold of each
--             balance group of the plan, whose allowance is opened (or moved to the quota in
--             force, wallet.lua's C.open) as a reserve of it would
-- last        the node's decision instant, ms (holds.lua)
--
-- Returns {"stale"} when the node's instant or a period does not match Redis, {"more"} when
-- expired holds remain to reclaim, else {BALANCES: "ok", Redis time ms, number of balances m;
-- then per balance its name, its wallet as wallet.lua keeps it (grants past their expiry have
-- their remaining expired) and its state (wallet.lua's C.state: available, held, debt, the
-- soonest expiry's amount and instant), then the listed grants' fields of the grants hash as
-- HGETALL answers them: each balance's live grants and its last 100 finished ones}.

register('balances', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n, m = shape(KEYS, ARGV, 11, 5, 1, 1, HOLD_FIELDS, 1)
  local at = decided_at(ARGV[#ARGV], now)
  local allowances = at and read_holds(c, ARG.BALANCES.balances + n + 2, m, at)
  if not allowances then
    return {'stale'}
  end

  -- 1. Expired holds go back first, so nothing shows held that is not.
  if reclaim(c, now) then
    return {'more'}
  end

  -- 1b. Each balance group's allowance as a reserve now would find it.
  if m > 0 then
    local _, quota_in_force = subscription(c, KEYS[KEY_SUBSCRIPTION], allowances, now)
    for i = 1, m do
      local h = allowances[i]
      if h.b then
        C.watch(c, C.wallet(c, h.b, now), h, quota_in_force[i], now)
      end
    end
  end

  -- 2. Every balance the plan names or a grant was made in (C.balance_names).
  local named = {}
  for i = 1, n do
    named[i] = ARGV[ARG.BALANCES.balances + i]
  end
  local names = C.balance_names(c, KEYS[KEY_GRANTS], named)
  -- The grants listed: each balance's live ones (in its wallet) and the last 100 that finished
  -- ("f|<balance>", C.compact), records and final amounts: a bounded read however many grants
  -- the subject was ever made.
  local ids = {}
  local reply = {}
  reply[BALANCES.status], reply[BALANCES.now], reply[BALANCES.count] = 'ok', now, #names
  for _, name in ipairs(names) do
    local w = C.wallet(c, name, now)
    for _, g in ipairs(w.g) do
      if string.byte(g.i) ~= BYTE_TILDE then
        ids[#ids + 1] = g.i
      end
    end
    for id in string.gmatch(redis.call('HGET', KEYS[KEY_GRANTS], 'f|' .. name) or '', '[^\n]+') do
      ids[#ids + 1] = id
      ids[#ids + 1] = 'n|' .. id
    end
    reply[#reply + 1] = name
    reply[#reply + 1] = C.encode(c, w)
    -- Its state as every answer gives it (BALANCE): available, held, debt, the soonest expiry.
    C.state(c, name, now, nil, reply)
  end
  -- (A hundred at a time: unpack stops near 8,000 values.)
  for from = 1, #ids, 100 do
    local to = math.min(from + 99, #ids)
    local got = redis.call('HMGET', KEYS[KEY_GRANTS], unpack(ids, from, to))
    for j = from, to do
      local value = got[j - from + 1]
      if value then
        reply[#reply + 1] = ids[j]
        reply[#reply + 1] = value
      end
    end
  end
  -- What expired on the way is kept, with its ledger entries.
  C.save(c, now, nil, true)
  return reply
end)
