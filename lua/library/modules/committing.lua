-- committing.lua: the steps of a commit (functions/commit.lua) after it found its
-- reservation, a function each: the amounts it counts, the check that a balance's debt stays
-- exact, its credits, its outcome and its ledger entry. After reserving.lua, the last module
-- but for this one. Each takes the reservation's `record` as find_reservation decoded it, its
-- holds' committed amounts in `h.n` once commit_amounts has set them.

-- What a commit counts: whether its holds are still held (a late commit's went back at their
-- expiry, and still count: the call happened), where its ledger arguments begin (`l`, after
-- the actual amounts), whether it is late (a parent's level is late as its member's was, so one
-- commit is one kind of entry at every level), and per hold what it commits (`h.n`: a run's
-- close commits what its steps used, its line in runs.lua; else the actual amount given, or
-- what was reserved). A step's (or child run's) holds drawn from its run settle with the run
-- while it is live, and count on the user, late, once it has ended (runs.lua): answers which
-- were drawn and whether the run is live.
local function commit_amounts(c, record, state)
  local ARGV = c.ARGV
  local held = state ~= 'expired'
  local l = ARGV[ARG.COMMIT.holds] == '' and ARG.COMMIT.holds or ARG.COMMIT.holds + tonumber(ARGV[ARG.COMMIT.holds])
  local late = not held
  if ARGV[l + ARG.COMMIT_TAIL.late] ~= '' then
    late = ARGV[l + ARG.COMMIT_TAIL.late] == '1'
  end
  local used = record.run and R.ended(c, ARGV[ARG.COMMIT.id], record)
  for i, h in ipairs(record.h) do
    h.n = used and string.format('%d', used(h)) or ARGV[ARG.COMMIT.holds] ~= '' and ARGV[ARG.COMMIT.holds + i] or h.a
  end
  local drawn, live = {}, false
  if record.ru then
    drawn = R.drawn(c, record)
    live = next(drawn) ~= nil and R.live(c, record)
    if next(drawn) and not live then
      late = true
    end
  end
  return held, l, late, drawn, live
end

-- A balance's debt counts exactly too: the group of a burn that could take it past MAX_EXACT
-- (refused before anything is written, as a counter's is), else nil. (Two groups may burn one
-- balance: their amounts add up. A hold drawn from a live run burns nothing here.)
local function commit_past_exact(c, record, drawn, live)
  local adding, now = {}, c.now
  for i, h in ipairs(record.h) do
    local b = h.m and string.byte(h.m) == BYTE_b and string.match(h.m, '^b/([^/]*)')
    if b and (not drawn[i] or not live) then
      adding[b] = (adding[b] or 0) + h.n
      if C.wallet(c, b, now).d + adding[b] > MAX_EXACT then
        return h.g
      end
    end
  end
  return nil
end

