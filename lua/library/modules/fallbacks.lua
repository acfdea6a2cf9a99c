-- fallbacks.lua: what the attempts after the first of one original action hold and spend
-- together, capped per group in the same call as each attempt's hold; after runs.lua (a hold
-- drawn from a run is capped by its run) and before reserving.lua.
--
-- A reserve that is such an attempt (a routed proxy call's second target, or its third...)
-- names it in its FALLBACK argument, "<chain>|<caps>": the original action ("<run>~<action>"
-- for an action of a run, so every call of it shares one chain; else the call's own id) and
-- the caps of its matched groups' `maxFallbackSpend`, "<group>=<milli>,..." ("" for none). A
-- hold drawn from a run is capped by its run's `maxFallbackSpend` instead (its field
-- "r|<run>|$", written at the run's start when it has one; runs.lua).
-- The chain's attempts that held a capped group are listed in the counters hash's field
-- "fb|<chain>", "\n<reservation id>" each, at most MAX_CHAIN; what they hold and spend is read
-- from their records: an open one's holds, a committed one's committed amounts ("n"), nothing
-- of one released or expired (it gave its hold back). No counter is kept beside the records, so
-- no commit, release or expiry has anything more to write. The list leaves with the ended set,
-- a retention after its last attempt ("c:<chain>", prelude.lua's prune): records outlive it.
--
-- An attempt's record names its chain ("fc"), and its commit counts what it committed in each
-- group's fallback spend of the period ("<counter field>:fb", F.committed), which usage answers.
--
-- The functions here serve reserve.lua and commit.lua; they are F's, built once when the
-- library loads.

local F = {}
do
  -- The most attempts a chain lists: past them a capped attempt is refused, so a reserve reads a
  -- bounded list whatever a caller does.
  local MAX_CHAIN = 32

  -- What the listed attempts hold and spend, per group id (milli-units), and how many there are.
  local function spent_of(c, list)
    local spent, n = {}, 0
    for id in string.gmatch(list, '[^\n]+') do
      n = n + 1
      local raw = redis.call('HGET', c.KEYS[KEY_RESERVATIONS], id)
      local record = raw and cjson.decode(raw)
      local open = record and record.s == 'held' and redis.call('ZSCORE', c.KEYS[KEY_OPEN], id)
      if open or (record and record.s == 'committed') then
        for _, h in ipairs(record.h) do
          -- (An in-flight hold counts no usage: what it held comes back whatever the call did.)
          if h.k ~= 'c' then
            spent[h.g] = (spent[h.g] or 0) + (open and h.a or h.n or h.a)
          end
        end
      end
    end
    return spent, n
  end

  -- A reserve's attempt as its FALLBACK argument (`spec`) names it, nil for "" (a first attempt,
  -- or a call of no action): its `chain`, the `caps` by group id, and what F.weigh finds.
  function F.of(c, spec, m)
    if spec == '' then
      return nil
    end
    local chain, caps = string.match(spec, FALLBACK_LINE)
    if not chain or chain == '' or m ~= 1 then
      error({err = 'ERR qg contract: a fallback names its chain, of one alternative: ' .. spec})
    end
    local by = {}
    for g, milli in string.gmatch(caps, '([^=,]+)=(%d+)') do
      by[g] = milli + 0
    end
    return {chain = chain, caps = by, list = nil}
  end

  -- Weighs an attempt the reserve admitted (`reply` its decision, as reserve_decide made it)
  -- against its chain: a capped hold whose group's spend so far and its amount pass the cap is
  -- denied 5 (fallback_budget_exhausted), as all are past MAX_CHAIN. Reads nothing when no hold
  -- is capped. Answers 1 when it is still admitted, else 0.
  function F.weigh(c, f, holds, reply, run)
    local run_cap
    if run and run.id then
      local v = redis.call('HGET', c.KEYS[KEY_COUNTERS], 'r|' .. run.id .. '|$')
      run_cap = v and v + 0
    end
    local capped = false
    for i = 1, #holds do
      local h = holds[i]
      if h.rb then
        h.fc = run_cap
      else
        h.fc = f.caps[h.g]
      end
      capped = capped or (h.fc ~= nil and h.k ~= 'c')
    end
    if not capped then
      return 1
    end
    f.list = redis.call('HGET', c.KEYS[KEY_COUNTERS], 'fb|' .. f.chain) or ''
    local spent, n = spent_of(c, f.list)
    local allowed, at = 1, RESERVED_FIELDS + VERDICT.denied
    for i = 1, #holds do
      local h = holds[i]
      if h.fc and h.k ~= 'c' and (n >= MAX_CHAIN or (spent[h.g] or 0) + h.a > h.fc) then
        reply[at], allowed = 5, 0
      end
      at = at + VERDICT_FIELDS
    end
    reply[RESERVED.allowed] = allowed
    return allowed
  end

  -- A committed attempt after the first (its record names its chain, "fc") counts what it
  -- committed in each of its groups' fallback spend of the period, "<counter field>:fb", which
  -- usage.lua answers beside the counter (in-flight holds, and holds on slices, count none).
  function F.committed(c, record)
    for i, h in ipairs(record.h) do
      local n = tonumber(h.n)
      if h.k ~= 'c' and not (record.sl and record.sl[tostring(i)]) and n and n > 0 then
        redis.call('HINCRBY', c.KEYS[KEY_COUNTERS], h.f .. ':fb', string.format('%d', n))
      end
    end
  end

  -- An admitted attempt that held a capped group joins its chain's list, which leaves a
  -- retention after this attempt (prelude.lua's prune of the ended set).
  function F.admit(c, f, id)
    if not f.list then
      return
    end
    redis.call('HSET', c.KEYS[KEY_COUNTERS], 'fb|' .. f.chain, f.list .. '\n' .. id)
    redis.call('ZADD', c.KEYS[KEY_ENDED], string.format('%d', c.now + c.ARGV[ARG.WRITING.retention]), 'c:' .. f.chain)
  end
end

-- fallbacks.lua ends --
