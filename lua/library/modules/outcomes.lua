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

-- The model an event's metadata names (canonical JSON text, or nil), nil for none: the first
-- `"model":"<name>"` whose name holds no `"` or `\`. Each place the key's text begins is found
-- by a plain search and the name read anchored there, which answers what the unanchored
-- pattern would, without trying the pattern at every byte of the text (a commit reads a
-- call's model twice, over metadata of some hundreds of bytes).
local function model_of(metadata)
  if not metadata then
    return nil
  end
  local from = 1
  while true do
    local at, past = string.find(metadata, '"model":"', from, true)
    if not at then
      return nil
    end
    local name = string.match(metadata, '^([^"\\]+)"', past + 1)
    if name then
      return name
    end
    from = at + 1
  end
end

-- The model a ledger entry's fields (field, value pairs) name in its metadata, nil for none.
local function entry_model(fields)
  for k = 1, #fields - 1, 2 do
    if fields[k] == 'metadata' then
      return model_of(fields[k + 1])
    end
  end
end

-- A model's line in a day's per-model rollup text (by_day's JSON, as cjson wrote it) with
-- `used` and `accepted` added (accepted never below 0), or nil when the text has no plain line
-- of the model (a new model, or one whose name cjson escapes): then the caller decodes it.
-- Splicing the two numbers in place costs a fraction of decoding and encoding the whole text,
-- which every commit naming a model did. The line is found whole: a name never holds `"` (see
-- model_of), so `"<model>":["` begins only that model's line.
local function spliced(text, model, used, accepted)
  local key = '"' .. model .. '":["'
  local at = string.find(text, key, 1, true)
  if not at then
    return nil
  end
  local from = at + #key
  local u, a, past = string.match(text, '^(%d+)","(%d+)()"', from)
  if not u then
    return nil
  end
  return string.sub(text, 1, from - 1) .. string.format('%d', u + used) .. '","'
    .. string.format('%d', math.max(0, a + accepted)) .. string.sub(text, past)
end

-- A day's per-model rollup text (nil for none yet) with `used` and `accepted` added to
-- `model`'s line: at most OUTCOME_WORDS models, then "other".
local function model_text(text, model, used, accepted)
  local quick = text and spliced(text, model, used, accepted)
  if quick then
    return quick
  end
  local models = text and cjson.decode(text) or {}
  local name, n = model, 0
  for _ in pairs(models) do
    n = n + 1
  end
  if not models[name] and n >= OUTCOME_WORDS then
    name = 'other'
  end
  -- (Numbers as strings, so cjson writes every digit.)
  local m = models[name] or {'0', '0'}
  models[name] = {string.format('%d', m[1] + used), string.format('%d', math.max(0, m[2] + accepted))}
  return cjson.encode(models)
end

-- Per group, its changes on the UTC day of `at`: its usage, the rollup "<day>|<group>|u"
-- (prelude.lua's rollup), and, when the event names `model`, that model's line of usage and
-- accepted outputs in "<day>|<group>|m", JSON {"<model>": ["<used milli>", "<accepted>"]}, at
-- most OUTCOME_WORDS models (then "other"), so cost per accepted output is answered per model.
-- `parts` are {group, used, accepted} changes; a part that changes nothing writes nothing, and
-- a group twice counts its changes together. All read in one HMGET and written in one HSET.
local function by_day(c, at, model, parts)
  if c.ARGV[ARG.WRITING.keep] == '' then
    return
  end
  local day = math.floor(at / 86400000)
  if day ~= c.rollup_day then
    c.rollup_day, c.rollup_prefix = day, string.format('%d|', day)
  end
  -- Per group changed, five places in one flat list (every commit runs this: a table a group,
  -- and keys added to it, cost more than the rest of the step): its name, its usage and its
  -- accepted outputs changed, and the places in `fields` of its "u" (only when its usage
  -- changes) and "m" (only for a model), false for none. Groups are few: found by a scan.
  local changed, n = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}, 0
  for i = 1, #parts do
    local p = parts[i]
    if p[2] ~= 0 or (model and p[3] ~= 0) then
      local b = nil
      for j = 1, 5 * n, 5 do
        if changed[j] == p[1] then
          b = j
          break
        end
      end
      if b then
        changed[b + 1], changed[b + 2] = changed[b + 1] + p[2], changed[b + 2] + p[3]
      else
        b, n = 5 * n + 1, n + 1
        changed[b], changed[b + 1], changed[b + 2] = p[1], p[2], p[3]
      end
    end
  end
  local fields, f = {nil, nil, nil, nil}, 0
  for b = 1, 5 * n, 5 do
    changed[b + 3], changed[b + 4] = false, false
    if changed[b + 1] ~= 0 then
      f = f + 1
      fields[f], changed[b + 3] = c.rollup_prefix .. changed[b] .. '|u', f
    end
    if model then
      f = f + 1
      fields[f], changed[b + 4] = c.rollup_prefix .. changed[b] .. '|m', f
    end
  end
  if f == 0 then
    return
  end
  local values, writes, w = redis.call('HMGET', c.KEYS[KEY_DAILY], unpack(fields)), {nil, nil, nil, nil, nil, nil, nil, nil}, 0
  for b = 1, 5 * n, 5 do
    local u, m, new = changed[b + 3], changed[b + 4], false
    if u then
      local used = values[u]
      writes[w + 1] = fields[u]
      writes[w + 2] = string.format('%d', (used and used + 0 or 0) + changed[b + 1])
      w, new = w + 2, not used
    end
    if m then
      writes[w + 1] = fields[m]
      writes[w + 2] = model_text(values[m] or nil, model, changed[b + 1], changed[b + 2])
      w, new = w + 2, new or not values[m]
    end
    if new then
      -- A new field is pruned with the day's other rollups of the group.
      note_day(c, day, changed[b])
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
    by_day(c, at, model, parts)
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