-- A commit's counters, in one read and one write: usage, the change that can be refused (then
-- nothing may have been written; a hold drawn from a live run counts in the run, R.settle, and
-- an in-flight one counts no usage), and the holds given back when they were still held (a
-- record's holds name distinct fields, one group each, so neither move reads the other's);
-- then the thresholds usage crossed; holds on slices counted on the lease they were placed on
-- (slices.lua). Answers the group whose counter would pass MAX_EXACT, else nil, the quota in
-- force per hold, and the counters as written (read_counters' shape), which the answer carries.
local function commit_counters(c, record, held, drawn, live)
  local closed, holds = S.fields(c, record), record.h
  local counters = read_counters(c, holds)
  local n = #holds
  local before, after, writes = {nil, nil, nil, nil}, {nil, nil, nil, nil}, {}
  for i = 1, n do
    local h, used = holds[i], counters[2 * i - 1]
    before[i], after[i] = used, used
    if not (h.k == 'c' or (drawn[i] and live)) and h.n + 0 ~= 0 then
      local value = math.max(0, used + h.n)
      if value > MAX_EXACT then
        -- Past what a double counts exactly: nothing is written, the caller refuses.
        return h.g
      end
      after[i] = value
      writes[#writes + 1], writes[#writes + 2] = h.f .. ':u', value
    end
  end
  note_periods(c, holds, counters)
  for i = 1, n do
    local h = holds[i]
    counters[2 * i - 1] = after[i]
    if held and not drawn[i] and h.a + 0 ~= 0 then
      local value = math.max(0, counters[2 * i] - h.a)
      counters[2 * i] = value
      writes[#writes + 1], writes[#writes + 2] = h.f .. ':h', value
    end
  end
  write_fields(c, writes)
  local quota_in_force = quotas(c, c.KEYS[KEY_SUBSCRIPTION], holds, c.now)
  alert_crossings(c, holds, quota_in_force, before, after)
  S.stated(c, closed)
  if live then
    R.settle(c, record, held, function(_, h) return h.n end)
  end
  return nil, quota_in_force, counters
end

-- A commit's credits: burned from what the reservation held (`held`), or, when its holds went
-- back at expiry, in burn order; what nothing covers becomes debt (a commit never denies). A
-- hold drawn from a run that has ended burns in burn order, as any late commit. Answers what
-- each group burned, for the ledger entry; nil when it burned nothing.
local function commit_burns(c, record, drawn, live, held)
  if not (record.w or (next(drawn) and not live)) then
    return nil
  end
  local burned, now = {}, c.now
  for i, h in ipairs(record.h) do
    local part = not drawn[i] and record.w and record.w[h.g]
    if drawn[i] and not live and h.m and string.byte(h.m) == BYTE_b then
      local b = string.match(h.m, '^b/([^/]*)')
      local grants, debt = C.burn(c, b, tonumber(h.n), now)
      burned[h.g] = {b = b, g = grants, d = string.format('%d', debt)}
    elseif part then
      local grants, debt
      if held then
        grants, debt = C.settle(c, part, tonumber(h.n), now)
      else
        grants, debt = C.burn(c, part.b, tonumber(h.n), now)
      end
      burned[h.g] = {b = part.b, g = grants, d = string.format('%d', debt)}
    end
  end
  C.save(c, now, true, true)
  return burned
end

-- What the output came to, when the commit says (its argument at `l` + 5): kept on the record
-- (set_outcome.lua may change it later) and counted where the record counts. The model the
-- ledger counts this usage under: the commit's metadata may name another than the
-- reservation's, which the record then keeps for an outcome said later (`om`). Answers the
-- outcome ("" for none) and the model (false for none), which the ledger entry counts under.
local function commit_outcome(c, record, l)
  local ARGV = c.ARGV
  local outcome = ARGV[l + ARG.COMMIT_TAIL.outcome]
  local model = model_of(ARGV[l + ARG.COMMIT_TAIL.metadata] ~= '' and ARGV[l + ARG.COMMIT_TAIL.metadata] or record.md)
  if model ~= model_of(record.md) then
    record.om = model
  end
  if outcome ~= '' then
    record.o = outcome
    local counters, ends, groups = outcome_holds(record.h, record.sl)
    count_outcome(c, counters, ends, groups, c.now, outcome, nil, model)
  end
  return outcome, model or false
end

-- The commit's ledger entry and the day's rollups (usage only: in-flight holds counted none).
-- The entry says what the call was for: the commit's metadata and actual quantity, else what
-- the reservation recorded (records written before it recorded them have neither); with the
-- hold it ends, since when, and the quantity reserved (a replay of the ledger holds it). A
-- run's close counts no usage of its own: its steps' entries did (and carry their run). A hold
-- on a slice is its ancestor's usage: its level's entry, not this one's.
local function commit_ledger(c, record, late, l, outcome, model, burned)
  local ARGV, id = c.ARGV, c.ARGV[ARG.COMMIT.id]
  local metadata = ARGV[l + ARG.COMMIT_TAIL.metadata] ~= '' and ARGV[l + ARG.COMMIT_TAIL.metadata] or record.md or ''
  local quantity = ARGV[l + ARG.COMMIT_TAIL.quantity] ~= '' and ARGV[l + ARG.COMMIT_TAIL.quantity] or record.qt or ''
  local kind = record.run and 'run_close' or late and 'late_commit' or 'commit'
  local fields = {'kind', kind, 'ref', id, 'event', record.e, 'metadata', metadata, 'quantity', quantity,
    'since', record.cr or record.c, 'at', record.c, 'reserved', record.qt or ''}
  -- The hold was measured on the reservation's metadata: kept when the commit's differs.
  if metadata ~= (record.md or '') and record.md then
    fields[#fields + 1], fields[#fields + 2] = 'held_metadata', record.md
  end
  if record.ru then
    R.named(c, fields, record.ru, record.ra, record.rk)
  end
  with_alternatives(fields, record)
  if outcome ~= '' then
    -- (With when it was counted: a team's slot counts it on that day, as set_outcome's says.)
    fields[#fields + 1], fields[#fields + 2] = 'outcome', outcome
    fields[#fields + 1], fields[#fields + 2] = 'counted', string.format('%d', c.now)
  end
  local function counted(_, h)
    return not record.run and h.k ~= 'c' and h.n or nil
  end
  if record.sl then
    ancestor_ledgers(c, record, counted, attributed({unpack(fields)}, ARGV[l + ARG.COMMIT_TAIL.key], ''))
  end
  ledger(c, c.now, record.h, function(i, h)
    return not (record.sl and record.sl[tostring(i)]) and counted(i, h) or nil
  end,
    credited(attributed(fields, ARGV[l + ARG.COMMIT_TAIL.key], ARGV[l + ARG.COMMIT_TAIL.member]), burned), model)
end

-- committing.lua ends --
