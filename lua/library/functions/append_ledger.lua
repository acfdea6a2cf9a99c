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

  -- 2. The entry and its groups' used rollups, unless the project keeps no ledger now; an
  -- outcome it carries (a commit's, or a later one replacing `previous`) counts in this
  -- level's counters of its groups as a commit at this level counts it (outcomes.lua).
  local fields, entry = cjson.decode(ARGV[ARG.APPEND_LEDGER.fields]), {}
  for k = 1, #fields - 1, 2 do
    entry[fields[k]] = fields[k + 1]
  end
  local groups = entry.groups and cjson.decode(entry.groups) or {}
  if entry.outcome then
    local counters, ends, names, seen = {}, {}, {}, {}
    for _, g in ipairs(groups) do
      if g.f and g.u ~= 'c' then
        counters[#counters + 1], ends[#ends + 1] = g.f, g.pe or ''
        if not seen[g.g] then
          seen[g.g], names[#names + 1] = true, g.g
        end
      end
    end
    count_outcome(c, counters, ends, names, tonumber(entry.counted or now), entry.outcome, entry.previous,
      model_of(entry.metadata))
  end
  if ARGV[ARG.WRITING.keep] ~= '' then
    if entry.kind ~= 'outcome' then
      local parts = {}
      for i, g in ipairs(groups) do
        rollup(c, now, g.g, 'u', tonumber(g.a))
        parts[i] = {g.g, tonumber(g.a), 0}
      end
      by_model(c, now, model_of(entry.metadata), parts)
    end
    redis.call('XADD', KEYS[KEY_LEDGER], 'MINID', string.format('%d', now - ARGV[ARG.WRITING.keep]), '*', unpack(fields))
  end
  return remember(c, {'ok'}, now)
end)
