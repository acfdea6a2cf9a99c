-- holds.lua: shared by reserve, check and track: reads the holds a node computed and checks
-- them against Redis, after prelude.lua or pending.lua and overrides.lua.
--
-- Per hold, HOLD_FIELDS values from ARGV (HOLD, src/store/scripts/layouts.rs): group id,
-- counter field, period start ms, period end ms ("" for lifetime), amount milli, plan quota
-- milli, and its options, "" when all are the defaults, else OPTION_FIELDS fields joined by
-- "|" (OPTION): mode "" (hard), "soft", or "f/<least milli>/<curve>" (hard, clamping to what is
-- left down to the least; fits.lua reads the curve), unit "c" for in-flight limits, "" for count, else the unit's name, alert
-- thresholds in percent ("50,80,100"; "" for none), the user's override of this group's quota
-- in milli-units and when it expires (as overrides.lua keeps them; "" for none, and for
-- never), "v" when the hold is a per-value group's (its counter field is
-- "<group>~<value>@<period start>"; see weigh), measure last since it is JSON (opaque to Lua,
-- recorded for commits; "" for the quantity). Packed, since each argument costs Redis about
-- 1,000 instructions on every call and most holds take the defaults.

-- The request's decision instant, ms: the node reads its clock once per request and hands
-- every level of a chain of budgets the same instant, so one event counts in the same window at
-- every level. Accepted within DECISION_SKEW_MS of Redis time (`now`), which bounds how far a
-- node's clock can move a window's end; else nil, and the node re-measures its clock. An
-- instant led by "~" was accepted by a level below for this request (now, or by the first call
-- of an Idempotency-Key whose retry completes the levels above): a parent's level takes it
-- however far in the past, so the event counts in that level's window of the same instant.
local function decided_at(raw, now)
  local below = string.byte(raw) == BYTE_TILDE
  local at = tonumber(below and string.sub(raw, 2) or raw)
  if not at or at > now + DECISION_SKEW_MS or (not below and at < now - DECISION_SKEW_MS) then
    return nil
  end
  return at
end

