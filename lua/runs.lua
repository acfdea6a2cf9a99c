-- runs.lua: runs, budgets an agent holds before it starts and every step draws from; after
-- wallet.lua and before prelude.lua, whose reclaim settles an expired run and gives an expired
-- step's draws back.
--
-- A run is a reservation (every level holds it under one id, as a reserve of its event would)
-- whose record has a "run" object, numbers as strings:
--   "L"  its limits, at the user's level only: {"s": steps, "a": attempts per action,
--        "f": fallbacks, "fs": fallback share of each held group in millionths}, each absent
--        for none
--   "u"  {"<group>": milli-units its steps committed or tracked}
--   "o"  {"<group>": milli-units its open steps hold}
--   "fu" {"<group>": milli-units its fallback steps hold or used}
--   "n"  steps so far, "f" fallbacks so far, "A" {"<action id>": attempts so far}
--   "ch" [child run ids]
--   "t"  when its expiry settled it (the prelude's reclaim): it has ended
-- and, at the top of the record, "dp" its depth ("2", "3") when it is a child run.
-- A step's record (a child run's too) names its run "ru", its action "ra" ("" for none) and its
-- kind "rk" first, as the node encodes them, and "rd" the holds it drew from the run ("1,3":
-- indices into its "h"). A drawn hold never touches the user's counters while its run is
-- live: the run holds that budget already. It weighs against the run's hold of the same group,
-- held - used - open; a run's close (or expiry) commits "u" as its holds' actual amounts,
-- credits through the wallet's settle, so one budget is counted once.
-- A run is live while it is held, unexpired (`x` in the future: reclaim has taken every
-- run whose time is up before a script reads one) and not settled by its expiry ("t").
--
-- Built on the first call that needs it (`runs()`), as credits are: a reserve without a run
-- pays for one function.

