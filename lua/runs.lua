-- runs.lua: runs, budgets an agent holds before it starts and every step draws from; after
-- wallet.lua and before prelude.lua, whose reclaim settles an expired run and gives an expired
-- step's draws back.
--
-- A run is a reservation (every level holds it under one id, as a reserve of its event would)
-- whose record has a "run" object. The node encodes it first in the record, {"L": its limits,
-- "<steps>|<attempts per action>|<fallbacks>|<fallback share in millionths>", each "" for none,
-- at the user's level only}. While the run is open, what its steps did is its line, field
-- "r|<run id>" of the counters hash, written in the reserve that starts it:
--   "<steps>|<fallbacks>|<limits as in L>|<depth>"
--   then per group it holds "\n=<group>|<budget>|<used>|<open>|<fallback spend>" (milli-units:
--   what it holds, what its steps committed or tracked, what its open steps hold, what its
--   fallback steps hold or spent), per action attempted "\n~<action id>|<attempts>", per child
--   run "\n^<child run id>"
-- (group and action ids hold neither "|" nor a line break). A step reads and writes the line
-- alone, never the record's JSON, so a step costs about what a reserve costs (BENCHMARKS.md).
-- A run is live while its line exists: its close (commit.lua) and its expiry (the prelude's
-- reclaim) copy what the line says into the record's run object ("u", "o", "fu" per group,
-- "A" per action, "n", "f", "ch"; "t" when its expiry settled it) and delete the line.
--
-- A step's record (a child run's too) names its run "ru", its action "ra" ("" for none) and its
-- kind "rk" first, as the node encodes them, and "rd" the holds it drew from the run ("1,3":
-- indices into its "h"). A drawn hold never touches the user's counters while its run is
-- live: the run holds that budget already. It weighs against the run's budget of the same
-- group, budget - used - open; a run's close (or expiry) commits its used as its holds' actual
-- amounts, credits through the wallet's settle, so one budget is counted once.
--
-- Built on the first call that needs it (`runs()`), as credits are: a reserve without a run
-- pays for one function.

