-- runs.lua: runs, budgets an agent holds before it starts and every step draws from; after
-- wallet.lua and before prelude.lua, whose reclaim settles an expired run and gives an expired
-- step's draws back.
--
-- A run is a reservation (every level holds it under one id, as a reserve of its event would)
-- whose record has a "run" object. The node encodes it first in the record, {"L": its limits,
-- "<steps>|<attempts per action>|<fallbacks>|<fallback share in millionths>", each "" for none,
-- at the user's level only}. While the run is open, what its steps did is kept in fields of
-- the counters hash, written in the reserve that starts it:
--   "r|<run>"            cmsgpack of its RUN (steps, fallbacks, the four limits, -1 for none,
--                        its depth), then a RUN_GROUP per group it holds: the group's id,
--                        budget, used, open and fallback spend (milli-units: what it holds,
--                        what its steps committed or tracked, what its open steps hold, what
--                        its fallback steps hold or spent); one field, so a step reads and
--                        writes two or three, whatever its groups
--   "r|<run>|~<action>"  attempts of the action so far, for at most MAX_RUN_ACTIONS (1000)
--                        actions: a reserve naming one more is denied, a track counts in the
--                        run without keeping its action, so a run's end reads a bounded list
--   "r|<run>|#"          how many actions the run keeps
--   "r|<run>|^"          its child runs, "\n<id>" each
--   "r|<run>|$"          what the attempts after the first of one of its actions may hold and
--                        spend together, milli-units of each group it holds (its limit
--                        maxFallbackSpend; fallbacks.lua reads it), only when it has one
-- A step reserve reads them in the counters' HMGET and writes them in their HSET (prelude.lua's
-- read_counters and write_fields; R.of, R.judge and R.admit), unpacking numbers in C: a step
-- makes few strings or tables, which Lua's collector makes dear (decoding the record's JSON,
-- or a table per group, cost a step half a reserve again; BENCHMARKS.md): one table for the
-- step, and its run's first field unpacked.
-- A run is live while its first field exists: its close (commit.lua) and its expiry (the
-- prelude's reclaim) copy its fields into the record's run object ("u", "o", "fu" per group,
-- "A" per action, "n", "f", "ch"; "t" when its expiry settled it) and delete them.
--
-- A step's record (a child run's too) names its run "ru", its action "ra" ("" for none) and its
-- kind "rk" first, as the node encodes them, and "rd" the holds it drew from the run ("1,3":
-- indices into its "h"). A drawn hold never touches the user's counters while its run is
-- live: the run holds that budget already. It weighs against the run's budget of the same
-- group, budget - used - open; a run's close (or expiry) commits its used as its holds' actual
-- amounts, credits through the wallet's settle, so one budget is counted once.
--
-- The functions here serve the calls that settle steps and runs (commit, release, track, the
-- reclaim); they are R's, built once when the library loads, as credits are.