-- read_holds, with the readers of a hold's options it calls, scoped to it: a library's main
-- chunk has room for 200 locals, and these need no name there.
local read_holds
do
  -- A hold on a slice of an ancestor's group: its mode `m` is "l/<ancestor's version>", or
  -- "l/<version>/<lease>/<amount>/<ends>/<intent>/<used>/<held>/<quota>/<stated>" when the
  -- reserve places that lease: used, held and quota the ancestor's counter as take_slice
  -- answered it, and stated the outbox entry of the statement that take applied ("" for none;
  -- slices.lua); its field is the slice's (it opens with "^"), and it has no thresholds and no
  -- values (`t`, `pv`), so it fires no alert here. Answers the version and the lease to place
  -- (nil for none); nil when `m` is no such mode.
  local function slice_mode(h, i, m, t, pv)
    local sl, place = string.match(m, '^l/(%d+)$'), nil
    if not sl then
      local lease, amount, ends, intent, pu, ph, pq, stated
      sl, lease, amount, ends, intent, pu, ph, pq, stated =
        string.match(m, '^l/(%d+)/([%w_.-]+)/(%d+)/(%d+)/(%d+%-%d+)/(%d+)/(%d+)/(%d+)/([%d-]*)$')
      place = sl and {lease = lease, amount = amount, ends = ends, intent = intent, stated = stated,
        seen = pu .. '|' .. ph .. '|' .. pq}
    end
    if sl and (string.byte(h.f) ~= BYTE_CARET or t ~= '' or pv ~= '') then
      error({err = 'ERR qg contract: hold ' .. i .. ' is on a slice, so its field opens with ^ and it has no '
        .. 'thresholds and no values: ' .. h.f})
    end
    return sl, place
  end

  -- A per-value group's hold (its option "v"): the group's list of values in the period,
  -- "\n<value>\n<value>...\n", beside its counters ("<group>@<period start>:v"), and this hold's
  -- value (escaped, as in its field "<group>~<value>@<period start>"). The calls that count
  -- (an admitting reserve, and track, which never denies, so it may list more than MAX_VALUES)
  -- call `holds.note_values`, which appends each per-value hold's new value to its period's list
  -- (weigh found it new), noting the list's period so it is pruned with its counters: a closure
  -- of this call's holds and context, built only for a call with a per-value hold.
  local function read_per_value(c, holds, h, i)
    local value, at = string.match(h.f, '^[^~]*~(.*)(@[^@]*)$')
    if not value then
      error({err = 'ERR qg contract: hold ' .. i .. ' has malformed options: per value, but its field ' .. h.f
        .. ' names no value'})
    end
    h.pv, h.val = h.g .. at .. ':v', value
    holds.note_values = holds.note_values or function()
      for _, held in ipairs(holds) do
        if held.pv then
          local list = held.list or redis.call('HGET', c.KEYS[KEY_COUNTERS], held.pv) or '\n'
          if not string.find(list, '\n' .. held.val .. '\n', 1, true) then
            redis.call('HSET', c.KEYS[KEY_COUNTERS], held.pv, list .. held.val .. '\n')
            if held.pe ~= '' then
              redis.call('ZADD', c.KEYS[KEY_PERIODS], 'NX', held.pe, string.sub(held.pv, 1, -3))
            end
          end
        end
      end
    end
  end

  -- Reads hold i's `options` (not "": some are not the defaults) onto `h`, and what they say of
  -- the call onto `holds` (credits, slices, note_values). Options that only name a mode (a
  -- balance's) are cut before their empty tail rather than matched whole: a pattern's match tests
  -- every character of the line. (A mode holding a "|" is no mode any branch below accepts: it
  -- is refused as malformed.)
  -- A balance group's mode is "b/<balance>/<overdraft milli>/<rollover max milli>" (wallet.lua);
  -- its quota is its allowance per period. An approval group's is "a/<request id>" (reserve opens
  -- the request, approvals.lua), or "approval" where no request is named (a track's, which never
  -- denies). A hard group whose hold may clamp is "f/<least milli>/<curve>": when the whole amount does
  -- not fit, it takes what is left, if that is at least the least (weigh). A hold on a slice's is
  -- slice_mode's.
  local function read_options(c, holds, h, i, options)
    local m, k, t, pv, me, oo, oe
    if string.sub(options, -#OPTION_MODE_ONLY) == OPTION_MODE_ONLY then
      m, k, t, pv, me, oo = string.sub(options, 1, -#OPTION_MODE_ONLY - 1), '', '', '', '', ''
    else
      local o = {string.match(options, OPTION_LINE)}
      m, k, t, pv, me, oo, oe = o[OPTION.m], o[OPTION.k], o[OPTION.t], o[OPTION.pv], o[OPTION.me], o[OPTION.o],
        o[OPTION.oe]
    end
    local b, od, ro, ap, fit, cv, sl, place
    if m and string.byte(m) == BYTE_l then
      sl, place = slice_mode(h, i, m, t, pv)
    elseif m and string.byte(m) == BYTE_b then
      b, od, ro = string.match(m, '^b/([%w_.-]+)/(%d+)/(%d*)$')
    elseif m and string.byte(m) == BYTE_a then
      ap = m == 'approval' and '' or string.match(m, '^a/(apr_%x+)$')
    elseif m and string.byte(m) == BYTE_f then
      fit, cv = string.match(m, '^f/(%d+)/([%d,;]+)$')
    end
    -- The measure is a JSON object: it opens with "{" and closes with "}".
    if not m or (m ~= '' and m ~= 'soft' and not b and not ap and not fit and not sl) or (pv ~= '' and pv ~= 'v')
      or (me ~= '' and (string.byte(me) ~= BYTE_OPEN_BRACE or string.byte(me, -1) ~= BYTE_CLOSE_BRACE)) then
      error({err = 'ERR qg contract: hold ' .. i .. ' has malformed options: ' .. options})
    end
    if ap then
      -- Weighed as a hard group (weigh).
      h.m = 'approval'
      if ap ~= '' then
        h.ap = ap
      end
    elseif b then
      h.b, h.od = b, od + 0
      if ro ~= '' then
        h.ro = ro + 0
      end
      holds.credits = true
    elseif fit then
      -- Its curve (fits.lua), read only when it clamps; its record's amount is a blank.
      h.fit, h.cv = fit + 0, cv
      holds.fits = true
    elseif sl then
      h.sl, h.place = sl, place
      holds.slices = true
    elseif m ~= '' then
      h.m = m
    end
    if pv == 'v' then
      read_per_value(c, holds, h, i)
    end
    if k ~= '' then h.k = k end
    if t ~= '' then h.t = t end
    if oo ~= '' then h.o, h.oe = oo, oe end
    if me ~= '' then h.me = me end
  end

  -- Reads `n` holds from ARGV starting at `first`; nil when a node's clock handed a period
  -- that does not contain `at`, so two nodes with skewed clocks never count one period twice
  -- (or a subscription's first period, which may begin up to START_LEAD_MS after `at`).
  -- Defaults (hard mode, unit count, no thresholds, no override, counting the quantity) are
  -- left out of a hold, as out of the record (which keeps no override). Options that are not
  -- OPTION_FIELDS fields, a mode it does not know or a measure that is not JSON are refused with
  -- an error reply (read_options): read as defaults, they would turn a soft group hard and drop
  -- its override.
  local SLICE_OPTIONS = '^l/(%d+)' .. OPTION_MODE_ONLY .. '$'
  function read_holds(c, first, n, at)
    local ARGV, holds = c.ARGV, {nil, nil, nil, nil}
    for i = 1, n do
      -- (The hold's values are at j + HOLD.<name>.)
      local j = first + (i - 1) * HOLD_FIELDS - 1
      local ps, pe = ARGV[j + HOLD.ps], ARGV[j + HOLD.pe]
      if ps + 0 > at + START_LEAD_MS or (pe ~= '' and pe + 0 <= at) then
        return nil
      end
      -- A hold on a live slice that places nothing ("l/<version>", the rest defaults: slices.lua),
      -- as most of a team member's holds are, is read in one match (each string function costs a
      -- Redis function about a thousand instructions; other options fail it at their first
      -- character, as cheaply as a test of that character would), and made with room for the keys
      -- read_counters and weigh give it (a table grown past its size is rehashed).
      local options = ARGV[j + HOLD.o]
      local on_slice = options ~= '' and string.match(options, SLICE_OPTIONS)
      local h
      if on_slice then
        h = {g = ARGV[j + HOLD.g], f = ARGV[j + HOLD.f], ps = ps, pe = pe, a = ARGV[j + HOLD.a], q = ARGV[j + HOLD.q],
          sl = on_slice, line = false, lease = false}
      else
        h = {g = ARGV[j + HOLD.g], f = ARGV[j + HOLD.f], ps = ps, pe = pe, a = ARGV[j + HOLD.a], q = ARGV[j + HOLD.q]}
      end
      -- A rolling window's sub-window (rolling.lua): weighed with the sub-windows before it. (A
      -- slice is never one: the node slices no rolling window.)
      if not on_slice and string.find(h.f, '@r', 1, true) then
        h.roll = true
      end
      if on_slice then
        if string.byte(h.f) ~= BYTE_CARET then
          error({err = 'ERR qg contract: hold ' .. i .. ' is on a slice, so its field opens with ^: ' .. h.f})
        end
        holds.slices = true
      elseif options ~= '' then
        read_options(c, holds, h, i, options)
      end
      holds[i] = h
    end
    return holds
  end
end

-- The subscription's version and the quota in force per hold in milli-units. The node passed
-- each hold's override from the subscription it decided with, so when the version matches they
-- are the hash's: only the version is read.
local function subscription(c, sub_key, holds, at)
  local quota_in_force = {nil, nil, nil, nil}
  for i = 1, #holds do
    local h = holds[i]
    -- (Without an override, in_force's answer without its call: a call costs a Redis function
    -- some 500 instructions, and most holds have none.)
    quota_in_force[i] = h.o and in_force(h.q, h.o, h.oe, at) or h.q + 0
  end
  return redis.call('HGET', sub_key, 'ver') or '0', quota_in_force
end

-- The node's assumptions checked against Redis, first in every call that decides on holds
-- (reserve, check, track): its decision instant (the call's last argument), the periods of the
-- `n` holds whose values begin at ARGV[first] (read_holds), and the subscription's version
-- (`sub_key`'s, against `version`, the one the node decided with). Answers the instant, the
-- holds and the quota in force per hold, or nil when one of them does not hold (the call
-- answers "stale").
local function checked(c, first, n, sub_key, version)
  local ARGV, now = c.ARGV, c.now
  local at = decided_at(ARGV[#ARGV], now)
  local holds = at and read_holds(c, first, n, at)
  if not holds then
    return nil
  end
  local ver, quota_in_force = subscription(c, sub_key, holds, now)
  if ver ~= version then
    return nil
  end
  return at, holds, quota_in_force
end

-- A per-value group keeps at most MAX_VALUES (64) values a period, as reserves are held to: a
-- track (never denied) of one more counts in the group's own counter of the period, "other
-- values" (no value in its field), so neither the list nor the counters grow past it. The
-- ledger entry still names the value. For a track with a per-value hold (`holds.note_values`).
local function cap_values(c, holds)
  local MAX_VALUES = 64
  for i = 1, #holds do
    local h = holds[i]
    if h.pv then
      local list = redis.call('HGET', c.KEYS[KEY_COUNTERS], h.pv) or '\n'
      if not string.find(list, '\n' .. h.val .. '\n', 1, true) and select(2, string.gsub(list, '\n', '')) - 1 >= MAX_VALUES then
        h.f, h.pv = h.g .. string.match(h.f, '(@[^@]*)$'), nil
      else
        h.list = list
      end
    end
  end
end

-- Where hold i's VERDICT is in a decision's answer whose head has `head` values: its fields at
-- that plus VERDICT.<name>.
local function verdict_at(head, i)
  return head + VERDICT_FIELDS * (i - 1)
end

-- Appends what each hold that clamped (its verdict's denied 6, weigh) holds, last in the
-- answers of reserve and check (whose head has `head` values) when one did (`holds.clamped`).
local function append_clamped(holds, reply, head)
  for i = 1, #holds do
    if reply[verdict_at(head, i) + VERDICT.denied] == 6 then
      reply[#reply + 1] = holds[i].a
    end
  end
  return reply
end

-- weigh, with the parts of it only it calls, scoped to it (as read_holds' are).
local weigh
do
  -- A per-value group's value not yet in its period's list is one more value: past MAX_VALUES
  -- of them it is denied (3: too many values), whatever the mode; else the list the admitting
  -- call appends it to is kept on the hold (read_per_value's note_values). Answers true when it
  -- is one too many.
  local function too_many_values(c, h)
    local MAX_VALUES = 64
    local list = redis.call('HGET', c.KEYS[KEY_COUNTERS], h.pv) or '\n'
    if not string.find(list, '\n' .. h.val .. '\n', 1, true) then
      local _, values = string.gsub(list, '\n', '')
      if values - 1 >= MAX_VALUES then
        return true
      end
      h.list = list
    end
    return false
  end

  -- 8: a team's hard group that would have room but for what it leased to its members' slices
  -- (take_slice.lua's ":l"), which comes back when they end. Read on a denial only, in one
  -- command for every group `over` its quota (their indices), in the decision `reply` whose
  -- head has `head` values.
  local function leased_denials(c, holds, reply, head, over)
    local fields = {}
    for k, i in ipairs(over) do
      fields[k] = holds[i].f .. ':l'
    end
    local leased = redis.call('HMGET', c.KEYS[KEY_COUNTERS], unpack(fields))
    for k, i in ipairs(over) do
      local l, at = leased[k], verdict_at(head, i)
      if l and reply[at + VERDICT.denied] == 1
        and reply[at + VERDICT.used] + reply[at + VERDICT.held] - l + holds[i].a <= reply[at + VERDICT.quota] then
        reply[at + VERDICT.denied] = 8
      end
    end
  end

  -- Weighs every hold against its counter (`counters` as read_counters answers them) and the
  -- quota in force, appending per hold its VERDICT, used, held, quota in force and denied (0|1;
  -- 6 for a hold that clamped to what was left, which is not a denial; 7 a short slice; 8 short
  -- of capacity leased to members, which is), to `reply`:
  -- the decision reserve and check answer, kept nowhere else. Answers 1 when every hard group has
  -- room, else 0; a hard group denies when its quota is 0 or used + held + the amount passes it.
  -- A balance group denies instead when its wallet cannot cover the amount (C.weigh);
  -- `pending` is what expired reservations still hold (check's, see wallet.lua's fits).
  -- `share` is a fallback step's share of its run's budget in ppm (reserve.lua).
  function weigh(c, holds, quota_in_force, counters, reply, pending, share)
    local allowed, r = 1, #reply
    local head, asked, over = r
    for i = 1, #holds do
      local h = holds[i]
      local used, held, quota = counters[2 * i - 1], counters[2 * i], quota_in_force[i]
      local denied = 0
      if h.roll then
        -- A rolling window counts its other sub-windows too: its verdict shows them,
        -- and reserve.lua adds what they hold to the held it answers (`rolled`).
        local around_used, around_held = rolled_around(c, h)
        used, held, h.rolled = used + around_used, held + around_held, around_held
      end
      if h.rb then
        -- A step's hold of a group its run holds (reserve.lua) weighs against the run's budget
        -- of the group (4: no room) and a fallback against its share of it (5); its balance,
        -- which read_counters may have read for the quick path, is the run's.
        h.fast = nil
        local a = h.a + 0
        if a > h.rb - h.ru - h.ro then
          denied = 4
        elseif share and h.rf + a > math.floor(h.rb * share / 1000000) then
          denied = 5
        end
      elseif h.b then
        denied, asked = C.weigh(c, h, quota, counters, pending, asked)
      elseif h.sl then
        -- A hold on a slice of an ancestor's group (slices.lua) weighs against the slice: 7 when
        -- none is live at this version, or too little of it is left (the reserve then answers
        -- short, and the node takes a lease). Its verdict shows the ancestor's counter as it was
        -- when the slice was leased: the verdict's used is the slice's line, whose last fields
        -- that counter is (SLICE), and the node reads it from there; held and quota are 0.
        -- (Only the line's head is read, into locals in SLICE's order, which a test of layouts.rs
        -- holds: each table a call makes is Lua's garbage. Its lease is kept on the hold: an
        -- admitting reserve records it.)
        local line = h.line and counters[h.line]
        if line then
          local q, x, v, lease = string.match(line, SLICE_HEAD)
          h.lease = lease
          if v ~= h.sl or x + 0 <= c.now or used + held + h.a > q + 0 then
            denied = 7
          end
          used, held, quota = line, 0, 0
        else
          used, held, quota, denied = 0, 0, 0, 7
        end
      elseif h.m ~= 'soft' and (quota == 0 or used + held + h.a > quota) then
        -- A hold that may clamp takes what is left when that is at least its least (6: clamped,
        -- not denied; the caller answers what it holds and writes it in the record).
        local room = quota - used - held
        if h.fit and quota > 0 and room >= h.fit then
          h.whole, h.a, denied = h.a, room, 6
          holds.clamped = true
        else
          denied = 1
          over = over or {}
          over[#over + 1] = i
        end
      end
      if h.pv and too_many_values(c, h) then
        denied = 3
      end
      if denied ~= 0 and denied ~= 6 then
        allowed = 0
      end
      reply[r + VERDICT.used], reply[r + VERDICT.held], reply[r + VERDICT.quota], reply[r + VERDICT.denied] =
        used, held, quota, denied
      r = r + VERDICT_FIELDS
    end
    if over then
      leased_denials(c, holds, reply, head, over)
    end
    return allowed
  end
end

-- holds.lua ends --
