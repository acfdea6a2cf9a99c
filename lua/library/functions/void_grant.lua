-- void_grant.lua: end a grant: what it has remaining is voided now, what it holds when given
-- back (a commit may still burn it: the call was admitted against it). Voiding twice is voiding.
--
-- KEYS[1..10] as in prelude.lua
-- KEYS[11]    grants hash, as in grant.lua
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     grant id
--
-- Returns {"more"} when expired holds remain to reclaim, {"not_found"}, else {VOIDED: "ok",
-- balance; the grant's AMOUNTS; then the alerts fired (as alerts.lua appends them)}.

register('void_grant', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 11, 5)

  -- 1. Expired holds go back first, so what they held is voided too.
  if reclaim(c, now) then
    return {'more'}
  end
  local raw = redis.call('HGET', KEYS[KEY_GRANTS], ARGV[ARG.VOID_GRANT.id])
  if not raw then
    return {'not_found'}
  end
  local balance = cjson.decode(raw).balance

  -- 2. A live grant is in the wallet; a finished one kept its final amounts.
  local w = C.wallet(c, balance, now)
  local g = C.find(c, w, ARGV[ARG.VOID_GRANT.id])
  -- VOIDED, then the grant's AMOUNTS: a finished grant's as its "n|<id>" field keeps them,
  -- in their order.
  local reply = {}
  reply[VOIDED.status], reply[VOIDED.balance] = 'ok', balance
  if g then
    C.void(c, g)
    C.pay_debt(c, w, now)
    C.save(c, now, true, true)
    C.amounts(c, g, reply)
  else
    for v in string.gmatch(redis.call('HGET', KEYS[KEY_GRANTS], 'n|' .. ARGV[ARG.VOID_GRANT.id]) or '', '%d+') do
      reply[#reply + 1] = v + 0
    end
  end
  return append_fired(c, reply)
end)
