-- append_ledger.lua: an ancestor's ledger entries of calls decided on its members' slices,
-- moved from the members' slot outboxes (changes.lua's ancestor_ledgers; slices.lua), at the
-- ancestor's slot: each entry, and the day's used rollups of its groups, as a commit at that
-- level writes them. The node moves notes in batches, each under a field of its own (its
-- outbox and id) kept as an Idempotency-Key's answer is: a note moved twice (its node died
-- before removing it, or two nodes moved it) is appended once, in whichever call came first.
--
-- KEYS[1..10] as in prelude.lua, the ancestor's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     n, the notes; then per note: its field, and the entry's fields and values as a
--             JSON list of strings, its groups among them
--
-- Returns {"ok", how many of the notes it appended (the rest were appended before)}.

register('append_ledger', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 10, 5, 2)
  prune(c, now)

  -- Appends one entry (its fields as a JSON list) and its groups' used rollups, unless the
  -- project keeps no ledger now; an outcome it carries (a commit's, or a later one replacing
  -- `previous`) counts in this level's counters of its groups as a commit at this level counts
  -- it (outcomes.lua).
  local function append_entry(json)
    local fields, entry = cjson.decode(json), {}
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
    local keep = ARGV[ARG.WRITING.keep]
    if keep ~= '' then
      if entry.kind ~= 'outcome' then
        local parts = {}
        for i, g in ipairs(groups) do
          parts[i] = {g.g, g.a + 0, 0}
        end
        by_day(c, now, model_of(entry.metadata), parts)
      end
      redis.call('XADD', KEYS[KEY_LEDGER], 'MINID', string.format('%d', now - keep), '*', unpack(fields))
    end
  end

  -- 1. Each note not appended before, kept as remember() keeps an answer (so an earlier
  -- build's single note reads it as a repeat, and this reads that build's).
  local kept = string.format('%d', now + ARGV[ARG.WRITING.retention])
  local answer = '|' .. string.format('%d', now) .. '|["ok"]'
  local appended = 0
  for i = 1, n do
    local j = ARG.APPEND_LEDGER.notes + ARG.NOTE.fields * (i - 1)
    local once = ARGV[j + ARG.NOTE.once]
    if not redis.call('HGET', KEYS[KEY_IDEMPOTENCY], once) then
      append_entry(ARGV[j + ARG.NOTE.fields])
      redis.call('HSET', KEYS[KEY_IDEMPOTENCY], once, answer)
      redis.call('ZADD', KEYS[KEY_ENDED], kept, 'i:' .. once)
      appended = appended + 1
    end
  end
  return {'ok', appended}
end)
