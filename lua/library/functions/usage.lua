-- usage.lua: read counters as though expired holds were reclaimed. Never writes.
--
-- KEYS[1..3]  as in pending.lua (ctr, res, open)
-- KEYS[4]     the subscription hash        qg:{p:u}:sub
-- ARGV[1]     number of groups n, then n triples: counter field (<group>@<periodStart>, or a
--             per-value group's <group>~<value>@<periodStart>), plan
--             quota milli, and the group's balance ("" for a group that has none)
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
  local n = shape(KEYS, ARGV, 4, 1, 3)

  -- 1. Expired holds are left out by hand, while there are few enough to read in one call.
  if read_expired(c) then
    return {'more'}
  end

  -- 2. Every group's counter as it stands, with the quota in force.
  local groups, credited = {}, false
  for i = 1, n do
    local f, b = ARGV[3 * i - 1], ARGV[3 * i + 1]
    -- (A per-value group's field is "<group>~<value>@<start>": its value's override, else its
    -- group's, holds; counters.lua's quotas.)
    local g, v = string.match(f, '^([^~@]*)~?(.-)@[^@]*$')
    groups[i] = {g = g, v = v ~= '' and v or nil, f = f, q = ARGV[3 * i]}
    if b ~= '' then
      groups[i].b, credited = b, true
    end
  end
  local head = {}
  head[USAGE.status], head[USAGE.now] = 'ok', now
  local reply = append_counters(c, head, groups, quotas(c, KEYS[READ_KEY_SUBSCRIPTION], groups, now))
  -- Balances as though expired holds had gone back (the credits they hold, pending.lua's).
  if credited then
    reply = C.append(c, reply, groups, nil, now, c.expired_credits)
  end
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