local runs_lib
local function runs()
  if runs_lib then
    return runs_lib
  end
  local R = {}
  -- A run, its child, and the child's child: no deeper.
  local MAX_DEPTH = 3

  -- Adds `delta` milli-units to `map[key]`, kept as a string, never below zero.
  local function add(map, key, delta)
    map[key] = string.format('%d', math.max(0, (map[key] or 0) + delta))
  end

  -- The run record of `id`, and whether it is live.
  function R.load(id, now)
    local raw = redis.call('HGET', KEYS[2], id)
    local rec = raw and cjson.decode(raw)
    if not rec or not rec.run then
      return nil, false
    end
    return rec, rec.s == 'held' and not rec.run.t and rec.x + 0 > now
  end

  function R.save(id, rec)
    redis.call('HSET', KEYS[2], id, cjson.encode(rec))
  end

  -- The indices of the holds a step's record drew from its run, as a set.
  function R.drawn(record)
    local set = {}
    for i in string.gmatch(record.rd or '', '%d+') do
      set[i + 0] = true
    end
    return set
  end

  -- Marks each hold of a group the run holds with the run's hold (`r`).
  local function mark(rec, holds)
    local by_group = {}
    for _, rh in ipairs(rec.h) do
      by_group[rh.g] = rh
    end
    for i = 1, #holds do
      holds[i].r = by_group[holds[i].g]
    end
  end

  -- Counts a step in its run: the step, its action's attempt, a fallback.
  local function count(S)
    local run = S.rec.run
    run.n = string.format('%d', run.n + 1)
    if S.action ~= '' then
      add(run.A, S.action, 1)
    end
    if S.kind == 'fallback' then
      run.f = string.format('%d', run.f + 1)
    end
  end

  -- A reserve's step (the record the node encoded, `tail`, opens with "ru"): its run, and its
  -- holds of groups the run holds marked. Its `code` is a denial of the whole step: 1 the run
  -- has ended (or is not one), 2 its steps, 3 its action's attempts, 4 its fallbacks are
  -- used up, 5 a child run would be a fourth level.
  function R.step(tail, holds, now)
    local id, action, kind = string.match(tail, '^"ru":"([^"]*)","ra":"([^"]*)","rk":"([^"]*)"')
    local rec, live = R.load(id, now)
    local S = {id = id, action = action, kind = kind, rec = rec, code = 0}
    if not live then
      S.code, S.rec = 1, nil
      return S
    end
    mark(rec, holds)
    local run, L = rec.run, rec.run.L
    if L then
      if L.s and run.n + 1 > L.s + 0 then
        S.code = 2
      elseif L.a and action ~= '' and (run.A[action] or 0) + 1 > L.a + 0 then
        S.code = 3
      elseif L.f and kind == 'fallback' and run.f + 1 > L.f + 0 then
        S.code = 4
      end
      if kind == 'fallback' and L.fs then
        S.share = L.fs + 0
      end
    end
    -- A child run: the node encoded a run object of its own.
    if string.find(tail, '"run":{', 1, true) then
      S.depth = (rec.dp or 1) + 1
      if S.depth > MAX_DEPTH then
        S.code = 5
      end
    end
    return S
  end

  -- What a hold drawing from its run (holds.lua's weigh) denies with: 0 it fits, 4 the run's
  -- budget of its group has no room, 5 a fallback would pass its share of that budget.
  function R.weigh(S, h)
    local run, g, a = S.rec.run, h.g, h.a + 0
    if a > h.r.a - (run.u[g] or 0) - (run.o[g] or 0) then
      return 4
    end
    if S.share and (run.fu[g] or 0) + a > math.floor(h.r.a * S.share / 1000000) then
      return 5
    end
    return 0
  end

  -- Counts an admitted step in its run, its draws open (and a child run among its children),
  -- and answers the record's "rd" and, for a child run, "dp" fields.
  function R.admit(S, holds, child_id)
    local run, drawn = S.rec.run, {}
    for i = 1, #holds do
      local h = holds[i]
      if h.r then
        add(run.o, h.g, h.a)
        if S.kind == 'fallback' then
          add(run.fu, h.g, h.a)
        end
        drawn[#drawn + 1] = i
      end
    end
    count(S)
    local depth = ''
    if S.depth then
      run.ch[#run.ch + 1] = child_id
      depth = '"dp":"' .. S.depth .. '",'
    end
    R.save(S.id, S.rec)
    return '"rd":"' .. table.concat(drawn, ',') .. '",' .. depth
  end

  -- A track's step (`spec` "<run id>|<action id>|<kind>"): its run, and its holds of groups
  -- the run holds marked when the run is live (else they count on the user: a track never
  -- denies). Nothing is written until R.tracked.
  function R.track(spec, holds, now)
    local id, action, kind = string.match(spec, '^([^|]*)|([^|]*)|(.*)$')
    local rec, live = R.load(id, now)
    local S = {id = id, action = action, kind = kind, rec = rec, code = 0}
    if not live then
      S.code, S.rec = 1, nil
      return S
    end
    mark(rec, holds)
    return S
  end

  -- Counts a track's step in its live run, with what its marked holds used.
  function R.tracked(S, holds)
    if not S.rec then
      return
    end
    local run = S.rec.run
    for i = 1, #holds do
      local h = holds[i]
      if h.r then
        add(run.u, h.g, h.a)
        if S.kind == 'fallback' then
          add(run.fu, h.g, h.a)
        end
      end
    end
    count(S)
    R.save(S.id, S.rec)
  end

  -- Appends a step's answer: its code, the run's steps and fallbacks so far, then per hold
  -- what the run has left of its group (-1 for a group the run does not hold).
  function R.answer(S, holds, reply)
    local run = S.rec and S.rec.run
    local n = #reply
    reply[n + 1], reply[n + 2], reply[n + 3] = S.code, run and run.n + 0 or 0, run and run.f + 0 or 0
    for i = 1, #holds do
      local h = holds[i]
      reply[n + 3 + i] = h.r and math.max(0, h.r.a - (run.u[h.g] or 0) - (run.o[h.g] or 0)) or -1
    end
    return reply
  end

  -- What a run's hold used: its steps' "u" (in-flight holds used nothing).
  function R.used(record, h)
    return h.k == 'c' and 0 or (record.run.u[h.g] or 0) + 0
  end

  -- Settles the draws of a step's (or child run's) `record` with its run: each drawn hold's
  -- open draw (unless `open` is false: it expired and went back already) leaves the run's
  -- "o", and `used_of(i, h)` (nil: nothing, a release or an expiry) joins its "u". Answers
  -- whether the run was live and the drawn holds: when it was not, what they used counts on
  -- the user (a late commit), and the caller counts it.
  function R.settle(record, open, used_of, now)
    local drawn = R.drawn(record)
    local rec, live = R.load(record.ru, now)
    if not live or not next(drawn) then
      return live, drawn
    end
    local run, fallback = rec.run, record.rk == 'fallback'
    for i, h in ipairs(record.h) do
      if drawn[i] then
        local used = used_of(i, h)
        used = used and h.k ~= 'c' and used + 0 or 0
        if open then
          add(run.o, h.g, -h.a)
        end
        add(run.u, h.g, used)
        if fallback then
          add(run.fu, h.g, used - (open and h.a or 0))
        end
      end
    end
    R.save(record.ru, rec)
    return live, drawn
  end

  -- A run's and a step's expiry (prelude.lua's reclaim): a step's draws go back to its run; a
  -- run (a child run too) commits what its steps used, its own draws into its parent run.
  -- Answers per hold what goes on the user's counters: `held` true when the hold is the
  -- user's (its held goes back), `used` milli-units to count (a run's, or a late child's).
  function R.expire(id, record, now)
    local per = {}
    local drawn = {}
    if record.ru then
      local live
      live, drawn = R.settle(record, true, function(_, h)
        return record.run and R.used(record, h) or nil
      end, now)
      if record.run and not live then
        -- The parent run has ended: what the child's steps used counts on the user.
        for i, h in ipairs(record.h) do
          if drawn[i] then
            per[i] = {held = false, used = R.used(record, h)}
          end
        end
      end
    end
    for i, h in ipairs(record.h) do
      if not drawn[i] then
        per[i] = {held = true, used = record.run and R.used(record, h) or 0}
      end
    end
    if record.run then
      -- Ended: no step draws from it again, whatever its expiry says (an extension racing
      -- the reclaim cannot bring it back).
      record.run.t = string.format('%d', now)
      R.save(id, record)
    end
    return per
  end

  runs_lib = R
  return R
end

-- runs.lua ends --