local R = {}
do
  -- `command` (HMGET or HDEL) of the counters hash for every field in `names`, a thousand at a
  -- time: Lua's unpack stops near 8,000 values, and a run written before runs kept at most
  -- MAX_RUN_ACTIONS actions may have more. Answers HMGET's values in the order of `names`.
  local function in_pages(c, command, names)
    local out = {}
    for from = 1, #names, 1000 do
      local got = redis.call(command, c.KEYS[KEY_COUNTERS], unpack(names, from, math.min(from + 999, #names)))
      if type(got) == 'table' then
        for j = 1, #got do
          out[from + j - 1] = got[j]
        end
      end
    end
    return out
  end

  -- The indices of the holds a step's record drew from its run, as a set.
  function R.drawn(c, record)
    local set = {}
    for i in string.gmatch(record.rd or '', '%d+') do
      set[i + 0] = true
    end
    return set
  end

  -- Marks each hold of a group the run holds with the group's budget, used, open and fallback
  -- spend (rb, ru, ro, rf) and where its RUN_GROUP is in the run's first field (`head`,
  -- unpacked): its values at rj + RUN_GROUP.<name>. (Group ids are the holds' own strings
  -- again: comparing them compares references.)
  function R.mark(c, head, holds)
    for j = RUN_FIELDS, #head - 1, RUN_GROUP_FIELDS do
      local g = head[j + RUN_GROUP.g]
      for i = 1, #holds do
        local h = holds[i]
        if h.g == g then
          h.rb, h.ru, h.ro, h.rf, h.rj =
            head[j + RUN_GROUP.b], head[j + RUN_GROUP.u], head[j + RUN_GROUP.o], head[j + RUN_GROUP.fu], j
        end
      end
    end
  end

  -- Writes what the marked holds' groups now hold back into the run's first field `head`.
  function R.unmark(c, head, holds)
    for i = 1, #holds do
      local h = holds[i]
      if h.rb then
        head[h.rj + RUN_GROUP.u], head[h.rj + RUN_GROUP.o], head[h.rj + RUN_GROUP.fu] = h.ru, h.ro, h.rf
      end
    end
  end

  -- A new run's first field, packed (reserve.lua writes it): no step yet, no fallback, its
  -- `limits` as its record keeps them (LIMITS, -1 for none), its `depth`, then a RUN_GROUP per
  -- hold: the group's id, what the run holds of it, and nothing used, open or spent.
  function R.start(c, limits, depth, holds)
    local l, v = {string.match(limits, LIMITS_LINE)}, {}
    local function limit(text)
      return text == '' and -1 or text + 0
    end
    if #l ~= LIMITS_FIELDS then
      error({err = 'ERR qg contract: run limits ' .. limits .. ' are not ' .. LIMITS_FIELDS .. ' fields'})
    end
    v[RUN.n], v[RUN.f], v[RUN.depth] = 0, 0, depth
    v[RUN.ls], v[RUN.la] = limit(l[LIMITS.steps]), limit(l[LIMITS.attempts])
    v[RUN.lf], v[RUN.lfs] = limit(l[LIMITS.fallbacks]), limit(l[LIMITS.share])
    for i = 1, #holds do
      local j = RUN_FIELDS + (i - 1) * RUN_GROUP_FIELDS
      v[j + RUN_GROUP.g], v[j + RUN_GROUP.b] = holds[i].g, holds[i].a + 0
      v[j + RUN_GROUP.u], v[j + RUN_GROUP.o], v[j + RUN_GROUP.fu] = 0, 0, 0
    end
    return cmsgpack.pack(unpack(v, 1, RUN_FIELDS + #holds * RUN_GROUP_FIELDS))
  end

  -- A reserve's run, as the node names it in reserve's arguments: `step` its RUN_STEP ("" for
  -- a reserve that is no step; a child run's start is one), `limits` a new run's LIMITS ("" for
  -- no run's start; reserve.lua calls it when one of them is not ""). Answers what the reserve
  -- hands on from step to step: a step's run `id`, its fields' prefix `key`, its `action` and
  -- whether it is a `fallback`; a start's `limits`; and what R.judge and R.admit make of them.
  function R.of(c, step, limits)
    local id, action, kind
    if step ~= '' then
      id, action, kind = string.match(step, RUN_STEP_LINE)
      if not id then
        error({err = 'ERR qg contract: a step names its run as ' .. RUN_STEP_FIELDS .. ' fields, got ' .. step})
      end
    end
    -- (Every field named here, so the table is made with room for those set later.)
    return {id = id, key = id and 'r|' .. id, action = action, fallback = kind == 'fallback',
      limits = limits ~= '' and limits or nil, code = 0, head = nil, steps = 0, fallbacks = 0, depth = 0,
      tried = 0, at = 0, actions = nil, share = nil}
  end

  -- Judges a step (`run` as R.of made it, with an id) on its run's fields, which the reserve
  -- read last with its counters (`counters`: after run.at, which read_counters set, its first
  -- field, its action's attempts, the run's count of actions and, for a child, its parent's
  -- children). Marks each
  -- hold of a group the run holds with the group's budget, used, open and fallback spend (R.mark:
  -- weigh weighs it on them) and keeps on `run` the first field unpacked (`head`), its steps,
  -- fallbacks and depth, the action's attempts (`tried`), the run's count of actions when this
  -- step's is new (`actions`, else nil), a fallback's `share`, and `code`, a denial of the whole
  -- step: 1 the run has ended, 2 its steps, 3 its action's attempts, 4 its fallbacks are used
  -- up, or its action is new and the run has MAX_RUN_ACTIONS already, 5 a child run would be a
  -- fourth level.
  function R.judge(c, run, counters, holds)
    local at, action = run.at, run.action
    local first = counters[at + 1]
    if not first then
      run.code = 1
      return
    end
    local head = {cmsgpack.unpack(first)}
    local n, f, ls, la, lf, lfs, depth = head[RUN.n], head[RUN.f], head[RUN.ls], head[RUN.la], head[RUN.lf],
      head[RUN.lfs], head[RUN.depth]
    local tried, actions = action ~= '' and (counters[at + 2] or 0) + 0 or 0, nil
    if action ~= '' and not counters[at + 2] then
      actions = (counters[at + 3] or 0) + 0
    end
    R.mark(c, head, holds)
    local code = 0
    if ls >= 0 and n + 1 > ls then
      code = 2
    elseif la >= 0 and action ~= '' and tried + 1 > la then
      code = 3
    elseif actions and actions >= 1000 then
      -- A run keeps at most MAX_RUN_ACTIONS (1000) actions, a field each, which its end reads:
      -- a new one past them is denied as attempts are, so no agent's ids can grow it unbounded.
      code = 3
    elseif lf >= 0 and run.fallback and f + 1 > lf then
      code = 4
    end
    if run.fallback and lfs >= 0 then
      run.share = lfs
    end
    if run.limits and depth + 1 > 3 then
      code = 5
    end
    run.code, run.head, run.steps, run.fallbacks, run.depth, run.tried, run.actions = code, head, n, f, depth,
      tried, actions
  end

  -- An admitted reserve's writes of its run, appended to the counters' HSET (`writes`, filled
  -- up to `k`): a step counted in its run, its draws open (a child run among its parent's
  -- children), and a run's start's first field under its reservation's `id`. Answers the new
  -- `k` and, for a step, which holds it drew from its run ("1,3"), which its record keeps.
  function R.admit(c, run, holds, writes, k, id, counters)
    local drawn
    if run.id then
      local key, list = run.key, ''
      for i = 1, #holds do
        local h = holds[i]
        if h.rb then
          h.ro = h.ro + h.a
          if run.fallback then
            h.rf = h.rf + h.a
          end
          list = list == '' and tostring(i) or list .. ',' .. i
        end
      end
      R.unmark(c, run.head, holds)
      run.steps, run.fallbacks = run.steps + 1, run.fallbacks + (run.fallback and 1 or 0)
      run.head[RUN.n], run.head[RUN.f] = run.steps, run.fallbacks
      writes[k + 1], writes[k + 2], k = key, cmsgpack.pack(unpack(run.head)), k + 2
      if run.action ~= '' then
        writes[k + 1], writes[k + 2], k = key .. '|~' .. run.action, string.format('%d', run.tried + 1), k + 2
      end
      if run.actions then
        writes[k + 1], writes[k + 2], k = key .. '|#', string.format('%d', run.actions + 1), k + 2
      end
      if run.limits then
        writes[k + 1], writes[k + 2], k = key .. '|^', (counters[run.at + 4] or '') .. '\n' .. id, k + 2
      end
      drawn = list
    end
    if run.limits then
      writes[k + 1], writes[k + 2], k = 'r|' .. id, R.start(c, run.limits, run.id and run.depth + 1 or 1, holds), k + 2
      local spend = ({string.match(run.limits, LIMITS_LINE)})[LIMITS.spend]
      if spend ~= '' then
        writes[k + 1], writes[k + 2], k = 'r|' .. id .. '|$', spend, k + 2
      end
    end
    return k, drawn
  end

  -- Reads run `id`'s fields for `holds` as a step reserve does, marking them (R.mark). Answers
  -- the run's first field unpacked in a table (nil when the run has ended), the attempts of
  -- `action`, the fields' names, and the run's count of actions when `action` is new to it
  -- (else nil).
  local function load(c, id, holds, action)
    local key = 'r|' .. id
    local names = {key, key .. '|~' .. (action or ''), key .. '|#'}
    local got = redis.call('HMGET', c.KEYS[KEY_COUNTERS], unpack(names))
    if not got[1] then
      return nil
    end
    local actions = action and action ~= '' and not got[2] and (got[3] or 0) + 0 or nil
    local head = {cmsgpack.unpack(got[1])}
    R.mark(c, head, holds)
    return head, (got[2] or 0) + 0, names, actions
  end

  -- Writes back what `load` read: the marked holds' groups in the run's first field `head`,
  -- and the attempts (`tried`) of `action` when it names one the run keeps (with the run's new
  -- count of `actions` when it is new).
  local function save(c, names, holds, head, action, tried, actions)
    R.unmark(c, head, holds)
    if action and action ~= '' and actions then
      redis.call('HSET', c.KEYS[KEY_COUNTERS], names[1], cmsgpack.pack(unpack(head)), names[2], string.format('%d', tried),
        names[3], string.format('%d', actions))
    elseif action and action ~= '' and tried then
      redis.call('HSET', c.KEYS[KEY_COUNTERS], names[1], cmsgpack.pack(unpack(head)), names[2], string.format('%d', tried))
    else
      redis.call('HSET', c.KEYS[KEY_COUNTERS], names[1], cmsgpack.pack(unpack(head)))
    end
  end

  -- A track's step (`spec` RUN_STEP, "<run id>|<action id>|<kind>"): its holds of groups its
  -- run holds marked when the run is live (else they count on the user: a track never denies),
  -- and a step table for R.tracked and the answer (`code` 1 when the run has ended). Writes
  -- nothing.
  function R.track(c, spec, holds)
    local id, action, kind = string.match(spec, RUN_STEP_LINE)
    local head, tried, names, actions = load(c, id, holds, action)
    return {id = id, action = action, kind = kind, head = head, tried = tried, names = names,
      actions = actions, code = head and 0 or 1}
  end

  -- Counts a track's step in its live run, with what its marked holds used.
  function R.tracked(c, S, holds)
    local head = S.head
    if not head then
      return
    end
    for i = 1, #holds do
      local h = holds[i]
      if h.rb then
        h.ru = h.ru + h.a
        if S.kind == 'fallback' then
          h.rf = h.rf + h.a
        end
      end
    end
    head[RUN.n], head[RUN.f] = head[RUN.n] + 1, head[RUN.f] + (S.kind == 'fallback' and 1 or 0)
    if S.actions and S.actions >= 1000 then
      -- A new action past the run's MAX_RUN_ACTIONS: the step counts, its action is not kept.
      save(c, S.names, holds, head)
    else
      save(c, S.names, holds, head, S.action, S.tried + 1, S.actions and S.actions + 1)
    end
  end

  -- Appends a track step's answer as reserve.lua appends a step's.
  function R.answer(c, S, holds, reply)
    return R.append(c, reply, holds, S.code, S.head and S.head[RUN.n] or 0, S.head and S.head[RUN.f] or 0)
  end

  -- Appends a step's answer (reserve.lua's and a track's): its STEP (its whole-step denial
  -- `code`, the run's `steps` and `fallbacks` so far), then per hold what the run has left of
  -- its group (-1 for a group the run does not hold).
  function R.append(c, reply, holds, code, steps, fallbacks)
    local n = #reply
    reply[n + STEP.code], reply[n + STEP.n], reply[n + STEP.f] = code, steps, fallbacks
    n = n + STEP_FIELDS
    for i = 1, #holds do
      local h = holds[i]
      reply[n + i] = h.rb and math.max(0, h.rb - h.ru - h.ro) or -1
    end
    return reply
  end

  -- Settles the draws of a step's (or child run's) `record` with its run: each drawn hold's
  -- open draw (unless `open` is false: it expired and went back already) leaves the run's
  -- open, and `used_of(i, h)` (nil: nothing, a release or an expiry) joins its used. Answers
  -- whether the run was live and the drawn holds: when it was not, what they used counts on
  -- the user (a late commit), and the caller counts it.
  function R.settle(c, record, open, used_of)
    local drawn = R.drawn(c, record)
    if not next(drawn) then
      return false, drawn
    end
    -- Copies of the drawn holds' groups only, marked by `load`.
    local mine = {}
    for i, h in ipairs(record.h) do
      mine[i] = {g = drawn[i] and h.g or ''}
    end
    local head, _, names = load(c, record.ru, mine)
    if not head then
      return false, drawn
    end
    local fallback = record.rk == 'fallback'
    for i, h in ipairs(record.h) do
      local r = mine[i]
      if drawn[i] and r.rb then
        local used = used_of(i, h)
        used = used and h.k ~= 'c' and used + 0 or 0
        if open then
          r.ro = math.max(0, r.ro - h.a)
        end
        r.ru = r.ru + used
        if fallback then
          r.rf = math.max(0, r.rf + used - (open and h.a or 0))
        end
      end
    end
    save(c, names, mine, head)
    return true, drawn
  end

  -- Whether a step's (or child run's) drawn holds may settle with its run: it is live.
  function R.live(c, record)
    return record.ru ~= nil and redis.call('HEXISTS', c.KEYS[KEY_COUNTERS], 'r|' .. record.ru) == 1
  end

  -- Every field of run `id` (its first, its children's, its count of actions and its attempts'),
  -- for a run's end.
  local function fields_of(c, id)
    local key = 'r|' .. id
    local list = {key, key .. '|^', key .. '|#', key .. '|$'}
    -- Attempts are one field per action: found by their prefix (ids hold no glob character).
    local cursor = '0'
    repeat
      local page = redis.call('HSCAN', c.KEYS[KEY_COUNTERS], cursor, 'MATCH', key .. '|~*', 'COUNT', '1000')
      cursor = page[1]
      for j = 1, #page[2], 2 do
        list[#list + 1] = page[2][j]
      end
    until cursor == '0'
    return list
  end

  -- A run's end (its close, or its expiry at `expired` ms): what its fields say, for its
  -- holds' actual amounts (`used(h)`: in-flight holds used nothing), and the record's run
  -- object as it ended. `finish` then deletes the fields.
  function R.ended(c, id, record, expired)
    local names = fields_of(c, id)
    local got = in_pages(c, 'HMGET', names)
    local run, key = record.run, 'r|' .. id
    local head = got[1] and {cmsgpack.unpack(got[1])}
    local n, f = head and head[RUN.n] or 0, head and head[RUN.f] or 0
    local u, o, fu, A, used = {}, {}, {}, {}, {}
    for j = RUN_FIELDS, head and #head - 1 or 0, RUN_GROUP_FIELDS do
      local g, gu, go, gfu = head[j + RUN_GROUP.g], head[j + RUN_GROUP.u], head[j + RUN_GROUP.o], head[j + RUN_GROUP.fu]
      u[g], o[g], fu[g], used[g] = string.format('%d', gu), string.format('%d', go), string.format('%d', gfu), gu
    end
    for j = 5, #names do
      local v = got[j]
      if v then
        -- "<key>|~<action>"
        A[string.sub(names[j], #key + 3)] = v
      end
    end
    local children = {}
    for child in string.gmatch(got[2] or '', '[^\n]+') do
      children[#children + 1] = child
    end
    run.u, run.o, run.fu, run.A, run.ch = u, o, fu, A, children
    run.n, run.f = string.format('%d', n), string.format('%d', f)
    if expired then
      run.t = string.format('%d', expired)
    end
    return function(h)
      return h.k == 'c' and 0 or used[h.g] or 0
    end
  end

  -- Deletes run `id`'s fields: it has ended (or was given back).
  function R.finish(c, id, record)
    in_pages(c, 'HDEL', fields_of(c, id))
  end

  -- A run's and a step's expiry (prelude.lua's reclaim): a step's draws go back to its run; a
  -- run (a child run too) commits what its steps used, its own draws into its parent run.
  -- Answers per hold what goes on the user's counters: `held` true when the hold is the
  -- user's (its held goes back), `used` milli-units to count (a run's, or a late child's).
  function R.expire(c, id, record, now)
    local per, drawn, used = {}, {}, nil
    if record.run then
      used = R.ended(c, id, record, now)
    end
    if record.ru then
      local live
      live, drawn = R.settle(c, record, true, function(_, h)
        return used and used(h) or nil
      end)
      if used and not live then
        -- The parent run has ended: what the child's steps used counts on the user.
        for i, h in ipairs(record.h) do
          if drawn[i] then
            per[i] = {held = false, used = used(h)}
          end
        end
      end
    end
    for i, h in ipairs(record.h) do
      if not drawn[i] then
        per[i] = {held = true, used = used and used(h) or 0}
      end
    end
    if record.run then
      redis.call('HSET', c.KEYS[KEY_RESERVATIONS], id, cjson.encode(record))
      R.finish(c, id, record)
    end
    return per
  end

  -- Names a step's run, action and kind in its ledger entry's `fields` (commit, track, and a
  -- child run's expiry).
  function R.named(c, fields, run, action, kind)
    fields[#fields + 1], fields[#fields + 2] = 'run', run
    fields[#fields + 1], fields[#fields + 2] = 'action', action
    fields[#fields + 1], fields[#fields + 2] = 'step', kind
    return fields
  end

  -- The ledger entry of a run its expiry ended, as a close's (commit.lua) with the reason
  -- "expired": no usage of its own (its steps' entries counted it), the credits it burned.
  -- Written here, not by changes.lua's ledger, which comes after the prelude that expires it.
  function R.expired(c, id, record, burned, now)
    local keep_ms = c.ARGV[ARG.WRITING.keep]
    if keep_ms == '' then
      return
    end
    local fields = {'kind', 'run_close', 'ref', id, 'event', record.e, 'metadata', record.md or '',
      'quantity', record.qt or '', 'reason', 'expired'}
    if record.ru then
      R.named(c, fields, record.ru, record.ra, record.rk)
    end
    if burned then
      fields[#fields + 1], fields[#fields + 2] = 'credits', cjson.encode(burned)
    end
    fields[#fields + 1], fields[#fields + 2] = 'groups', '[]'
    redis.call('XADD', c.KEYS[KEY_LEDGER], 'MINID', string.format('%d', now - tonumber(keep_ms)), '*', unpack(fields))
  end

end

-- runs.lua ends --
