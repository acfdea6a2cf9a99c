-- commit.lua: turn a reservation into usage, exactly once. A commit never denies.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     reservation id
-- ARGV[6]     "" to commit what was reserved, or the number of holds n,
--             then ARGV[7..6+n] the actual milli-units per hold, in the record's order
-- then        for the ledger: the commit's metadata as JSON ("" when it gave none: the
--             reservation's own, if any, is written), its quantity in milli-units ("": the
--             quantity reserved is written), the id of the key that made the call, the
--             member whose event it was ("" at the member's own level), whether the
--             member's level committed late ("1", "0"; "" at the member's own level), and
--             the call's outcome ("" when it said none; outcomes.lua)
--
-- Returns {"repeat", first reply JSON}, {"reused"}, {"more"}, {"not_found"}, {"conflict", state}
-- when the reservation was released, {"mismatch"} when n is not the record's hold count,
-- {"overflow", group} when a counter would pass 2^53 - 1 milli-units (nothing changes),
-- else {COMMITTED: "ok", late 0|1, record JSON; then per hold its COUNTER: used, held, quota;
-- then the alerts fired (as alerts.lua appends them), then per balance group its balance
-- (wallet.lua's C.append)}.

register('commit', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 6, 1, 6)

  -- 1. A repeat of this Idempotency-Key answers the first answer (`now` is Redis time, read
  -- once for the call: head.lua).
  local first = repeated(c)
  if first then
    return first
  end

  -- 2. Expired holds go back, then the reservation decides by its state.
  local record, state, raw = find_reservation(c, ARGV[5], now)
  if not record then
    return raw
  end
  if state == 'released' then
    return {'conflict', 'released'}
  end
  if state == 'committed' then
    -- A repeat answers the first answer.
    local reply = append_fired(c, append_counters(c, commit_head(record.l == '1' and 1 or 0, raw), record.h, quotas(c, KEYS[6], record.h, now)))
    return record.w and C.append(c, reply, record.h, record.w, now) or reply
  end
  if ARGV[6] ~= '' and tonumber(ARGV[6]) ~= #record.h then
    return {'mismatch'}
  end
  if record.run and state == 'expired' then
    -- A run closed itself at its expiry (the prelude's reclaim committed what its steps used):
    -- its close answers it as it is.
    local reply = append_fired(c, append_counters(c, commit_head(1, raw), record.h, quotas(c, KEYS[6], record.h, now)))
    return record.w and C.append(c, reply, record.h, record.w, now) or reply
  end

  -- 3. Count the actual amounts into the reservation's own periods. A late commit (the hold
  -- already expired and went back) still counts: the AI call happened. In-flight limits only
  -- give their slot back.
  -- A parent's level is late as its member's was, so one commit is one kind of entry at every
  -- level; its own hold goes back if it is still open, whichever the verdict.
  local held = state ~= 'expired'
  local l = ARGV[6] == '' and 7 or 7 + tonumber(ARGV[6])
  local late = not held
  if ARGV[l + 4] ~= '' then
    late = ARGV[l + 4] == '1'
  end
  -- A run's close commits what its steps used (its line, runs.lua).
  local used = record.run and R.ended(c, ARGV[5], record)
  for i, h in ipairs(record.h) do
    h.n = used and string.format('%d', used(h)) or ARGV[6] ~= '' and ARGV[6 + i] or h.a
  end
  -- A step's (or child run's) holds drawn from its run settle with the run while it is live,
  -- and count on the user, late, once it has ended (runs.lua).
  local drawn, live = {}, false
  if record.ru then
    drawn = R.drawn(c, record)
    live = next(drawn) ~= nil and R.live(c, record)
    if next(drawn) and not live then
      late = true
    end
  end
  local function mine(i)
    return not drawn[i] or not live
  end
  -- A balance's debt counts exactly too: a burn that could take it past MAX_EXACT is refused
  -- before anything is written, as a counter's is.
  -- (Two groups may burn one balance: their amounts add up.)
  local adding = {}
  for i, h in ipairs(record.h) do
    local b = h.m and string.byte(h.m) == BYTE_b and string.match(h.m, '^b/([^/]*)')
    if b and (not drawn[i] or not live) then
      adding[b] = (adding[b] or 0) + h.n
      if C.wallet(c, b, now).d + adding[b] > MAX_EXACT then
        return {'overflow', h.g}
      end
    end
  end
  -- Holds on slices count on the lease they were placed on (slices.lua).
  local closed = S.fields(c, record)
  -- Usage first: it is the change that can be refused, and then nothing may have been written.
  local over, before, after = move_counters(c, record.h, ':u', function(i, h)
    return (h.k == 'c' or not mine(i)) and 0 or tonumber(h.n)
  end)
  if over then
    return {'overflow', over}
  end
  local quota_in_force = quotas(c, KEYS[6], record.h, now)
  alert_crossings(c, record.h, quota_in_force, before, after)
  if held then
    move_counters(c, record.h, ':h', function(i, h) return drawn[i] and 0 or -tonumber(h.a) end)
  end
  S.stated(c, closed)
  if live then
    R.settle(c, record, held, function(_, h) return h.n end)
  end
  -- Credits: burned from what the reservation held, or, when its holds went back at expiry, in
  -- burn order; what nothing covers becomes debt (a commit never denies).
  local burned
  if record.w or (next(drawn) and not live) then
    burned = {}
    for i, h in ipairs(record.h) do
      local part = not drawn[i] and record.w and record.w[h.g]
      if drawn[i] and not live and h.m and string.byte(h.m) == BYTE_b then
        -- Drawn from a run that has ended: burned in burn order, as any late commit.
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
    C.save(c, now, c.fired, true)
  end
  record.l = late and '1' or '0'
  if record.run then
    R.finish(c, ARGV[5], record)
  end
  -- What the output came to, when the commit says: kept on the record (set_outcome.lua may
  -- change it later) and counted where the record counts.
  local outcome = ARGV[l + 5]
  -- The model the ledger counts this usage under: the commit's metadata may name another than
  -- the reservation's, which the record then keeps for an outcome said later (`om`).
  local model = model_of(ARGV[l] ~= '' and ARGV[l] or record.md)
  if model ~= model_of(record.md) then
    record.om = model
  end
  if outcome ~= '' then
    record.o = outcome
    local counters, ends, groups = outcome_holds(record.h, record.sl)
    count_outcome(c, counters, ends, groups, now, outcome, nil, model)
  end
  finish(c, ARGV[5], record, 'committed', now)

  -- 4. The ledger entry and the day's rollups (usage only: in-flight holds counted none), in the
  -- same step.
  -- The entry says what the call was for: the commit's metadata and actual quantity, else what
  -- the reservation recorded (records written before it recorded them have neither).
  local metadata = ARGV[l] ~= '' and ARGV[l] or record.md or ''
  local quantity = ARGV[l + 1] ~= '' and ARGV[l + 1] or record.qt or ''
  -- A run's close counts no usage of its own: its steps' entries did (and carry their run).
  local kind = record.run and 'run_close' or late and 'late_commit' or 'commit'
  -- With the hold it ends: since when, and the quantity reserved (a replay of the ledger holds it).
  local fields = {'kind', kind, 'ref', ARGV[5], 'event', record.e, 'metadata', metadata, 'quantity', quantity,
    'since', record.cr or record.c, 'at', record.c, 'reserved', record.qt or ''}
  -- The hold was measured on the reservation's metadata: kept when the commit's differs.
  if metadata ~= (record.md or '') and record.md then
    fields[#fields + 1], fields[#fields + 2] = 'held_metadata', record.md
  end
  if record.ru then
    R.named(c, fields, record.ru, record.ra, record.rk)
  end
  if outcome ~= '' then
    -- (With when it was counted: a team's slot counts it on that day, as set_outcome's says.)
    fields[#fields + 1], fields[#fields + 2] = 'outcome', outcome
    fields[#fields + 1], fields[#fields + 2] = 'counted', string.format('%d', now)
  end
  -- (A hold on a slice is its ancestor's usage: its level's entry, not this one's.)
  local function counted(_, h)
    return not record.run and h.k ~= 'c' and h.n or nil
  end
  if record.sl then
    ancestor_ledgers(c, record, counted, attributed({unpack(fields)}, ARGV[l + 2], ''))
  end
  ledger(c, now, record.h, function(i, h)
    return not (record.sl and record.sl[tostring(i)]) and counted(i, h) or nil
  end,
    credited(attributed(fields, ARGV[l + 2], ARGV[l + 3]), burned))
  local reply = commit_head(late and 1 or 0, cjson.encode(record))
  append_fired(c, append_counters(c, reply, record.h, quota_in_force))
  if record.w then
    C.append(c, reply, record.h, record.w, now)
  end
  return remember(c, reply, now)
end)
