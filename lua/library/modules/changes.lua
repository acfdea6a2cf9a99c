-- changes.lua: shared by the functions that change usage or end a reservation (track, adjust,
-- commit, release, extend), after prelude.lua: counters moved by a delta, a reservation found
-- and finished, the ledger.

-- Adds delta(i, hold) to each hold's counter (suffix ":u" used or ":h" held), never below
-- zero. Answers the id of a group the change would take past MAX_EXACT, in which case nothing
-- was written; else nil and each counter before and after the change.
local function move_counters(c, holds, suffix, delta)
  local counters = read_counters(c, holds)
  -- Hold i's used is counters[2i - 1], its held counters[2i].
  local back = suffix == ':u' and 1 or 0
  local before, after, writes = {}, {}, {}
  for i = 1, #holds do
    local h = holds[i]
    local d = delta(i, h)
    before[i] = counters[2 * i - back]
    after[i] = before[i]
    if d ~= 0 then
      local value = math.max(0, before[i] + d)
      if value > MAX_EXACT then
        -- Past what a double counts exactly: nothing is written, the caller refuses.
        return h.g
      end
      after[i] = value
      writes[#writes + 1] = h.f .. suffix
      writes[#writes + 1] = value
    end
  end
  write_fields(c, writes)
  note_periods(c, holds, counters)
  return nil, before, after
end

-- A reservation's state: a held one that is no longer open has expired (reclaim took it).
local function state_of(c, id, record)
  if record.s == 'held' and not redis.call('ZSCORE', c.KEYS[KEY_OPEN], id) then
    return 'expired'
  end
  return record.s
end

-- Marks a reservation ended and schedules its record's removal after the retention window.
-- Answers the record's text as written, which a commit's or release's answer carries: encoding
-- the record again would cost as much as this (a priced hold's measure is escaped JSON).
local function finish(c, id, record, state, now)
  record.s = state
  record.t = string.format('%d', now)
  local text = cjson.encode(record)
  redis.call('HSET', c.KEYS[KEY_RESERVATIONS], id, text)
  redis.call('ZREM', c.KEYS[KEY_OPEN], id)
  redis.call('ZADD', c.KEYS[KEY_ENDED], string.format('%d', now + c.ARGV[ARG.WRITING.retention]), id)
  return text
end

-- Commit, release and extend start alike: expired holds go back first (which also makes this
-- reservation expired if its time is up), old state is pruned, then the reservation is read.
-- Answers the record, its state and its JSON, or a reply to return at once.
local function find_reservation(c, id, now)
  if reclaim(c, now) then
    return nil, nil, {'more'}
  end
  prune(c, now)
  local raw = redis.call('HGET', c.KEYS[KEY_RESERVATIONS], id)
  if not raw then
    return nil, nil, {'not_found'}
  end
  local record = cjson.decode(raw)
  if record.v and record.v ~= RECORD_VERSION then
    error({err = 'ERR qg contract: a reservation record of another encoding than ' .. RECORD_VERSION})
  end
  return record, state_of(c, id, record), raw
end

-- Records a usage change in the user's ledger (KEY_LEDGER, a stream: entry ids are Redis times)
-- and in today's "used" rollups, unless the project keeps neither (`keep_ms` ""). Trims
-- ledger entries older than `keep_ms` on the way. `fields` are the entry's field, value pairs
-- (every number a string) but its groups, which are the holds for which `amount_of(i, hold)`
-- gives milli-units (as a string; nil leaves the hold out). `model` is the model the entry's
-- metadata names when the caller read it already (false for none), else nil: read here.
-- One hold's part of a ledger entry's groups: `amount` milli-units of its group.
local function ledger_group(h, amount)
  -- (A per-value hold's value: a track's read from its field, a record's as it keeps it.)
  -- A priced hold's measure ('{"priced":...', its price and where it came from) goes with
  -- its group: the entry's provenance.
  local priced = h.me and string.byte(h.me, 4) == BYTE_r and string.sub(h.me, 1, 10) == '{"priced":' and h.me or nil
  return {g = h.g, v = h.val or h.v, u = h.k, ps = h.ps, pe = h.pe, a = amount, pr = priced}
end

local function ledger(c, now, holds, amount_of, fields, model)
  local keep_ms = c.ARGV[ARG.WRITING.keep]
  if keep_ms == '' then
    return
  end
  local groups, parts = {}, {}
  for i = 1, #holds do
    local h = holds[i]
    local amount = amount_of(i, h)
    if amount then
      groups[#groups + 1], parts[#parts + 1] = ledger_group(h, amount), {h.g, amount + 0, 0}
    end
  end
  -- The day's usage, and the same per model when the event names one (outcomes.lua).
  if model == nil then
    model = entry_model(fields)
  end
  by_day(c, now, model, parts)
  fields[#fields + 1] = 'groups'
  fields[#fields + 1] = cjson.encode(groups)
  -- Exact trimming: usually nothing or one entry goes per append, so it costs little.
  local oldest = string.format('%d', now - tonumber(keep_ms))
  redis.call('XADD', c.KEYS[KEY_LEDGER], 'MINID', oldest, '*', unpack(fields))
end

-- The entries of a record's holds on slices (slices.lua) for their ancestors' ledgers: the
-- ledger stays per level, as the walk's commit at each level would have written it. Each
-- ancestor's entry, `fields` with the groups `amount_of` gives, goes to this slot's outbox
-- (a "ledger" note: the ancestor, the entry's fields as JSON), which the node moves to the
-- ancestor's ledger, naming the member, once (append_ledger.lua).
local function ancestor_ledgers(c, record, amount_of, fields)
  if c.ARGV[ARG.WRITING.keep] == '' or not record.sl then
    return
  end
  local by, order = {}, {}
  for i, h in ipairs(record.h) do
    local amount = record.sl[tostring(i)] and amount_of(i, h)
    if amount then
      local a = S.ancestor(h.f)
      if not by[a] then
        by[a], order[#order + 1] = {}, a
      end
      -- With the ancestor's counter, where an outcome the entry carries counts.
      local group = ledger_group(h, amount)
      -- (A closed lease's field is the slice's with "^<lease>" after it.)
      group.f = string.match(h.f, '^%^[^%^]*%^([^%^]*)')
      by[a][#by[a] + 1] = group
    end
  end
  local tag = string.match(c.KEYS[KEY_COUNTERS], '{(.*)}')
  for _, a in ipairs(order) do
    local entry = {unpack(fields)}
    entry[#entry + 1], entry[#entry + 2] = 'groups', cjson.encode(by[a])
    outbox(c, true, 'type', 'ledger', 'tag', tag, 'p', a, 'entry', cjson.encode(entry))
  end
end

-- An entry's fields with who made it: the key that made the call and, at a parent's level,
-- the member whose event it was; each left out when "".
local function attributed(fields, key, member)
  if key ~= '' then
    fields[#fields + 1] = 'key'
    fields[#fields + 1] = key
  end
  if member ~= '' then
    fields[#fields + 1] = 'member'
    fields[#fields + 1] = member
  end
  return fields
end

-- An entry's fields with the credits it burned, per balance group, when it burned any:
-- {"<group>": {"b": balance, "g": [[grant id, milli], ...], "d": debt added milli}}.
local function credited(fields, burned)
  if burned then
    fields[#fields + 1] = 'credits'
    fields[#fields + 1] = cjson.encode(burned)
  end
  return fields
end

-- changes.lua ends --