local runs_lib
local function runs()
  if runs_lib then
    return runs_lib
  end
  local R
  -- A run, its child, and the child's child: no deeper.
  local MAX_DEPTH = 3

  -- The run's line, read where a call needs it and never parsed into tables (each table and
  -- string a call makes is Lua's garbage to collect, a fifth of a step's cost when it parsed
  -- whole lines): its head's fields and where its counts end, or nil once the run has ended.
  local function open(id)
    local line = redis.call('HGET', KEYS[1], 'r|' .. id)
    if not line then
      return nil
    end
    local n, f, ce, ls, la, lf, lfs, dp = string.match(line, '^(%d+)|(%d+)()|(%d*)|(%d*)|(%d*)|(%d*)|(%d+)')
    if not n then
      error({err = 'ERR qg contract: a run line that is not one: ' .. line})
    end
    return {id = id, line = line, n = n + 0, f = f + 0, ce = ce, ls = tonumber(ls), la = tonumber(la),
      lf = tonumber(lf), lfs = tonumber(lfs), dp = dp + 0, edits = {}}
  end

  -- Group `g`'s values in the run's line: budget, used, open and fallback spend, and the span
  -- [from, to) they take; nil when the run holds no such group.
  local function group(L, g)
    local at = string.find(L.line, '\n=' .. g .. '|', 1, true)
    if not at then
      return nil
    end
    local from = at + 3 + #g
    local b, u, o, fu, to = string.match(L.line, '^(%d+)|(%d+)|(%d+)|(%d+)()', from)
    local r = {b = b + 0, u = u + 0, o = o + 0, fu = fu + 0, from = from, to = to}
    L.edits[#L.edits + 1] = r
    return r
  end

  -- Counts an attempt of `action` in the run's line.
  local function attempt(L, action)
    local at = string.find(L.line, '\n~' .. action .. '|', 1, true)
    if at then
      local from = at + 3 + #action
      local c, to = string.match(L.line, '^(%d+)()', from)
      L.edits[#L.edits + 1] = {from = from, to = to, text = string.format('%d', c + 1)}
    else
      L.more = (L.more or '') .. '\n~' .. action .. '|1'
    end
  end

  -- How many attempts of `action` the run's line counts.
  local function attempts(L, action)
    local at = string.find(L.line, '\n~' .. action .. '|', 1, true)
    return at and string.match(L.line, '^(%d+)', at + 3 + #action) + 0 or 0
  end

  local function by_from(a, b)
    return a.from < b.from
  end

  -- Writes the run's line back with its counts, the values of the groups read (R.group), the
  -- attempts counted and what was added (`L.more`).
  local function write(L)
    local out = {string.format('%d|%d', L.n, L.f)}
    local pos = L.ce
    table.sort(L.edits, by_from)
    for _, e in ipairs(L.edits) do
      out[#out + 1] = string.sub(L.line, pos, e.from - 1)
      out[#out + 1] = e.text or string.format('%d|%d|%d|%d', e.b, e.u, e.o, e.fu)
      pos = e.to
    end
    out[#out + 1] = string.sub(L.line, pos)
    out[#out + 1] = L.more
    redis.call('HSET', KEYS[1], 'r|' .. L.id, table.concat(out))
  end

  -- Marks each hold of a group the run holds with that group's values (`r`).
  local function mark(L, holds)
    for i = 1, #holds do
      holds[i].r = group(L, holds[i].g)
    end
  end

  -- Counts a step in its run: the step, its action's attempt, a fallback.
  local function count(S)
    local L = S.L
    L.n = L.n + 1
    if S.action ~= '' then
      attempt(L, S.action)
    end
    if S.kind == 'fallback' then
      L.f = L.f + 1
    end
  end

  -- A reserve whose record (`tail`, as the node encoded it) opens with "r": a step ("ru": its
  -- run, whose line it reads, and its holds of groups the run holds marked), a run's start
  -- ("run": its limits, `start`), or both (a child run). Its `code` is a denial of the whole
  -- step: 1 the run has ended (or is not one), 2 its steps, 3 its action's attempts, 4 its
  -- fallbacks are used up, 5 a child run would be a fourth level.
  local function step(tail, holds)
    local S = {code = 0, depth = 1}
    local id, action, kind, at = string.match(tail, '^"ru":"([^"]*)","ra":"([^"]*)","rk":"([^"]*)",()')
    -- A run's object follows its step's fields (a child run), or opens the record.
    S.start = string.match(tail, '^"run":{"L":"([^"]*)"', at or 1)
    if not id then
      return S
    end
    S.id, S.action, S.kind = id, action, kind
    local L = open(id)
    if not L then
      S.code = 1
      return S
    end
    S.L = L
    mark(L, holds)
    if L.ls and L.n + 1 > L.ls then
      S.code = 2
    elseif L.la and action ~= '' and attempts(L, action) + 1 > L.la then
      S.code = 3
    elseif L.lf and kind == 'fallback' and L.f + 1 > L.lf then
      S.code = 4
    end
    if kind == 'fallback' then
      S.share = L.lfs
    end
    if S.start then
      S.depth = L.dp + 1
      if S.depth > MAX_DEPTH then
        S.code = 5
      end
    end
    return S
  end

  -- What a hold drawing from its run (holds.lua's weigh) denies with: 0 it fits, 4 the run's
  -- budget of its group has no room, 5 a fallback would pass its share of that budget.
  local function weigh(S, h)
    local r, a = h.r, h.a + 0
    if a > r.b - r.u - r.o then
      return 4
    end
    if S.share and r.fu + a > math.floor(r.b * S.share / 1000000) then
      return 5
    end
    return 0
  end

  -- An admitted reserve of a step or a run's start (reserve `id`): the step counted in its run
  -- with its draws open (a child run among the run's children), a new run's line written.
  -- Answers the record's "rd" field, "" for none.
  local function admit(S, holds, id)
    local drawn = ''
    if S.L then
      local list = {}
      for i = 1, #holds do
        local h = holds[i]
        if h.r then
          h.r.o = h.r.o + h.a
          if S.kind == 'fallback' then
            h.r.fu = h.r.fu + h.a
          end
          list[#list + 1] = i
        end
      end
      count(S)
      if S.start then
        S.L.more = (S.L.more or '') .. '\n^' .. id
      end
      write(S.L)
      drawn = '"rd":"' .. table.concat(list, ',') .. '",'
    end
    if S.start then
      -- No step yet, its limits, its depth, and per group what it holds.
      local out = {'0|0|' .. S.start .. '|' .. S.depth}
      for i = 1, #holds do
        out[#out + 1] = '=' .. holds[i].g .. '|' .. holds[i].a .. '|0|0|0'
      end
      redis.call('HSET', KEYS[1], 'r|' .. id, table.concat(out, '\n'))
    end
    return drawn
  end

  -- Appends a step's answer: its code, the run's steps and fallbacks so far, then per hold
  -- what the run has left of its group (-1 for a group the run does not hold).
  local function answer(S, holds, reply)
    local L, n = S.L, #reply
    reply[n + 1], reply[n + 2], reply[n + 3] = S.code, L and L.n or 0, L and L.f or 0
    for i = 1, #holds do
      local r = holds[i].r
      reply[n + 3 + i] = r and math.max(0, r.b - r.u - r.o) or -1
    end
    return reply
  end

  R = {open = open, group = group, write = write, mark = mark, count = count, step = step, weigh = weigh,
    admit = admit, answer = answer}

  -- The functions no step reserve calls, built on the first use of one (each function costs
  -- every call that builds it).
  local function rest()
    -- A line as tables, for a run's end (not for steps, which splice the line, R.write): its
    -- counts, limits (nil for none), depth, groups by id (`g`, in order `go`), attempts by
    -- action (`A`, in order `ao`) and children (`ch`).
    local function parse(line)
      local n, f, ls, la, lf, lfs, dp, at = string.match(line, '^(%d+)|(%d+)|(%d*)|(%d*)|(%d*)|(%d*)|(%d+)()')
      if not n then
        error({err = 'ERR qg contract: a run line that is not one: ' .. line})
      end
      local L = {n = n + 0, f = f + 0, ls = tonumber(ls), la = tonumber(la), lf = tonumber(lf), lfs = tonumber(lfs),
        dp = dp + 0, g = {}, go = {}, A = {}, ao = {}, ch = {}}
      for kind, rest in string.gmatch(string.sub(line, at), '\n(.)([^\n]*)') do
        if kind == '=' then
          local g, b, u, o, fu = string.match(rest, '^(.*)|(%d+)|(%d+)|(%d+)|(%d+)$')
          L.g[g], L.go[#L.go + 1] = {b = b + 0, u = u + 0, o = o + 0, fu = fu + 0}, g
        elseif kind == '~' then
          local a, c = string.match(rest, '^(.*)|(%d+)$')
          L.A[a], L.ao[#L.ao + 1] = c + 0, a
        else
          L.ch[#L.ch + 1] = rest
        end
      end
      return L
    end

    -- The indices of the holds a step's record drew from its run, as a set.
    function R.drawn(record)
      local set = {}
      for i in string.gmatch(record.rd or '', '%d+') do
        set[i + 0] = true
      end
      return set
    end

    -- A track's step (`spec` "<run id>|<action id>|<kind>"): its run, and its holds of groups
    -- the run holds marked when the run is live (else they count on the user: a track never
    -- denies). Nothing is written until R.tracked.
    function R.track(spec, holds)
      local id, action, kind = string.match(spec, '^([^|]*)|([^|]*)|(.*)$')
      local L = R.open(id)
      local S = {id = id, action = action, kind = kind, L = L, code = L and 0 or 1}
      if L then
        mark(L, holds)
      end
      return S
    end

    -- Counts a track's step in its live run, with what its marked holds used.
    function R.tracked(S, holds)
      if not S.L then
        return
      end
      for i = 1, #holds do
        local h = holds[i]
        if h.r then
          h.r.u = h.r.u + h.a
          if S.kind == 'fallback' then
            h.r.fu = h.r.fu + h.a
          end
        end
      end
      count(S)
      R.write(S.L)
    end

    -- Settles the draws of a step's (or child run's) `record` with its run: each drawn hold's
    -- open draw (unless `open` is false: it expired and went back already) leaves the run's
    -- open, and `used_of(i, h)` (nil: nothing, a release or an expiry) joins its used. Answers
    -- whether the run was live and the drawn holds: when it was not, what they used counts on
    -- the user (a late commit), and the caller counts it.
    function R.settle(record, open, used_of)
      local drawn = R.drawn(record)
      if not next(drawn) then
        return false, drawn
      end
      local L = R.open(record.ru)
      if not L then
        return false, drawn
      end
      local fallback = record.rk == 'fallback'
      for i, h in ipairs(record.h) do
        local r = drawn[i] and R.group(L, h.g)
        if r then
          local used = used_of(i, h)
          used = used and h.k ~= 'c' and used + 0 or 0
          if open then
            r.o = math.max(0, r.o - h.a)
          end
          r.u = r.u + used
          if fallback then
            r.fu = math.max(0, r.fu + used - (open and h.a or 0))
          end
        end
      end
      R.write(L)
      return true, drawn
    end

    -- Whether a step's (or child run's) drawn holds may settle with its run: it is live.
    function R.live(record)
      return record.ru ~= nil and redis.call('HEXISTS', KEYS[1], 'r|' .. record.ru) == 1
    end

    -- A run's end (its close, or its expiry at `expired` ms): what its line says, for its holds'
    -- actual amounts (`used(h)`: in-flight holds used nothing), and the record's run object as
    -- it ended. `finish` then deletes the line.
    function R.ended(id, record, expired)
      local line = redis.call('HGET', KEYS[1], 'r|' .. id)
      local L = line and parse(line) or {n = 0, f = 0, g = {}, go = {}, A = {}, ao = {}, ch = {}}
      local run = record.run
      local u, o, fu, A = {}, {}, {}, {}
      for g, s in pairs(L.g) do
        u[g], o[g], fu[g] = string.format('%d', s.u), string.format('%d', s.o), string.format('%d', s.fu)
      end
      for a, c in pairs(L.A) do
        A[a] = string.format('%d', c)
      end
      run.u, run.o, run.fu, run.A = u, o, fu, A
      run.n, run.f, run.ch = string.format('%d', L.n), string.format('%d', L.f), L.ch
      if expired then
        run.t = string.format('%d', expired)
      end
      return function(h)
        local s = L.g[h.g]
        return (h.k == 'c' or not s) and 0 or s.u
      end
    end

    function R.finish(id)
      redis.call('HDEL', KEYS[1], 'r|' .. id)
    end

    -- A run's and a step's expiry (prelude.lua's reclaim): a step's draws go back to its run; a
    -- run (a child run too) commits what its steps used, its own draws into its parent run.
    -- Answers per hold what goes on the user's counters: `held` true when the hold is the
    -- user's (its held goes back), `used` milli-units to count (a run's, or a late child's).
    function R.expire(id, record, now)
      local per, drawn, used = {}, {}, nil
      if record.run then
        used = R.ended(id, record, now)
      end
      if record.ru then
        local live
        live, drawn = R.settle(record, true, function(_, h)
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
        R.save_record(id, record)
        R.finish(id)
      end
      return per
    end

    function R.save_record(id, record)
      redis.call('HSET', KEYS[2], id, cjson.encode(record))
    end
  end
  setmetatable(R, {__index = function(_, name)
    setmetatable(R, nil)
    rest()
    return rawget(R, name)
  end})

  runs_lib = R
  return R
end

-- runs.lua ends --
