-- reserving.lua: the steps of a reserve (functions/reserve.lua) after its check, a function
-- each: read the counters, decide, write an admit or a denial, answer. The last module, after
-- holds.lua (whose read and weigh they use) and approvals.lua. What the read hands the next
-- steps is passed along as values, not kept in a table: a table a call makes costs it in Lua's
-- garbage collection (a table of the read's seven, some 3,500 Redis instructions a reserve),
-- and a reserve makes none but those it needs. A denial's writes, rarer, take one table.

-- The counters a reserve decides on (prelude.lua's read_counters, with what it reads besides:
-- "~open", the day's admits of its groups, what each hold fired, the quick lines of its
-- balances and a step's run's fields), expired holds given back first, so they never count
-- against the decision; then leases the node hands over placed on their slices, before
-- anything is weighed.
-- The counters hash's field "~open" keeps an instant no open hold expires before: while it is
-- in the future, nothing is due, and the open set is not asked. Once it has passed, expired
-- holds go back (prelude.lua's reclaim), the counters are read again when some did, and the
-- field's new value is the instant the set's first hold expires (MAX_EXACT for none). Reserve,
-- the only call that adds a hold to the set, lowers it to its hold's expiry; extend, which may
-- bring one nearer, deletes it. Holds that leave the set leave it lower than it need be, which
-- costs one look at the set once it has passed.
-- Answers nil when more expired holds are due than a call gives back (the reserve answers
-- "more"); else what it read: the counters, the day's admits field and its count, where the
-- holds' fired marks begin among the counters, "~open" as it stands now (as read while nothing
-- was due) and as it was read (nil when unknown), whether expired holds went back, and the
-- fields it read (prelude.lua's read_counters: hold i's held counter's name at 2i).
local function reserve_read(c, holds, run)
  local admits = admits_field(c, holds)
  local counters, open_before, admitted, fired_at, fields = read_counters(c, holds, true, run, admits)
  local now = c.now
  if open_before and open_before > now then
    if holds.slices then
      S.place(c, holds, counters)
    end
    return counters, admits, admitted, fired_at, open_before, open_before, false, fields
  end
  local more, reclaimed = reclaim(c, now)
  if more then
    return nil
  end
  local first = redis.call('ZRANGE', c.KEYS[KEY_OPEN], 0, 0, 'WITHSCORES')
  if reclaimed then
    counters, open_before, admitted, fired_at, fields = read_counters(c, holds, true, run, admits)
  end
  if holds.slices then
    S.place(c, holds, counters)
  end
  return counters, admits, admitted, fired_at, first[2] and first[2] + 0 or MAX_EXACT, open_before, reclaimed, fields
end

local reserve_decide
do
  -- (The reservation id's place, read from ARG once: in a call, it costs two table lookups.)
  local ID = ARG.RESERVE.id
  -- Decides: every group checked before anything is written. The answer carries the decision:
  -- after its head (RESERVED, with the reservation's id and `expires`), hold i's VERDICT (its
  -- held at verdict_at(RESERVED_FIELDS, i) + VERDICT.held, holds.lua's weigh). A step is judged
  -- on its run first (R.judge): its holds of the run's groups weigh against the run's budget, and
  -- a denial of the whole step denies the reserve. An attempt after the first of an original
  -- action (`chain`, as F.of made it) that its groups admit is weighed against its chain's caps
  -- (F.weigh). Answers the answer and 1 when it admits, else 0; or, when it is denied only for
  -- want of slices (nothing is decided: the node takes leases and asks again), nil, nil and the
  -- short answer.
  function reserve_decide(c, holds, quota_in_force, counters, run, expires, chain)
    -- Sized for the answer of two holds that fire nothing (and, with a balance group, its
    -- balance's five values): a table grown one element at a time is rehashed at every power of
    -- two (see prelude.lua).
    local reply = holds.credits and {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
      nil, nil} or {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
    reply[RESERVED.status], reply[RESERVED.id], reply[RESERVED.expires], reply[RESERVED.allowed] =
      'ok', c.ARGV[ID], expires, 0
    if run and run.id then
      R.judge(c, run, counters, holds)
    end
    local code = run and run.code or 0
    local allowed = weigh(c, holds, quota_in_force, counters, reply, nil, run and run.share)
    if code ~= 0 then
      allowed = 0
    end
    reply[RESERVED.allowed] = allowed
    if allowed == 0 and holds.slices and code == 0 then
      local short = S.short(c, holds, reply, counters, RESERVED_FIELDS)
      if short then
        return nil, nil, append_fired(c, short)
      end
    end
    if chain and allowed == 1 then
      allowed = F.weigh(c, chain, holds, reply, run)
    end
    return reply, allowed
  end
end

-- An admit's counters, in one HSET: each hold's held with its amount (a hold drawn from a run
-- holds nothing on the user's counter: the run does), a quick-path hold's amount added to its
-- balance's journal (wallet.lua's header), "~open" lowered to this reservation's expiry when that is nearer (`open` as it
-- stands, `open_before` as read: reserve_read's), the day's admits of its groups (`admits`, counted `admitted`
-- so far; prelude.lua's admits_field) and a step's or a run's start's fields (R.admit); then
-- the periods of new counters and the values of per-value groups. The answer shows each hold's
-- held with this one (a rolling window's, its window's; a slice hold's verdict is its slice's
-- line, with the ancestor's holds as its lease left them). Answers the group whose held
-- counter would pass MAX_EXACT (nothing is written then); else nil, which holds a step drew
-- from its run, and whether a hold has thresholds an admit can cross.
-- (`fields` as reserve_read answers them: hold i's held counter's name at 2i, not made again.)
local function admit_counters(c, holds, reply, run, counters, fields, open, open_before, admits, admitted)
  -- (Placed by count: `writes` is made with empty slots, so its length is not its border.)
  -- (Hold i's held in the answer at r, verdict_at(RESERVED_FIELDS, i) + VERDICT.held, stepped
  -- as weigh steps it: each call of a function costs a Redis function some 500 instructions.)
  local writes, alerting = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}, false
  local r = RESERVED_FIELDS + VERDICT.held
  for i = 1, #holds do
    local h = holds[i]
    local held = counters[2 * i] + (h.rb and 0 or h.a)
    if held > MAX_EXACT then
      return h.g
    end
    writes[2 * i - 1], writes[2 * i] = fields[2 * i], held
    if not h.sl then
      reply[r] = held + (h.rolled or 0)
    end
    alerting, r = alerting or h.t ~= nil, r + VERDICT_FIELDS
  end
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
  local lowest = math.min(open, reply[RESERVED.expires])
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
  if run then
    k, drawn = R.admit(c, run, holds, writes, k, c.ARGV[ARG.RESERVE.id], counters)
  end
  write_fields(c, writes, numbers)
  note_periods(c, holds, counters)
  if holds.note_values then
    holds.note_values()
  end
  return nil, drawn, alerting
end

local admit_record
do
  -- (The reservation id's place, read from ARG once, as reserve_decide's is.)
  local ID = ARG.RESERVE.id
  -- An admit's record, written and put in the open set: what only Redis knows, then what the
  -- node encoded (`tail`). Created at the decision instant `at`, as it expires ttl after it
  -- (an extension is capped a day after it); "cr" is Redis's time of it, which the ledger
  -- entry ending the hold tells ("since": a replay of the ledger orders the hold among entries,
  -- which are stamped with Redis time). Balance groups hold on their grants in burn order
  -- (C.hold_reserved), holds on slices name the lease each was placed on (so its commit finds
  -- it), and a step's record says which holds it drew from its run ("rd"). An attempt after the
  -- first of an original action (`chain`) joins its chain's list (F.admit).
  function admit_record(c, holds, tail, at, expires, drawn, chain)
    local ARGV, now = c.ARGV, c.now
    local id, x = ARGV[ID], string.format('%d', expires)
    -- (The instant as the node sent it, last, when that is the integer's own text, as it is but
    -- for a parent's "~": the same text, without the 2,000 instructions of formatting it.)
    local made = ARGV[#ARGV]
    made = string.find(made, '^[1-9]%d*$') and made or string.format('%d', at)
    local parts = holds.credits and C.hold_reserved(c, holds, now) or ''
    if holds.slices then
      -- (Joined as it goes, each index's text looked up rather than formatted: formatting a
      -- number, a table and its join each cost a Redis function a few thousand instructions.)
      local leases
      for i = 1, #holds do
        local h = holds[i]
        if h.sl then
          local part = '"' .. (INDEX_TEXT[i] or string.format('%d', i)) .. '":"' .. h.lease .. '"'
          leases = leases and leases .. ',' .. part or part
        end
      end
      parts = parts .. '"sl":{' .. leases .. '},'
    end
    local record
    if drawn then
      record = '{"s":"held","c":"' .. made .. '","cr":"' .. string.format('%d', now) .. '","x":"' .. x
        .. '",' .. parts .. '"rd":"' .. drawn .. '",' .. tail
    else
      record = '{"s":"held","c":"' .. made .. '","cr":"' .. string.format('%d', now) .. '","x":"' .. x
        .. '",' .. parts .. tail
    end
    redis.call('HSET', c.KEYS[KEY_RESERVATIONS], id, record)
    redis.call('ZADD', c.KEYS[KEY_OPEN], x, id)
    if chain then
      F.admit(c, chain, id)
    end
  end
end

-- The thresholds an admit crossed: open holds are the usage of in-flight groups, so an admit
-- can cross theirs (only a hold with thresholds can: the caller asks when one has them).
local function admit_alerts(c, holds, quota_in_force, counters, reply, fired_at)
  local before, after = {}, {}
  for i = 1, #holds do
    before[i], after[i] = counters[2 * i], reply[verdict_at(RESERVED_FIELDS, i) + VERDICT.held]
  end
  alert_crossings(c, holds, quota_in_force, before, after, 'c', counters, fired_at)
end

-- reserve_deny and deny_passed, with count_denial and the parts they share scoped to them (as
-- holds.lua's read_holds has its helpers).
local reserve_deny, deny_passed
do
  -- The groups a decision (`reply`, as reserve_decide made it) denied by, as a rollup field
  -- names a set: their ids, comma-separated; nil for none. (A clamp, 6, is no denial, nor is a
  -- slice short where another group denies, 7.)
  local function denied_set(holds, reply)
    local set, denied = nil, RESERVED_FIELDS + VERDICT.denied
    for i = 1, #holds do
      local code = reply[denied]
      if code ~= 0 and code ~= 6 and code ~= 7 then
        local g = holds[i].g
        set = set and set .. ',' .. g or g
      end
      denied = denied + VERDICT_FIELDS
    end
    return set
  end

  -- One alternative's denial as its record and the ledger keep it (alternatives.lua):
  -- {"i": its index as asked (its record's "ac"), "d": [[group, reason], ...]}, a step denied
  -- whole by its run first, with the group "". Reasons are named as a reserve's answer names
  -- them (DENIED, written from the node's codes): a balance group's by its own table.
  local function denial_of(holds, reply, run, tail)
    local parts, denied = {}, RESERVED_FIELDS + VERDICT.denied
    if run and run.code ~= 0 then
      parts[1] = '["","' .. DENIED.step[run.code] .. '"]'
    end
    for i = 1, #holds do
      local code, h = reply[denied], holds[i]
      if code ~= 0 and code ~= 6 and code ~= 7 then
        parts[#parts + 1] = '["' .. h.g .. '","' .. (h.b and DENIED.balance or DENIED.hold)[code] .. '"]'
      end
      denied = denied + VERDICT_FIELDS
    end
    return '{"i":"' .. string.match(tail, '"ac":"(%d+)"') .. '","d":[' .. table.concat(parts, ',') .. ']}'
  end

  -- A denial in the rollups and the ledger: today's rollups count its denying groups, once in
  -- the field of that set of groups (see prelude.lua), one HINCRBY however many; and the ledger
  -- keeps the denied demand, so a replay of it against another plan sees what was refused too:
  -- an entry per denial, its event, metadata and quantity and the groups that denied, for the
  -- first 100 denials of the user's UTC day, so a script hammering a denied user cannot grow
  -- the ledger. The day's count is the rollup of the pseudo-group "~" (no group id holds one),
  -- pruned with the day's others; the groups' rollups count every denial. A call of
  -- alternatives denied all (its record names them, "al") says them and each one's denial
  -- (`denials`, else this one's alone) in its entry; its own fields are the last alternative's.
  -- A step its run refused whole (R.judge's code: its steps, its action's attempts, ...) is a
  -- denial though no group may have denied it: its entry says why ("reason", as the answer
  -- names it), and a step's entry names its run, action and kind (R.named).
  local function count_denial(c, holds, reply, tail, at, run, denials)
    local now, set = c.now, denied_set(holds, reply)
    local whole = run and run.code ~= 0 and DENIED.step[run.code]
    if not set and not whole then
      return
    end
    if set then
      rollup(c, now, set, 'd', 1)
    end
    local keep_ms = c.ARGV[ARG.WRITING.keep]
    if keep_ms ~= '' and rollup(c, now, '~', 'd', 1) <= 100 then
      -- The record the node encoded holds the event, quantity and metadata ("e", "qt", "md"),
      -- after a step's run, action and kind ("ru", "ra", "rk"), before its holds ("h", last):
      -- only that head is decoded. (The first `,"h":[` is the holds': ids and events hold no
      -- quote, and the metadata's quotes are escaped in its JSON.)
      local r = cjson.decode('{' .. string.sub(tail, 1, string.find(tail, ',"h":[', 1, true) - 1) .. '}')
      -- The fields keep the order the releases before wrote ("denied" before "at").
      local fields = {'kind', 'denied', 'event', r.e, 'metadata', r.md or '', 'quantity', r.qt}
      if set then
        fields[#fields + 1], fields[#fields + 2] = 'denied', set
      end
      if whole then
        fields[#fields + 1], fields[#fields + 2] = 'reason', whole
      end
      fields[#fields + 1], fields[#fields + 2] = 'at', string.format('%d', at)
      if r.ru then
        R.named(c, fields, r.ru, r.ra, r.rk)
      end
      if r.al then
        fields[#fields + 1], fields[#fields + 2] = 'alternatives', r.al
        fields[#fields + 1], fields[#fields + 2] = 'denials', denials or '[' .. denial_of(holds, reply, run, tail) .. ']'
      end
      redis.call('XADD', c.KEYS[KEY_LEDGER], 'MINID', string.format('%d', now - keep_ms), '*', unpack(fields))
    end
  end

  -- Each denying hold's writes: its group fires "limit" the first time in its period at this
  -- quota, at its level (open holds for in-flight groups, else usage; a rolling window has no
  -- period to fire in: its denials say when room is back), and an approval group's first
  -- denial opens its request (approvals.lua), after which it denies as pending (2).
  local function deny_holds(c, holds, quota_in_force, counters, reply, tail, fired_at)
    -- (Hold i's verdict's denied at `denied`, verdict_at(RESERVED_FIELDS, i) + VERDICT.denied,
    -- stepped as weigh steps it.)
    local denied = RESERVED_FIELDS + VERDICT.denied
    for i = 1, #holds do
      local h = holds[i]
      if reply[denied] == 1 and not h.b and not h.rb and not h.roll then
        local used, held = counters[2 * i - 1], counters[2 * i]
        fire(c, 'limit', h, quota_in_force[i], {'L'}, h.k == 'c' and held or used, counters[fired_at + i])
        if h.ap and open_approval(c, h, quota_in_force[i], used, held, tail) == 'p' then
          reply[denied] = 2
        end
      end
      denied = denied + VERDICT_FIELDS
    end
  end

  -- The writes of the alternatives a call weighed and denied before the one it decided on
  -- (`passed`, as reserve.lua keeps them: holds, quota in force, counters, decision, run,
  -- record, fired marks), each as a denial's but for the ledger: its holds' (deny_holds) and
  -- its groups' rollups. Answers their denials, in order (denial_of).
  function deny_passed(c, passed)
    local denials = {}
    for k, p in ipairs(passed) do
      local holds, reply, tail = p[1], p[4], p[6]
      deny_holds(c, holds, p[2], p[3], reply, tail, p[7])
      local set = denied_set(holds, reply)
      if set then
        rollup(c, c.now, set, 'd', 1)
      end
      denials[k] = denial_of(holds, reply, p[5], tail)
    end
    return denials
  end

  -- A denial's writes, of `denial`: {holds, quota_in_force, counters, fired_at, open,
  -- open_before (as reserve_read answers them), reply (reserve_decide's), tail (the record the
  -- node encoded), at (the decision instant), passed (the alternatives weighed before, or nil),
  -- run (a step's or a run's start, or nil)}.
  -- Each denying hold's (deny_holds). A wallet this denial read whole,
  -- because its quick line could not decide (a grant started or expired since the line was
  -- written, or the line knew other low-balance amounts or another allowance), is saved with a
  -- fresh line: the next call decides on the line again, so a client hammering a denied
  -- balance pays the quick price from its second call on (wallet.lua's header). "~open" is
  -- written as the open set says it now (`open`), when it had passed (`open_before`).
  -- Then the denial is counted (count_denial); a call of alternatives denies those it passed
  -- first (`passed`, deny_passed), and its entry says them all.
  function reserve_deny(c, denial)
    local holds, reply, tail, passed, run = denial.holds, denial.reply, denial.tail, denial.passed, denial.run
    deny_holds(c, holds, denial.quota_in_force, denial.counters, reply, tail, denial.fired_at)
    local denials
    if passed then
      denials = deny_passed(c, passed)
      denials[#denials + 1] = denial_of(holds, reply, run, tail)
      denials = '[' .. table.concat(denials, ',') .. ']'
    end
    if c.wallets then
      C.save(c, c.now, true)
    end
    local open = denial.open
    if open ~= denial.open_before then
      redis.call('HSET', c.KEYS[KEY_COUNTERS], '~open', string.format('%d', open))
    end
    count_denial(c, holds, reply, tail, denial.at, run, denials)
  end
end

-- The answer, kept for repeats (denials included): the decision, the alerts fired, the
-- balances of balance groups (C.append_reserved), a step's answer of its run (R.append: its
-- code, its run's steps and fallbacks so far, then per hold what the run has left of its
-- group), and last what each clamped hold holds.
local function reserve_answer(c, holds, reply, run, at)
  append_fired(c, reply)
  if holds.credits then
    C.append_reserved(c, holds, reply, c.now)
  end
  if run and run.id then
    R.append(c, reply, holds, run.code, run.steps, run.fallbacks)
  end
  if holds.clamped then
    append_clamped(holds, reply, RESERVED_FIELDS)
  end
  return remember(c, reply, c.now, at)
end

-- reserving.lua ends --
