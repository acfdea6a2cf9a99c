-- append_ledger.lua: an ancestor's ledger entry of a call decided on a member's slice, moved
-- from the member's slot outbox (changes.lua's ancestor_ledgers; slices.lua), at the
-- ancestor's slot: the entry, and the day's used rollups of its groups, as a commit at that
-- level writes them. The node moves a note under an Idempotency-Key of its own (its outbox and
-- id), so a note moved twice (its node died before removing it) is appended once.
--
-- KEYS[1..10] as in prelude.lua, the ancestor's
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field of the note, its digest, ledger keep)
-- ARGV[5]     the entry's fields and values as a JSON list of strings, its groups among them
--
-- Returns {"repeat", first reply JSON} for a note appended before, else {"ok"}.

register('append_ledger', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 5)

  -- 1. A note appended before answers as it did.
  local first = repeated(c)
  if first then
    return first
  end
  prune(c, now)

  -- 2. The entry and its groups' used rollups, unless the project keeps no ledger now.
  if ARGV[4] ~= '' then
    local fields = cjson.decode(ARGV[5])
    for k = 1, #fields - 1, 2 do
      if fields[k] == 'groups' then
        for _, g in ipairs(cjson.decode(fields[k + 1])) do
          rollup(c, now, g.g, 'u', tonumber(g.a))
        end
      end
    end
    redis.call('XADD', KEYS[8], 'MINID', string.format('%d', now - ARGV[4]), '*', unpack(fields))
  end
  return remember(c, {'ok'}, now)
end)
