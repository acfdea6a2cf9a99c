-- grant.lua: add a grant of credits to a subject's balance, once per Idempotency-Key.
--
-- KEYS[1..10] as in prelude.lua (the wallet is a field of the counters hash, see wallet.lua)
-- KEYS[11]    grants hash                qg:{p:u}:grants  <grant id> -> the grant's record
--                                                           JSON, "n|"<grant id> -> its final
--                                                           amounts once it finished
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     grant id
-- ARGV[6]     balance
-- ARGV[7]     amount, milli
-- ARGV[8]     burn key (src/quota/credit.rs, burn_key)
-- ARGV[9]     effective ms
-- ARGV[10]    expires ms, "" for never
-- ARGV[11]    the grant's record JSON, as the node encoded it
-- ARGV[12]    the most live grants a balance may have
-- ARGV[13]    how long the Idempotency-Key's answer is kept, ms (the ledger's retention, at
--             least the other keys': a payment's webhook may come again days later)
--
-- Returns {"repeat", first reply JSON}, {"reused"}, {"limit"} when the balance has as many
-- live grants as it may, else {GRANTED: "ok", grant id; its AMOUNTS; the debt it paid;
-- then the alerts fired (as alerts.lua appends them)}.

register('grant', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 11, 13)

  -- 1. A repeat (a payment's webhook delivered twice) answers the first answer.
  local first = repeated(c)
  if first then
    return first
  end

  -- 2. Finished grants leave the wallet; a balance has at most ARGV[12] live ones. What their
  -- state still owes the ledger (credits given back to a voided or expired grant since the last
  -- call that wrote it) is written first: once out of the wallet, nothing would.
  local w = C.wallet(c, ARGV[ARG.GRANT.balance], now)
  C.log(c, ARGV[ARG.GRANT.balance], w, now)
  if C.compact(c, w, KEYS[KEY_GRANTS], ARGV[ARG.GRANT.balance]) >= tonumber(ARGV[ARG.GRANT.live]) then
    C.save(c, now, true, true)
    return {'limit'}
  end

  -- 3. The grant, in burn order, pays debt first; its category ("p" promotional, "" paid) and
  -- cost basis go with every credit it burns, for the ledger's revenue.
  local a = ARGV[ARG.GRANT.amount] + 0
  local record = cjson.decode(ARGV[ARG.GRANT.record])
  local cat = record.category == 'promotional' and 'p' or ''
  local cb = record.costBasis or ''
  C.entry(c, now, {'kind', 'grant', 'ref', ARGV[ARG.GRANT.id], 'balance', ARGV[ARG.GRANT.balance], 'credits', ARGV[ARG.GRANT.amount], 'category', cat, 'cost', cb,
    'key', record.keyId or ''})
  local grant, paid = C.add(c, w, {i = ARGV[ARG.GRANT.id], k = ARGV[ARG.GRANT.burn], f = ARGV[ARG.GRANT.effective], x = ARGV[ARG.GRANT.expires], a = a, r = a, h = 0, c = 0, e = 0,
    v = 0, cat = cat, cb = cb}, now)
  redis.call('HSET', KEYS[KEY_GRANTS], ARGV[ARG.GRANT.id], ARGV[ARG.GRANT.record])
  -- The subject's balances by name ("~balances", read by balances.lua), begun with its first
  -- grant; a subject granted before names were kept has its list built by balances.lua first.
  local known = redis.call('HGET', KEYS[KEY_GRANTS], '~balances')
  if not known and redis.call('HLEN', KEYS[KEY_GRANTS]) == 1 then
    known = '\n'
  end
  if known and not string.find(known, '\n' .. ARGV[ARG.GRANT.balance] .. '\n', 1, true) then
    redis.call('HSET', KEYS[KEY_GRANTS], '~balances', known .. ARGV[ARG.GRANT.balance] .. '\n')
  end
  C.save(c, now, true, true)
  -- GRANTED, then its AMOUNTS and the debt it paid.
  local reply = {}
  reply[GRANTED.status], reply[GRANTED.id] = 'ok', ARGV[ARG.GRANT.id]
  C.amounts(c, grant, reply)
  reply[GRANTED_FIELDS + AMOUNTS_FIELDS + 1] = paid
  remember(c, append_fired(c, reply), now)
  if ARGV[ARG.WRITING.idempotency] ~= '' then
    -- Pruned when its longer keep ends, not the retention window's.
    redis.call('ZADD', KEYS[KEY_ENDED], string.format('%d', now + ARGV[ARG.GRANT.kept]), 'i:' .. ARGV[ARG.WRITING.idempotency])
  end
  return reply
end)
