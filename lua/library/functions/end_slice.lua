-- end_slice.lua: end what a dead node left in a member's slot outbox, or a slice no call
-- closed (docs/decisions/0060-leased-slices.md; slices.lua). The sweeper calls it for an entry
-- older than its grace:
--   an intent ("lease"): the lease was never placed (placing removes the intent), so it ends
--     in a statement that the lease used nothing, and can never be placed now;
--   a mark ("placed"): the slice it names, still live under that lease and past its end, is
--     closed, stating what it used and still holds, as a short reserve closes one.
--
-- KEYS[1..10] as in prelude.lua, the member's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     the entry's id in the slot's outbox (KEYS[10])
--
-- Returns {"more"} when expired holds remain to reclaim, {"early"} for a mark of a slice that
-- has not ended (the entry stays), else {"ok", then the statements written (as alerts.lua
-- appends alerts)}, the entry removed (an entry already gone: nothing to do).

register('end_slice', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 5)

  -- 1. Expired holds go back first, so a slice closes holding only what is open.
  if reclaim_first(c, now) then
    return {'more'}
  end

  -- 2. The entry, as its script wrote it.
  local found = redis.call('XRANGE', KEYS[10], ARGV[5], ARGV[5])
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
    local line = redis.call('HGET', KEYS[1], e.f)
    local s = line and {string.match(line, SLICE_LINE)}
    if s and s[SLICE.l] == e.ls then
      if s[SLICE.x] + 0 > now then
        return {'early'}
      end
      local v = redis.call('HMGET', KEYS[1], e.f .. ':u', e.f .. ':h')
      S.close(c, {f = e.f, pe = e.pe}, line, (v[1] or 0) + 0, (v[2] or 0) + 0)
    end
  else
    error({err = 'ERR qg contract: outbox entry ' .. ARGV[5] .. ' is no intent and no mark'})
  end
  redis.call('XDEL', KEYS[10], ARGV[5])
  return append_fired(c, {'ok'})
end)
