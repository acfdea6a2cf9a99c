-- end_slice.lua: end what a dead node left in a member's slot outbox, or a slice no call
-- closed (docs/decisions/0060-leased-slices.md; slices.lua). The sweeper calls it for an entry
-- older than its grace:
--   an intent ("lease"): the lease was never placed (placing removes the intent), so it ends
--     in a statement that the lease used nothing, and can never be placed now;
--   a mark ("placed"): the slice it names, still live under that lease and past its end, is
--     closed, stating what it used and still holds, as a short reserve closes one.
-- The node calls it for a slice by its lease (no entry), when a team's denial says capacity
-- is leased: a slice whose time is over gives its rest back now, not at the sweeper's turn;
-- and to end a slice whatever its time, when its member left the team or the team's
-- subscription changed.
--
-- KEYS[1..10] as in prelude.lua, the member's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     the entry's id in the slot's outbox (KEY_OUTBOX), or "" for a slice named by:
-- ARGV[6..8]  the slice's field, its lease, its period's end ("" for a lifetime); "" each with
--             an entry
-- ARGV[9]     "1" to close the slice named by its lease even if it has not ended, else ""
--
-- Returns {"more"} when expired holds remain to reclaim, {"early"} for a slice that has not
-- ended (a mark's entry stays), else {"ok", then the statements written (as alerts.lua appends
-- alerts)}, the entry removed (an entry already gone, or a slice no longer live under the
-- lease: nothing to do).

register('end_slice', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 9)

  -- 1. Expired holds go back first, so a slice closes holding only what is open.
  if reclaim_first(c, now) then
    return {'more'}
  end

  -- 2. A slice named by its lease; else the entry, as its script wrote it.
  if ARGV[ARG.END_SLICE.entry] == '' then
    local ended = S.close_ended(c, ARGV[ARG.END_SLICE.field], ARGV[ARG.END_SLICE.lease], ARGV[ARG.END_SLICE.period_end], ARGV[ARG.END_SLICE.close] == '1')
    if ended == 'early' then
      return {'early'}
    end
    return append_fired(c, {'ok'})
  end
  local found = redis.call('XRANGE', KEYS[KEY_OUTBOX], ARGV[ARG.END_SLICE.entry], ARGV[ARG.END_SLICE.entry])
  if #found == 0 then
    return {'ok'}
  end
  local e, kv = {}, found[1][2]
  for i = 1, #kv, 2 do
    e[kv[i]] = kv[i + 1]
  end
  if e.type == 'lease' then
    S.state(c, '^' .. e.p .. '^', e.ls, 1, 0, 0)
  elseif e.type == 'placed' then
    if S.close_ended(c, e.f, e.ls, e.pe, false) == 'early' then
      return {'early'}
    end
  else
    error({err = 'ERR qg contract: outbox entry ' .. ARGV[ARG.END_SLICE.entry] .. ' is no intent and no mark'})
  end
  redis.call('XDEL', KEYS[KEY_OUTBOX], ARGV[ARG.END_SLICE.entry])
  return append_fired(c, {'ok'})
end)
