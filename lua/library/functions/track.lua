-- track.lua: count usage that already happened, without checking any quota. Never denies.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     subscription version the node decided with ("0": no subscription)
-- ARGV[6]     number of holds n, then n times HOLD_FIELDS values, one hold each, as in holds.lua
--             (no in-flight groups)
-- then        for the ledger: the event name, its metadata as JSON, its quantity in
--             milli-units, the id of the key that made the call, the member whose event it was
--             ("" at the member's own level), and the entry's reference (the same at every
--             level, so a parent's entry has its member's id), and its run, "" for none, else
--             "<run id>|<action id>|<kind>" (runs.lua: holds of the groups the run holds count
--             in the run while it is live), and the call's outcome ("" when it said none;
--             outcomes.lua)
-- last        the request's decision instant, ms (see holds.lua): its periods must contain it
--
-- Returns {"repeat", first reply JSON}, {"reused"}, {"stale"}, {"more"}, {"overflow", group}
-- when a counter would pass 2^53 - 1 milli-units (nothing is counted), else {"ok", then per
-- hold COUNTER_FIELDS values: used, held, quota, then the alerts fired (as alerts.lua appends
-- them), then per balance group its balance (wallet.lua's C.append), then for a step its
-- run's answer (runs.lua's R.answer)}.

register('track', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 10, 6, HOLD_FIELDS, 9)

  -- 1. A repeat answers the first answer and counts nothing (`now` is Redis time, read once
  -- for the call: head.lua).
  local first = repeated(c)
  if first then
    return first
  end

  -- 2. The node's assumptions checked against Redis: its instant, its periods and the
  -- subscription version.
  local at, holds, quota_in_force = checked(c, ARG.TRACK.holds + 1, n, KEYS[KEY_SUBSCRIPTION], ARGV[ARG.TRACK.version])
  if not at then
    return {'stale'}
  end

  -- 3. Expired holds go back first, so the answer's counters are current.
  if reclaim(c, now) then
    return {'more'}
  end

  -- 4. Count every group, or none when one would pass what a counter holds exactly; a step's
  -- holds of its run's groups count in the run instead (runs.lua), after the check.
  local l = ARG.TRACK.holds + HOLD_FIELDS * n
  if holds.note_values then
    cap_values(c, holds)
  end
  local step = ARGV[l + ARG.TRACK_TAIL.run] ~= '' and R.track(c, ARGV[l + ARG.TRACK_TAIL.run], holds)
  local over = holds.credits and C.past_exact(c, holds, now)
  if over then
    return {'overflow', over}
  end
  local before, after
  over, before, after = move_counters(c, holds, ':u', function(_, h) return h.rb and 0 or tonumber(h.a) end)
  if over then
    return {'overflow', over}
  end
  if step then
    R.tracked(c, step, holds)
  end
  alert_crossings(c, holds, quota_in_force, before, after)
  if holds.note_values then
    holds.note_values()
  end
  -- Credits are burned in burn order; what nothing covers becomes debt (a track never denies).
  local burned = holds.credits and C.burn_tracked(c, holds, quota_in_force, now)

  -- 5. The ledger entry and the day's rollups, in the same step as the counters.
  -- With its decision instant, which chose its windows (the entry's id is Redis's time);
  -- formatted only when the project keeps a ledger to write it in.
  local fields = {'kind', 'track', 'ref', ARGV[l + ARG.TRACK_TAIL.reference], 'event', ARGV[l + ARG.TRACK_TAIL.event], 'metadata', ARGV[l + ARG.TRACK_TAIL.metadata],
    'quantity', ARGV[l + ARG.TRACK_TAIL.quantity], 'at', ARGV[ARG.WRITING.keep] ~= '' and string.format('%d', at) or ''}
  if step then
    R.named(c, fields, step.id, step.action, step.kind)
  end
  -- What the output came to, when the call says: counted in its counters and rollups.
  local outcome = ARGV[l + ARG.TRACK_TAIL.outcome]
  if outcome ~= '' then
    fields[#fields + 1], fields[#fields + 2] = 'outcome', outcome
    local counters, ends, groups = outcome_holds(holds)
    count_outcome(c, counters, ends, groups, now, outcome, nil, model_of(ARGV[l + ARG.TRACK_TAIL.metadata]))
  end
  ledger(c, now, holds, function(_, h) return h.a end, credited(attributed(fields, ARGV[l + ARG.TRACK_TAIL.key], ARGV[l + ARG.TRACK_TAIL.member]), burned))
  prune(c, now)
  local reply = append_fired(c, append_counters(c, {'ok'}, holds, quota_in_force))
  if holds.credits then
    C.append(c, reply, holds, nil, now)
  end
  if step then
    R.answer(c, step, holds, reply)
  end
  return remember(c, reply, now, at)
end)
