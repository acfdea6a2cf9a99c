-- release.lua: give a reservation's holds back, exactly once.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, "", "": release needs no Idempotency-Key; ledger keep)
-- ARGV[5]     reservation id
-- ARGV[6]     the ledger entry's metadata, "" for the reservation's own (a proxied job's
--             release adds its job's id to what the reservation recorded; the node read it)
--
-- Returns {"more"} when expired holds remain to reclaim, {"not_found"}, {"conflict", state}
-- when the reservation was committed, else {RELEASED: "ok", "released"|"expired", record JSON;
-- then per hold its COUNTER: used, held, quota; then per balance group its balance
-- (wallet.lua's C.append)}.
--
-- A release after expiry ends the reservation too: it is marked released with "rx" = "1", so
-- a later commit is refused as after any release, and a repeated release answers "expired"
-- again, as the first did.

register('release', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 6)

  -- The answer's tail: per balance group of the record, its balance (wallet.lua's C.append).
  local function with_balances(reply, record)
    return record.w and C.append(c, reply, record.h, record.w, now) or reply
  end

  -- 1. Expired holds go back, then the reservation decides by its state.
  local record, state, raw = find_reservation(c, ARGV[ARG.RELEASE.id], now)
  if not record then
    return raw
  end
  if state == 'committed' then
    return {'conflict', 'committed'}
  end
  if state == 'released' then
    -- A repeat answers the first answer.
    return with_balances(append_counters(c, release_head(record.rx == '1' and 'expired' or 'released', raw), record.h, quotas(c, KEYS[KEY_SUBSCRIPTION], record.h, now)), record)
  end
  if state == 'expired' then
    -- The holds went back when they expired; only the ending is written.
    record.rx = '1'
    local text = finish(c, ARGV[ARG.RELEASE.id], record, 'released', now)
    return with_balances(append_counters(c, release_head('expired', text), record.h, quotas(c, KEYS[KEY_SUBSCRIPTION], record.h, now)), record)
  end

  -- 2. Give every hold back, credits to their grants, and count the release in today's rollups.
  -- A step's (or child run's) holds drawn from its run go back to the run (runs.lua); they held
  -- nothing on the user.
  local drawn = record.ru and select(2, R.settle(c, record, true, function() return nil end)) or {}
  -- A run given back (a level above denied its start) has no line any more.
  if record.run then
    R.finish(c, ARGV[ARG.RELEASE.id], record)
  end
  -- Holds on slices go back to the lease they were placed on (slices.lua).
  local closed = S.fields(c, record)
  move_counters(c, record.h, ':h', function(i, h) return drawn[i] and 0 or -tonumber(h.a) end)
  S.stated(c, closed)
  if record.w then
    for _, part in pairs(record.w) do
      C.give_back(c, part, now)
    end
    C.save(c, now)
  end
  for _, h in ipairs(record.h) do
    rollup(c, now, h.g, 'r', 1)
  end
  local text = finish(c, ARGV[ARG.RELEASE.id], record, 'released', now)
  -- The hold's end in the ledger, with no usage: a replay of the ledger sees what the
  -- reservation held and from when (a run's own release is its steps' business).
  if not record.run then
    ledger(c, now, record.h, function() return nil end, with_alternatives({'kind', 'release', 'ref', ARGV[ARG.RELEASE.id],
      'event', record.e, 'metadata', ARGV[ARG.RELEASE.metadata] ~= '' and ARGV[ARG.RELEASE.metadata] or record.md or '', 'quantity', record.qt or '',
      'since', record.cr or record.c,
      'at', record.c}, record))
  end
  return with_balances(append_counters(c, release_head('released', text), record.h, quotas(c, KEYS[KEY_SUBSCRIPTION], record.h, now)), record)
end)
