-- alternatives.lua: a reserve of alternatives (functions/reserve.lua), after reserving.lua,
-- whose steps it repeats per alternative. The node asks for up to MAX_ALTERNATIVES events in
-- one call, in the order the app prefers them; the first that every matched group admits is
-- held. Every alternative's holds are checked before anything is read (A.checked); then each
-- is read and decided in turn, as a plain reserve is, until one admits or none is left; only
-- then is anything written: the held one's holds and record, and for each alternative denied
-- before it what a denial writes but its ledger entry (its alerts, an approval group's
-- request, the day's denials: reserving.lua's deny_passed). So no other call can change the
-- picture between the denial of one and the hold of the next.
--
-- Each alternative's record (as the node encoded it) names its index as asked, "ac", and
-- every alternative asked, "al": a JSON text, [{"event", "quantity", "metadata", "denied"}]
-- (the node's denials of those it did not ask the script about, [[group, reason], ...]). The
-- held one's record keeps, as "ad", the denials of those this call weighed before it
-- ([{"i": index, "d": [[group, reason], ...]}], reserving.lua's denial_of); the ledger entry
-- that ends it says all three (prelude.lua's with_alternatives), and a denial of every one
-- says them in its entry (reserving.lua's count_denial). A plain reserve is one alternative
-- whose record names none, and it costs what it did: a call of one alternative makes no table
-- here.

local A = {}
do
  -- Where alternative a's arguments begin, less one (its ALTERNATIVE values follow), in a call
  -- whose alternatives are counted at ARGV[alt_arg]: each takes as many as its last place.
  function A.at(alt_arg, a)
    return alt_arg + ARG.ALTERNATIVE.record * (a - 1)
  end

  -- The counts of the alternatives' holds (alternative a's at ARGV[alt_arg + 2a - 1]): each a
  -- whole number, together the call's `n`, at most MAX_ALTERNATIVES of them; else an error
  -- reply. Answers the first's.
  function A.counts(c, alt_arg, n, m)
    local ARGV = c.ARGV
    if m < 1 or m > MAX_ALTERNATIVES then
      error({err = 'ERR qg contract: a reserve has 1 to ' .. MAX_ALTERNATIVES .. ' alternatives, got ' .. m})
    end
    local total = 0
    for a = 1, m do
      local count = tonumber(ARGV[A.at(alt_arg, a) + ARG.ALTERNATIVE.holds])
      if not count or count < 0 or count % 1 ~= 0 then
        error({err = 'ERR qg contract: alternative ' .. a .. ' counts its holds as ' .. tostring(ARGV[A.at(alt_arg, a) + ARG.ALTERNATIVE.holds])})
      end
      total = total + count
    end
    if total ~= n then
      error({err = 'ERR qg contract: the alternatives count ' .. total .. ' holds of ' .. n})
    end
    return ARGV[alt_arg + ARG.ALTERNATIVE.holds] + 0
  end

  -- The holds of alternatives 2 to m (holds.lua's read_holds) and their quotas in force, after
  -- reserve.lua checked the first's: answers them by alternative ({holds, quota in force}),
  -- or nil when a period does not contain `at` or the subscription's version is not the
  -- node's (the call answers "stale"). (Each reads the version again, as the first did: a
  -- plain reserve, one alternative, makes no call here.)
  function A.checked(c, at, alt_arg, m)
    local ARGV, list = c.ARGV, {}
    local first = ARG.RESERVE.holds + 1 + HOLD_FIELDS * ARGV[alt_arg + ARG.ALTERNATIVE.holds]
    for a = 2, m do
      local count = ARGV[A.at(alt_arg, a) + ARG.ALTERNATIVE.holds] + 0
      local holds = read_holds(c, first, count, at)
      if not holds then
        return nil
      end
      local ver, quota_in_force = subscription(c, c.KEYS[KEY_SUBSCRIPTION], holds, c.now)
      if ver ~= ARGV[ARG.RESERVE.version] then
        return nil
      end
      list[a], first = {holds, quota_in_force}, first + HOLD_FIELDS * count
    end
    return list
  end

  -- The held alternative's record (`tail`, as the node encoded it) with the denials of those
  -- weighed before it (`passed`, as reserve.lua keeps them), whose writes are made here
  -- (reserving.lua's deny_passed).
  function A.denied(c, passed, tail)
    return '"ad":[' .. table.concat(deny_passed(c, passed), ',') .. '],' .. tail
  end

  -- The answer of a call of several alternatives, kept for repeats: FIRST (RESERVED's head,
  -- then how many alternatives it weighed), the verdicts of each one weighed (`passed`, then
  -- the one it decided on: its `holds`, decision `reply` and `run`), the alerts fired, then per
  -- alternative weighed its balances, its run's answer and its clamped holds, as
  -- reserving.lua's reserve_answer appends a plain reserve's.
  function A.answer(c, passed, holds, reply, run, at)
    local out, weighed = {}, passed or {}
    weighed[#weighed + 1] = {holds, nil, nil, reply, run}
    out[FIRST.status], out[FIRST.id], out[FIRST.expires], out[FIRST.allowed], out[FIRST.tried] =
      reply[RESERVED.status], reply[RESERVED.id], reply[RESERVED.expires], reply[RESERVED.allowed], #weighed
    for _, p in ipairs(weighed) do
      local r = p[4]
      for k = RESERVED_FIELDS + 1, RESERVED_FIELDS + #p[1] * VERDICT_FIELDS do
        out[#out + 1] = r[k]
      end
    end
    append_fired(c, out)
    for _, p in ipairs(weighed) do
      local h, r, step = p[1], p[4], p[5]
      if h.credits then
        C.append_reserved(c, h, out, c.now)
      end
      if step and step.id then
        R.append(c, out, h, step.code, step.steps, step.fallbacks)
      end
      for i = 1, h.clamped and #h or 0 do
        if r[verdict_at(RESERVED_FIELDS, i) + VERDICT.denied] == 6 then
          out[#out + 1] = h[i].a
        end
      end
    end
    return remember(c, out, c.now, at)
  end
end

-- alternatives.lua ends --
