-- outcomes.lua: what a call's output came to, said by its commit, its track, its run's close or
-- later (set_outcome.lua): "accepted", "rejected", "failed" or a word of the app's. Each counter
-- a call counted in keeps its outcomes in one field, "<counter>:o", and each day's rollups per
-- group in "<day>|<group>|o" (prelude.lua), both packed as "accepted=3,rejected=1": a usage
-- read gets every outcome of a counter in the HMGET it makes anyway, and a word never adds a
-- field. Usage divided by accepted outcomes is the cost per accepted output.
--
-- Memory is bounded whatever the app sends: a counter or a day's group keeps at most
-- OUTCOME_WORDS distinct words of the app's; a word past them counts as "other" (its ledger
-- entry keeps the word itself). The three words every app says are always counted by name, so
-- words of the app's never push "accepted" into "other" (cost per accepted output then
-- vanished after 16 words).

local OUTCOME_WORDS = 16
local NAMED_OUTCOMES = {accepted = true, rejected = true, failed = true}

-- `text` ("word=n,...", or nil/"" for none) with `delta` added to `word`'s count (never below
-- 0).
local function add_outcome(text, word, delta)
  local counts, order = {}, {}
  -- (A word whose count came back to 0 keeps its place: taken back later, a word that once
  -- counted as "other" must find "other", not a free place.)
  local apps = 0
  for w, n in string.gmatch(text or '', '([^,=]+)=(%d+)') do
    counts[w], order[#order + 1] = n + 0, w
    if not NAMED_OUTCOMES[w] then
      apps = apps + 1
    end
  end
  if not counts[word] then
    if apps >= OUTCOME_WORDS and not NAMED_OUTCOMES[word] then
      word = 'other'
    end
    if not counts[word] then
      counts[word], order[#order + 1] = 0, word
    end
  end
  counts[word] = math.max(0, counts[word] + delta)
  local parts = {}
  for _, w in ipairs(order) do
    parts[#parts + 1] = string.format('%s=%d', w, counts[w])
  end
  return table.concat(parts, ',')
end

-- `text` with `previous` taken back (when said before) and `word` counted (when given).
local function judged(text, word, previous)
  if previous then
    text = add_outcome(text, previous, -1)
  end
  if word then
    text = add_outcome(text, word, 1)
  end
  return text
end

-- The model an event's metadata names (canonical JSON text, or nil), nil for none.
local function model_of(metadata)
  return metadata and string.match(metadata, '"model":"([^"\\]+)"')
end

-- The model a ledger entry's fields (field, value pairs) name in its metadata, nil for none.
local function entry_model(fields)
  for k = 1, #fields - 1, 2 do
    if fields[k] == 'metadata' then
      return model_of(fields[k + 1])
    end
  end
end

-- Per model, each group's usage and accepted outputs of the UTC day of `at`: the rollup
-- "<day>|<group>|m", JSON {"<model>": ["<used milli>", "<accepted>"]}, at most OUTCOME_WORDS models
-- (then "other"), so cost per accepted output is answered per model. `parts` are
-- {group, used, accepted} changes; a part that changes nothing writes nothing.
local function by_model(c, at, model, parts)
  if c.ARGV[ARG.WRITING.keep] == '' or not model then
    return
  end
  local DAY_MS = 86400000
  local day, keys, changes = math.floor(at / DAY_MS), {}, {}
  for _, p in ipairs(parts) do
    if p[2] ~= 0 or p[3] ~= 0 then
      keys[#keys + 1], changes[#changes + 1] = string.format('%d|%s|m', day, p[1]), p
    end
  end
  if #keys == 0 then
    return
  end
  local texts, writes = redis.call('HMGET', c.KEYS[KEY_DAILY], unpack(keys)), {}
  for i, p in ipairs(changes) do
    local models = texts[i] and cjson.decode(texts[i]) or {}
    local name, n = model, 0
    for _ in pairs(models) do
      n = n + 1
    end
    if not models[name] and n >= OUTCOME_WORDS then
      name = 'other'
    end
    -- (Numbers as strings, so cjson writes every digit.)
    local m = models[name] or {'0', '0'}
    models[name] = {string.format('%d', m[1] + p[2]), string.format('%d', math.max(0, m[2] + p[3]))}
    writes[#writes + 1], writes[#writes + 2] = keys[i], cjson.encode(models)
    if not texts[i] then
      -- A new field is pruned with the day's other rollups of the group.
      note_day(c, day, p[1])
    end
  end
  redis.call('HSET', c.KEYS[KEY_DAILY], unpack(writes))
end

-- Counts `word` once in each counter of `fields` (counter fields, without a suffix) and in the
-- rollups of `groups` on the UTC day of `at` (ms); `previous`, the outcome said before, is
-- taken back from each (a changed judgement moves, it never counts twice). Either may be nil.
-- `ends` pairs each field with its period's end ("" for none), scheduled for pruning as
-- note_periods does, so a field written after its counter was pruned is pruned again.
local function count_outcome(c, fields, ends, groups, at, word, previous, model)
  if #fields > 0 then
    local keys = {}
    for i = 1, #fields do
      keys[i] = fields[i] .. ':o'
    end
    local texts, writes, noted = redis.call('HMGET', c.KEYS[KEY_COUNTERS], unpack(keys)), {}, {}
    for i = 1, #fields do
      writes[#writes + 1], writes[#writes + 2] = keys[i], judged(texts[i], word, previous)
      if ends[i] ~= '' then
        noted[#noted + 1], noted[#noted + 2] = prune_score(c, fields[i], ends[i]), fields[i]
      end
    end
    redis.call('HSET', c.KEYS[KEY_COUNTERS], unpack(writes))
    if #noted > 0 then
      redis.call('ZADD', c.KEYS[KEY_PERIODS], 'NX', unpack(noted))
    end
  end
  if c.ARGV[ARG.WRITING.keep] == '' or #groups == 0 then
    return
  end
  local DAY_MS = 86400000
  local day = math.floor(at / DAY_MS)
  local keys = {}
  for i = 1, #groups do
    keys[i] = string.format('%d|%s|o', day, groups[i])
  end
  local texts, writes = redis.call('HMGET', c.KEYS[KEY_DAILY], unpack(keys)), {}
  for i = 1, #groups do
    writes[#writes + 1], writes[#writes + 2] = keys[i], judged(texts[i], word, previous)
    if not texts[i] then
      -- A new field is pruned with the day's other rollups of the group.
      note_day(c, day, groups[i])
    end
  end
  redis.call('HSET', c.KEYS[KEY_DAILY], unpack(writes))
  -- An accepted output of a model counts for it too (it was said, or taken back).
  local accepted = (word == 'accepted' and 1 or 0) - (previous == 'accepted' and 1 or 0)
  if accepted ~= 0 then
    local parts = {}
    for i = 1, #groups do
      parts[i] = {groups[i], 0, accepted}
    end
    by_model(c, at, model, parts)
  end
end

-- The counters and groups an outcome of a call with `holds` counts in: its holds but in-flight
-- ones (they count no output) and those on slices (`sl`, a record's: their counters are an
-- ancestor's, where the ancestor's ledger note carries the outcome, append_ledger.lua).
local function outcome_holds(holds, sl)
  local fields, ends, groups, seen = {}, {}, {}, {}
  for i, h in ipairs(holds) do
    if h.k ~= 'c' and not (sl and sl[tostring(i)]) then
      fields[#fields + 1], ends[#ends + 1] = h.f, h.pe or ''
      if not seen[h.g] then
        seen[h.g], groups[#groups + 1] = true, h.g
      end
    end
  end
  return fields, ends, groups
end

-- outcomes.lua ends --
