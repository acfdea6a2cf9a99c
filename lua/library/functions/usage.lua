-- usage.lua: read counters as though expired holds were reclaimed. Never writes.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- KEYS[4]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     number of groups n, then n times 5 values: counter field (<group>@<periodStart>, or
--             a per-value group's <group>~<value>@<periodStart>), plan quota milli, the
--             group's balance ("" for a group that has none), and a balance group's period end
--             ms ("" for lifetime, and on other groups) and rollover max milli ("" for none)
--
-- A balance group's allowance is read as a reserve now would find it (wallet.lua's C.open: opened
-- for the period, moved to the quota in force after a plan change or an override), in memory:
-- nothing is written, and the counters and the balance are of one instant.
--
-- Returns {"more"} when more expired holds are due than one call reads (the node has them
-- reclaimed and asks again), else {USAGE: "ok", now ms; then per field its COUNTER: used, held,
-- quota; then per balance group its balance (wallet.lua's C.append); then per field what of its
-- held a team has leased to members' slices (take_slice.lua's ":l", 0 for none); then per
-- field its outcomes (outcomes.lua's "word=n,...", "" for none); then per field what attempts
-- after the first of an original action committed in it (fallbacks.lua's ":fb", 0 for none)}.

register('usage', 'reads', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 4, 1, 5)

  -- 1. Expired holds are left out by hand, while there are few enough to read in one call.
  if read_expired(c) then
    return {'more'}
  end

  -- 2. Every group's counter as it stands, with the quota in force.
  local groups, credited = {}, false
  for i = 1, n do
    local j = ARG.USAGE.groups + ARG.USAGE_GROUP.ro * (i - 1)
    local f, b = ARGV[j + ARG.USAGE_GROUP.f], ARGV[j + ARG.USAGE_GROUP.b]
    -- (A per-value group's field is "<group>~<value>@<start>": its value's override, else its
    -- group's, holds; counters.lua's quotas.)
    local g, v, ps = string.match(f, '^([^~@]*)~?(.-)@([^@]*)$')
    groups[i] = {g = g, v = v ~= '' and v or nil, f = f, q = ARGV[j + ARG.USAGE_GROUP.q]}
    if b ~= '' then
      local ro = ARGV[j + ARG.USAGE_GROUP.ro]
      groups[i].b, groups[i].ps, groups[i].pe, groups[i].ro = b, ps, ARGV[j + ARG.USAGE_GROUP.pe], ro ~= '' and ro + 0 or nil
      credited = true
    end
  end
  local head = {}
  head[USAGE.status], head[USAGE.now] = 'ok', now
  local in_force = quotas(c, KEYS[READ_KEY_SUBSCRIPTION], groups, now)
  local reply = append_counters(c, head, groups, in_force)
  -- 3. Balances as though expired holds had gone back (the credits they hold, pending.lua's),
  -- each allowance opened at the quota in force (C.watch) in the wallet read, never saved.
  if credited then
    for i = 1, n do
      local h = groups[i]
      if h.b then
        C.watch(c, C.wallet(c, h.b, now), h, in_force[i], now)
      end
    end
    reply = C.append(c, reply, groups, nil, now, c.expired_credits)
  end
  -- 4. What of each field a team leased, its outcomes and its fallbacks' spend.
  local fields = {}
  for i = 1, n do
    local f = groups[i].f
    fields[3 * i - 2], fields[3 * i - 1], fields[3 * i] = f .. ':l', f .. ':o', f .. ':fb'
  end
  local read = n > 0 and redis.call('HMGET', KEYS[READ_KEY_COUNTERS], unpack(fields)) or {}
  for i = 1, n do
    reply[#reply + 1] = read[3 * i - 2] and read[3 * i - 2] + 0 or 0
  end
  for i = 1, n do
    reply[#reply + 1] = read[3 * i - 1] or ''
  end
  for i = 1, n do
    reply[#reply + 1] = read[3 * i] and read[3 * i] + 0 or 0
  end
  return reply
end)
