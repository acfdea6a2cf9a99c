-- reserve.lua: hold quota in every matched group at once, all or nothing.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     subscription version the node decided with ("0": no subscription)
-- ARGV[6]     reservation id
-- ARGV[7]     ttl ms
-- ARGV[8]     number of holds n, then n times HOLD_FIELDS values, one hold each, as in holds.lua
-- then        the reservation's record (see prelude.lua) as the node encoded it, without its
--             opening brace and the fields only Redis knows (s, c, cr, x): the event, the holds as
--             above and p, the next level up, when there is one (a parent the node reserves at
--             next under the same id, named so commit, release and extend reach it); a
--             step's opens with its run, action and kind ("ru", "ra", "rk"; runs.lua), a run's
--             has a "run" object
-- then        a step's run, RUN_STEP: "<run id>|<action id>|<kind>", "" for a reserve that is no
--             step (runs.lua; a child run's start is a step too)
-- then        a run's start: its LIMITS as its record's "run" object keeps them, "" for none
-- last        the request's decision instant, ms (see holds.lua): its periods must contain it,
--             and the holds expire ttl after it
--
-- Returns {"repeat", first reply JSON} or {"reused"} for an Idempotency-Key seen before,
-- {"stale"} when the version or a period does not match Redis, {"more"} when expired holds
-- remain to reclaim, {"overflow", group} when a held counter would pass 2^53 - 1 milli-units
-- (only soft groups can come near it; nothing is written), else {"ok", reservation id,
-- expires ms, allowed 0|1 (RESERVED), then per hold its VERDICT: used, held, quota, denied 0|1
-- (2: an approval group whose request is pending; 3: a per-value group with no room for one
-- more value; a step's hold drawn from its run, 4: the run's budget has no room, 5: a
-- fallback would pass its share),
-- then the alerts fired (as alerts.lua appends them), then per balance group its balance
-- (as wallet.lua's C.append answers it: its quick line's, or its wallet's C.state), then for
-- a step its run's answer (runs.lua's R.answer), then per hold that clamped (denied 6: it did
-- not fit whole and holds what was left, as its record says) what it holds}.

register('reserve', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 10, 8, HOLD_FIELDS, 4)

  -- 1. A repeat answers the first answer whatever changed since (`now` is Redis time, read
  -- once for the call: head.lua).
  local first = repeated(c)
  if first then
    return first
  end

  -- 2. The node's assumptions checked against Redis: its instant, its periods and the
  -- subscription version.
  local at = decided_at(ARGV[#ARGV], now)
  local holds = at and read_holds(c, 9, n, at)
  if not holds then
    return {'stale'}
  end
  local version, quota_in_force = subscription(c, KEYS[6], holds, now)
  if version ~= ARGV[5] then
    return {'stale'}
  end

  -- 3. A step of a run or a run's start, as the node names them: a step its run, action and
  -- kind (RUN_STEP), a run's start its limits, a child run both; nothing else tells a step from
  -- a reserve. A step reads its run's fields with the counters: per hold its group's, then the
  -- run's first, its action's attempts and, for a child, its children (runs.lua's header).
  -- What the rest hands on of a step (nil in a reserve that is none): its run's field prefix,
  -- its action, its limits when it starts a run, a fallback's share.
  local tail, step, start = ARGV[9 + HOLD_FIELDS * n], ARGV[10 + HOLD_FIELDS * n], ARGV[11 + HOLD_FIELDS * n]
  local run_key, run_action, run_start, run_share
  local run_id, run_fallback
  if step ~= '' then
    local kind
    run_id, run_action, kind = string.match(step, RUN_STEP_LINE)
    if not run_id then
      error({err = 'ERR qg contract: a step names its run as ' .. RUN_STEP_FIELDS .. ' fields, got ' .. step})
    end
    run_fallback, run_key = kind == 'fallback', 'r|' .. run_id
  end
  if start ~= '' then
    run_start = start
  end

  -- 4. The counters, and expired holds back first, so they never count against this decision:
  -- when the instant no open hold expires before ("~open", read with the counters) has passed.
  -- The counters are read again when some went back.
  local admits = admits_field(c, holds)
  local counters, open_before, admitted, alerted = read_counters(c, holds, true, run_key, run_action, run_start, admits)
  local more, reclaimed, open = reclaim_due(c, open_before, now)
  if more then
    return {'more'}
  end
  if reclaimed then
    counters, open_before, admitted, alerted = read_counters(c, holds, true, run_key, run_action, run_start, admits)
  end
  -- Leases the node hands over are placed on their slices before anything is weighed.
  if holds.slices then
    S.place(c, holds, counters)
  end

  -- 5. Check every group before writing anything. The answer carries the decision: after its
  -- head (RESERVED_FIELDS values), hold i's VERDICT (its held at verdict_at(RESERVED_FIELDS, i) +
  -- VERDICT.held, holds.lua).
  local expires = at + ARGV[7]
  -- Sized for the answer of two holds that fire nothing (and, with a balance group, its
  -- balance's five values): a table grown one element at a time is rehashed at every power of
  -- two (see prelude.lua).
  local reply = holds.credits and {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
    nil, nil} or {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
  reply[RESERVED.status], reply[RESERVED.id], reply[RESERVED.expires], reply[RESERVED.allowed] =
    'ok', ARGV[6], expires, 0
  -- A step's run, as its first field says (`run_v`, unpacked: its RUN, then its groups): each
  -- hold of a group the run holds is marked with the group's budget, used, open and fallback
  -- spend (R.mark; weigh weighs it on them), and `run_code` is a denial of the whole
  -- step: 1 the run has ended, 2 its steps, 3 its action's attempts, 4 its fallbacks are used
  -- up, or its action is new and the run has MAX_RUN_ACTIONS already, 5 a child run would be a
  -- fourth level. `run_actions` is the run's count of actions when this step's is new, else nil.
  local run_code, run_v, run_n, run_f, run_ls, run_la, run_lf, run_lfs, run_depth, run_tried, run_at, run_actions = 0
  if run_id then
    run_at = #counters - (run_start and 4 or 3)
    local head = counters[run_at + 1]
    if not head then
      run_code = 1
    else
      run_v = {cmsgpack.unpack(head)}
      run_n, run_f, run_ls, run_la, run_lf, run_lfs, run_depth = run_v[RUN.n], run_v[RUN.f], run_v[RUN.ls],
        run_v[RUN.la], run_v[RUN.lf], run_v[RUN.lfs], run_v[RUN.depth]
      run_tried = run_action ~= '' and (counters[run_at + 2] or 0) + 0 or 0
      if run_action ~= '' and not counters[run_at + 2] then
        run_actions = (counters[run_at + 3] or 0) + 0
      end
      R.mark(c, run_v, holds)
      if run_ls >= 0 and run_n + 1 > run_ls then
        run_code = 2
      elseif run_la >= 0 and run_action ~= '' and run_tried + 1 > run_la then
        run_code = 3
      elseif run_actions and run_actions >= 1000 then
        -- A run keeps at most MAX_RUN_ACTIONS (1000) actions, a field each, which its end reads:
        -- a new one past them is denied as attempts are, so no agent's ids can grow it unbounded.
        run_code = 3
      elseif run_lf >= 0 and run_fallback and run_f + 1 > run_lf then
        run_code = 4
      end
      if run_fallback and run_lfs >= 0 then
        run_share = run_lfs
      end
      if run_start and run_depth + 1 > 3 then
        run_code = 5
      end
    end
  end
  local allowed = weigh(c, holds, quota_in_force, counters, reply, nil, run_share)
  if run_code ~= 0 then
    allowed = 0
  end
  reply[RESERVED.allowed] = allowed
  -- Denied only for want of slices: nothing is decided; the node takes leases and asks again.
  if allowed == 0 and holds.slices and run_code == 0 then
    local short = S.short(c, holds, reply, counters, RESERVED_FIELDS)
    if short then
      return append_fired(c, short)
    end
  end

  -- A hold that clamped holds what was left: the record the node encoded says so too. Its
  -- amount is the i-th `"a":"` after the record's `,"h":[` (a key, never inside a string, whose
  -- quotes JSON escapes).
  if allowed == 1 and holds.clamped then
    local parts, last, pos = {}, 1, string.find(tail, ',"h":[', 1, true)
    for i = 1, n do
      local _, e = string.find(tail, '"a":"', pos, true)
      local close = string.find(tail, '"', e + 1, true)
      if reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.denied] == 6 then
        parts[#parts + 1] = string.sub(tail, last, e)
        parts[#parts + 1] = string.format('%d', holds[i].a)
        last = close
      end
      pos = close
    end
    parts[#parts + 1] = string.sub(tail, last)
    tail = table.concat(parts)
  end

  -- 6. Write all holds and the reservation, or nothing.
  if allowed == 1 then
    local writes, alerting = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}, false
    for i = 1, #holds do
      local h = holds[i]
      -- (A hold drawn from a run holds nothing on the user's counter: the run does.)
      local held = counters[2 * i] + (h.rb and 0 or h.a)
      if held > MAX_EXACT then
        return {'overflow', h.g}
      end
      writes[2 * i - 1], writes[2 * i] = h.f .. ':h', held
      -- The answer shows the holds with this one (a rolling window's, its window's; a slice
      -- hold's verdict is its slice's line, with the ancestor's holds as its lease left them).
      if not h.sl then
        reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.held] = held + (h.rolled or 0)
      end
      alerting = alerting or h.t ~= nil
    end
    -- A balance hold on the quick path adds its amount to the balance's journal (wallet.lua),
    -- and a step or a run's start writes its run's fields (runs.lua), in the same HSET.
    -- (Placed by count: `writes` was made with empty slots, so its length is not its border.)
    local k, drawn = 2 * #holds, nil
    if holds.credits then
      for i = 1, #holds do
        local q = holds[i].fast
        if q then
          q.journal = q.journal + holds[i].a
          writes[k + 1], writes[k + 2], k = 'w|' .. holds[i].b .. '|j', q.journal, k + 2
        end
      end
    end
    -- No open hold expires before "~open": this one's expiry lowers it when nearer. And the
    -- day's admits of these groups (prelude.lua's admits_field), in the same write.
    local lowest = math.min(open or open_before, expires)
    if lowest ~= open_before then
      writes[k + 1], writes[k + 2], k = '~open', lowest, k + 2
    end
    if admits then
      writes[k + 1], writes[k + 2], k = admits, admitted + 1, k + 2
      if admitted == 0 then
        note_admits(c, admits)
      end
    end
    local numbers = k
    if run_id then
      -- The step counted in its run, its draws open (a child run among its children).
      local list = ''
      for i = 1, n do
        local h = holds[i]
        if h.rb then
          h.ro = h.ro + h.a
          if run_fallback then
            h.rf = h.rf + h.a
          end
          list = list == '' and tostring(i) or list .. ',' .. i
        end
      end
      R.unmark(c, run_v, holds)
      run_n, run_f = run_n + 1, run_f + (run_fallback and 1 or 0)
      run_v[RUN.n], run_v[RUN.f] = run_n, run_f
      writes[k + 1], writes[k + 2], k = run_key, cmsgpack.pack(unpack(run_v)), k + 2
      if run_action ~= '' then
        writes[k + 1], writes[k + 2], k = run_key .. '|~' .. run_action, string.format('%d', run_tried + 1), k + 2
      end
      if run_actions then
        writes[k + 1], writes[k + 2], k = run_key .. '|#', string.format('%d', run_actions + 1), k + 2
      end
      if run_start then
        writes[k + 1], writes[k + 2], k = run_key .. '|^', (counters[run_at + 4] or '') .. '\n' .. ARGV[6], k + 2
      end
      drawn = list
    end
    if run_start then
      writes[k + 1], writes[k + 2], k = 'r|' .. ARGV[6], R.start(c, run_start, run_id and run_depth + 1 or 1, holds), k + 2
    end
    write_fields(c, writes, numbers)
    note_periods(c, holds, counters)
    if holds.note_values then
      holds.note_values()
    end
    local x = string.format('%d', expires)
    -- Balance groups hold on their grants in burn order; the record keeps which (wallet.lua).
    local credit_parts = ''
    if holds.credits then
      local parts, loaded = {}, false
      for i = 1, #holds do
        local h = holds[i]
        if h.fast then
          -- Held wholly on the head (weigh's quick path), the journal written above. Written out:
          -- group ids, balance names, grant ids and amounts need no escaping in JSON.
          parts[#parts + 1] = '"' .. h.g .. '":{"b":"' .. h.b .. '","g":[["' .. h.fast.head .. '","' .. h.a .. '"]],"o":"0"}'
        elseif h.b and not h.rb then
          loaded = true
          parts[#parts + 1] = '"' .. h.g .. '":' .. cjson.encode(C.hold(c, C.wallet(c, h.b, now), h.b, h.a, now))
        end
      end
      if loaded then
        C.save(c, now, c.fired)
      end
      credit_parts = '"w":{' .. table.concat(parts, ',') .. '},'
    end
    -- Holds on slices: the lease each was placed on (slices.lua), so its commit finds it.
    -- (Joined as it goes, each index's text looked up rather than formatted: formatting a
    -- number, a table and its join each cost a Redis function a few thousand instructions.)
    if holds.slices then
      local leases
      for i = 1, #holds do
        local h = holds[i]
        if h.sl then
          local part = '"' .. (INDEX_TEXT[i] or string.format('%d', i)) .. '":"' .. h.lease .. '"'
          leases = leases and leases .. ',' .. part or part
        end
      end
      credit_parts = credit_parts .. '"sl":{' .. leases .. '},'
    end
    -- Created at the decision instant, as its expiry is: an extension is capped a day after it.
    -- "cr" is Redis's time of it, which the ledger entry ending the hold tells ("since"): a
    -- replay of the ledger orders the hold among entries, which are stamped with Redis time.
    -- A step's record says which holds it drew from its run ("rd").
    local record
    if drawn then
      record = '{"s":"held","c":"' .. string.format('%d', at) .. '","cr":"' .. string.format('%d', now) .. '","x":"' .. x
        .. '",' .. credit_parts .. '"rd":"' .. drawn .. '",' .. tail
    else
      record = '{"s":"held","c":"' .. string.format('%d', at) .. '","cr":"' .. string.format('%d', now) .. '","x":"' .. x
        .. '",' .. credit_parts .. tail
    end
    redis.call('HSET', KEYS[2], ARGV[6], record)
    redis.call('ZADD', KEYS[3], x, ARGV[6])
    -- Open holds are the usage of in-flight groups: an admit can cross their thresholds. Only a
    -- hold with thresholds can, so the tables are built only then.
    if alerting then
      local before, after = {}, {}
      for i = 1, #holds do
        before[i], after[i] = counters[2 * i], reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.held]
      end
      alert_crossings(c, holds, quota_in_force, before, after, 'c', counters, alerted)
    end
  else
    -- Each denying group fires "limit" the first time in its period at this quota, at its level:
    -- open holds for in-flight groups, else usage.
    for i = 1, #holds do
      -- (A rolling window has no period to fire in: its denials say when room is back.)
      if reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.denied] == 1 and not holds[i].b and not holds[i].rb
        and not holds[i].roll then
        local h = holds[i]
        fire(c, 'limit', h, quota_in_force[i], {'L'}, h.k == 'c' and counters[2 * i] or counters[2 * i - 1],
          counters[alerted + i])
        -- An approval group's first denial in its period opens its approval request: the
        -- counter's ":ap" field (p pending, a approved, d declined, as decide_approval.lua
        -- writes them) and an "approval" event in the outbox, which the node moves to the
        -- project's approvals and webhooks. While it is pending the group denies as pending (2).
        if h.ap then
          local field = h.f .. ':ap'
          local state = redis.call('HGET', KEYS[1], field)
          if not state then
            state = 'p'
            redis.call('HSET', KEYS[1], field, state)
            -- Pruned with its counter, which a group that never admitted did not note.
            if h.pe ~= '' then
              redis.call('ZADD', KEYS[5], 'NX', h.pe, h.f)
            end
            local tag = string.match(KEYS[1], '{(.*)}')
            local plan = redis.call('HGET', KEYS[6], 'plan') or ''
            local event = string.match(tail, '"e":"([^"]*)"') or ''
            c.fired[#c.fired + 1] = redis.call('XADD', KEYS[10], 'MAXLEN', '~', 100000, '*', 'tag', tag,
              'plan', plan, 'type', 'approval', 'g', h.g, 'k', h.k or '', 't', '',
              'q', string.format('%d', quota_in_force[i]), 'n', string.format('%d', counters[2 * i - 1]),
              'h', string.format('%d', counters[2 * i]), 'ps', h.ps, 'pe', h.pe, 'ap', h.ap, 'e', event, 'a', h.a,
              'v', h.val or '')
          end
          if state == 'p' then
            reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.denied] = 2
          end
        end
      end
    end
    -- A wallet this denial read whole, because its quick line could not decide (a grant
    -- started or expired since the line was written, or the line knew other low-balance
    -- amounts or another allowance), is saved with a fresh line: the next call decides on the
    -- line again, so a client hammering a denied balance pays the quick price from its second
    -- call on, not a whole wallet's on every one (wallet.lua's header).
    if next(c.wallets) ~= nil then
      C.save(c, now, c.fired)
    end
    -- "~open" as the open set says it now, when it had passed.
    if open and open ~= open_before then
      redis.call('HSET', KEYS[1], '~open', string.format('%d', open))
    end
  end
  -- Today's rollups: an admit was counted with the holds (above); a denial counts its denying
  -- groups, once in the field of that set of groups (see prelude.lua): one HINCRBY however many.
  local set
  if allowed == 0 then
    for i = 1, #holds do
      local code = reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.denied]
      -- (A slice short where another group denies is not a denial of its group: 7.)
      if code ~= 0 and code ~= 6 and code ~= 7 then
        local g = holds[i].g
        set = set and set .. ',' .. g or g
      end
    end
    if set then
      rollup(c, now, set, 'd', 1)
    end
  end
  -- Denied demand in the ledger, so a replay of it against another plan sees what was refused
  -- too: an entry per denial, its event, metadata and quantity and the groups that denied, for
  -- the first 100 denials of the user's UTC day, so a script hammering a denied user cannot grow the
  -- ledger. The day's count is the rollup of the pseudo-group "~" (no group id holds one), pruned
  -- with the day's others; the groups' rollups above count every denial.
  if set and allowed == 0 and ARGV[4] ~= '' and rollup(c, now, '~', 'd', 1) <= 100 then
    -- The record the node encoded holds the event, quantity and metadata ("e", "qt", "md")
    -- before its holds ("h", last): only that head is decoded. (The first `,"h":[` is the holds':
    -- ids and events hold no quote, and the metadata's quotes are escaped in its JSON text.)
    local r = cjson.decode('{' .. string.sub(tail, 1, string.find(tail, ',"h":[', 1, true) - 1) .. '}')
    redis.call('XADD', KEYS[8], 'MINID', string.format('%d', now - ARGV[4]), '*', 'kind', 'denied', 'event', r.e,
      'metadata', r.md or '', 'quantity', r.qt, 'denied', set, 'at', string.format('%d', at))
  end
  -- Reserves prune only when they returned expired holds: commits, releases and tracks prune
  -- always, so the common admit stays cheap and ended records still go.
  if reclaimed then
    prune(c, now)
  end

  -- 7. Keep the answer for repeats (denials included), with the balances of balance groups
  -- after the alerts.
  append_fired(c, reply)
  if holds.credits then
    -- A hold on the quick path answers from its quick line and journal; the others from their
    -- wallets (wallet.lua's C.state).
    for i = 1, #holds do
      local h = holds[i]
      local q, n = h.fast, #reply
      if q then
        -- (As weigh made it: the line's values, the journal with this hold.)
        local line, j = q.line, q.journal
        reply[n + BALANCE.available], reply[n + BALANCE.held], reply[n + BALANCE.debt] =
          math.max(0, line[QUICK.av] - j), line[QUICK.held] + j, line[QUICK.d]
        reply[n + BALANCE.soonest], reply[n + BALANCE.soonest_at] =
          line[QUICK.soon] and line[QUICK.ss] - j or line[QUICK.ss], line[QUICK.sa]
      elseif h.b then
        C.state(c, h.b, now, nil, reply)
      end
    end
  end
  -- A step's answer (R.append): its code, its run's steps and fallbacks so far, then per hold
  -- what the run has left of its group.
  if run_id then
    R.append(c, reply, holds, run_code, run_n or 0, run_f or 0)
  end
  -- Last, what each clamped hold holds.
  if holds.clamped then
    for i = 1, n do
      if reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.denied] == 6 then
        reply[#reply + 1] = holds[i].a
      end
    end
  end
  return remember(c, reply, now, at)
end)
