-- prelude.lua: what every writing function of the library starts with (reserve, track,
-- commit, release, extend, ...): it answers idempotent repeats, reclaims this user's expired
-- holds and prunes what outlived the retention window, a bounded number per call, before the
-- function proper reads any counter (Redis TIME is the call's `c.now`, head.lua).
--
-- Every writing function takes the same first ten keys (KEYS[1..10], in the order
-- src/store/scripts/keys.rs declares them; read by name, KEYS[KEY_COUNTERS]) and four arguments:
-- counters        counters hash              qg:{p:u}:ctr     <group>@<periodStart>:u|:h -> milli-units
-- reservations    reservations hash          qg:{p:u}:res     <reservationId> -> JSON record
-- open            open reservations zset     qg:{p:u}:open    by expiry ms
-- ended           ended zset                 qg:{p:u}:ended   reservation ids, "i:"<idempotency field> and
--                                                             "c:"<fallback chain> (fallbacks.lua) by prune ms
-- periods         counter periods zset       qg:{p:u}:periods <group>@<periodStart> by period end ms,
--                                                             and "d|"<day>|<group> by prune ms + retention,
--                                                             a closed lease's fields (slices.lua) by
--                                                             its close + MAX_HOLD_LIFE_MS, or by its
--                                                             last statement + 2 min - retention
-- subscription    the subscription hash      qg:{p:u}:sub     (overrides are ov:<groupId> fields)
-- idempotency     idempotency hash           qg:{p:u}:idem    <route>:<key digest> -> <body digest>|<decided ms>|<first reply JSON>
-- ledger          usage ledger stream        qg:{p:u}:ledger  entries by Redis time
-- daily           daily rollups hash         qg:{p:u}:daily   <day>|<group>|<stat> -> integer
-- outbox          alerts outbox of the slot  qg:{<slot tag>}:outbox (see alerts.lua)
-- ARGV[1]  retention ms
-- ARGV[2]  idempotency field, or "" when the call has no Idempotency-Key
-- ARGV[3]  body digest (hex), or ""
-- ARGV[4]  how long the ledger and the rollups keep, ms ("" when the project keeps neither)
--
-- A rollup day is a UTC day number (Unix ms / 86400000); its stats per group are u (milli-units
-- used), a (reserves admitted), d (reserves denied), r (releases), x (expiries), and o, the
-- outcomes said of the day's usage, packed as text, and m, usage and accepted outputs per model
-- (outcomes.lua). A field may
-- name a set of groups, comma-separated (group ids have no comma): reserve counts its groups
-- once in the field of their set, and readers add such a field to each group in it.
--
-- A reservation record is JSON whose numbers are all strings, so no digit is lost to cjson:
-- {"v": RECORD_VERSION (absent in the first encoding), "s": held|committed|released, "e": event,
--  "qt": the quantity reserved in milli-units, "md": the event's metadata as canonical JSON
--  (absent when it had none; records written before these fields have neither),
--  "c": created ms (the decision instant), "cr": Redis's time of the reserve (the ledger entry
--  ending the hold tells it), "x": expires ms, "t": ended ms, "l": "1" when committed late,
--  "rx": "1" when released after it had expired, "p": the next level up when there is one, "ac",
--  "al" and "ad" when it was held among alternatives (alternatives.lua), "h": [hold, ...]} with
--  each hold as holds.lua reads it, plus "n": the committed milli-units. A held
--  record whose id has left the open set has expired. Reserve writes what the node encoded for
--  it (the node has the holds at hand) with the times in front; later scripts re-encode it.
--  docs/book/src/reference/redis-layout.md describes every field.
--
-- Cost: these scripts are Redis's CPU on every call, so the hot paths keep to what they need.
-- A numeric string known to be one is converted with arithmetic (`s + 0`), which parses it
-- once where tonumber parses it twice; numbers go to redis.call as strings formatted with %d,
-- since a Lua number argument is formatted with %.17g, which costs twice as much.
-- A table that grows one element at a time is rehashed at every power of two (Lua 5.1 has no
-- table.new), about 700 instructions each: the hot paths' tables of one entry per hold are
-- made with empty slots, `{nil, nil, nil, nil}`, which is an empty table with room for four.
-- Their length (#) and ipairs stay those of the entries set, which always run from 1 up.
-- Loops over the holds index them (`for i = 1, #holds`): `ipairs` calls its iterator, a C
-- function, at every step, 3 % of a reserve over eight loops.
-- The functions here are built once, when Redis loads the library; the constants some of them
-- declare as their own locals date from when every call built them again.

-- The counters of `holds` in one HMGET, the one function that builds that composite and says
-- where its parts are. Used and held milli-units of every hold, as numbers (0 when absent):
-- hold i's used at 2i - 1 and its held at 2i, first (pending.lua's answers the same shape).
-- The command's reply is converted in place, so a call builds no table per kind.
-- With `quick` (reserve's), the same HMGET reads more, each part's place named in what this
-- answers: "~open" (answered second, a number, nil when unknown: reserving.lua's reserve_read)
-- and the field `admits` names (the day's admits of the holds' groups, admits_field; answered
-- third, 0 when absent), then what each hold fired (hold i's at `fired_at` + i, answered fourth,
-- false for none: alerts.lua's fire; a hold on a slice, its slice's line there, at its `line`,
-- false for none: slices.lua), then the quick line and the journal of each balance that one
-- hold of the call holds on and the call has not read (wallet.lua's header), at the hold's
-- `fast` (C.weigh decides on them and makes it its decision); and last a step's (`run`, as
-- R.of made it), the fields of its run, after `run.at` (runs.lua's header; R.judge reads them).
local function read_counters(c, holds, quick, run, admits)
  local n, run_key = #holds, run and run.key
  -- (A step whose event no group matches still reads its run: it is a step of it.)
  if n == 0 and not run_key then
    return {}
  end
  local fields = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
  for i = 1, n do
    local f = holds[i].f
    fields[2 * i - 1], fields[2 * i] = f .. ':u', f .. ':h'
  end
  local fired_at
  if quick then
    fields[2 * n + 1] = '~open'
    if admits then
      fields[2 * n + 2] = admits
    end
    -- What each hold fired in its period (alerts.lua's fire); a hold on a slice fires none here
    -- (slices.lua): its slice's line is read there instead (hold i's at its `line`).
    fired_at = #fields
    local slices = holds.slices
    for i = 1, n do
      local h = holds[i]
      if slices and h.sl then
        h.line = fired_at + i
        fields[fired_at + i] = h.f
      else
        fields[fired_at + i] = h.f .. ':a'
      end
    end
  end
  if quick and holds.credits then
    for i = 1, n do
      local b = holds[i].b
      if b and not (c.wallets and c.wallets[b]) then
        local once = true
        for k = 1, n do
          once = once and (k == i or holds[k].b ~= b)
        end
        if once then
          holds[i].fast = #fields + 1
          fields[#fields + 1] = 'w|' .. b .. '|q'
          fields[#fields + 1] = 'w|' .. b .. '|j'
        end
      end
    end
  end
  -- A step's run's fields (runs.lua), last: its first, its action's attempts and the run's
  -- count of actions (the first again for no action, making no string), a child's parent's children.
  if run_key then
    local at, action = #fields, run.action
    run.at = at
    if action ~= '' then
      fields[at + 1], fields[at + 2], fields[at + 3] = run_key, run_key .. '|~' .. action, run_key .. '|#'
    else
      fields[at + 1], fields[at + 2], fields[at + 3] = run_key, run_key, run_key
    end
    if run.limits then
      fields[at + 4] = run_key .. '|^'
    end
  end
  local counters = redis.call('HMGET', c.KEYS[KEY_COUNTERS], unpack(fields))
  for i = 1, 2 * n do
    local v = counters[i]
    counters[i] = v and v + 0 or 0
  end
  if quick then
    local open = counters[2 * n + 1]
    return counters, open and open + 0, admits and (counters[2 * n + 2] or 0) + 0, fired_at, fields
  end
  -- A read-only call leaves out what expired holds no writing call has reclaimed yet hold
  -- (pending.lua's read_expired).
  local expired = c.expired
  if expired then
    for i = 1, n do
      counters[2 * i] = math.max(0, counters[2 * i] - (expired[holds[i].f] or 0))
    end
  end
  return counters
end

-- Writes counter fields in one HSET; values are integers below 2^53, formatted exactly, up to
-- `texts_from` (all when nil), and text past it.
-- `writes` alternates field and value: the values are formatted in place and the whole table
-- is the command's arguments, so a caller builds one table only.
local function write_fields(c, writes, texts_from)
  if #writes == 0 then
    return
  end
  for i = 2, texts_from or #writes, 2 do
    writes[i] = string.format('%d', writes[i])
  end
  redis.call('HSET', c.KEYS[KEY_COUNTERS], unpack(writes))
end

-- Remembers when a new counter's period ends, so its fields can be pruned after retention.
-- `counters` are as read before the write: a counter that read zero used and zero held may be
-- new, and ZADD NX leaves the period of one that is not as it was.
local function note_periods(c, holds, counters)
  local args
  for i = 1, #holds do
    local h = holds[i]
    -- (A step's hold drawn from its run held nothing here: the run's hold noted its period.)
    if h.pe ~= '' and counters[2 * i - 1] == 0 and counters[2 * i] == 0 and not h.rb then
      args = args or {}
      args[#args + 1] = prune_score(c, h.f, h.pe)
      args[#args + 1] = h.f
    end
  end
  if args then
    redis.call('ZADD', c.KEYS[KEY_PERIODS], 'NX', unpack(args))
  end
end

-- The text of the indices of a call's first holds, looked up where a record names a hold by
-- its index: formatting a number costs a Redis function about 2,000 instructions.
local INDEX_TEXT = {'1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15', '16'}

local note_day, rollup, admits_field
do
  -- (The places of the arguments they read, read from ARG once: in a call, each costs two
  -- table lookups; a reserve's every call reads `keep`.)
  local RETENTION, KEEP = ARG.WRITING.retention, ARG.WRITING.keep
  -- Schedules the rollups of `groups` (a group, or a set as a field names it) on UTC day `day`
  -- for pruning with the ledger: in the periods set, scored so that prune takes them when the
  -- day is the ledger's keep old. Its first write of a day's field does it (NX keeps the first).
  function note_day(c, day, groups)
    local prune_at = (day + 1) * 86400000 + c.ARGV[KEEP] - c.ARGV[RETENTION]
    redis.call('ZADD', c.KEYS[KEY_PERIODS], 'NX', string.format('%d', prune_at), string.format('d|%d|%s', day, groups))
  end

  -- Adds `delta` to one of the user's rollups: `stat` of `group` on the UTC day of `at` (ms);
  -- answers the field's new value (nil when the project keeps no rollups or delta is 0).
  -- A day's fields are pruned with the ledger: the first write of a field schedules it in the
  -- periods set, scored so that prune takes it when the day is `keep_ms` old.
  function rollup(c, at, group, stat, delta)
    local keep_ms, DAY_MS = c.ARGV[KEEP], 86400000
    if keep_ms == '' or delta == 0 then
      return
    end
    local day = math.floor(at / DAY_MS)
    if day ~= c.rollup_day then
      -- A call rolls up one day, or a few: its field prefix is formatted once.
      c.rollup_day, c.rollup_prefix = day, string.format('%d|', day)
    end
    local by = delta == 1 and '1' or string.format('%d', delta)
    local n = redis.call('HINCRBY', c.KEYS[KEY_DAILY], c.rollup_prefix .. group .. '|' .. stat, by)
    if n == delta then
      note_day(c, day, group)
    end
    return n
  end

  -- Reserve counts its admits in the counters hash, in the one write of its holds, rather than
  -- in the rollups hash (a command fewer on every admit): the day's "a" rollup of its set of
  -- groups is the field "a|<day>|<groups>" there, read with the counters. Readers add those
  -- fields to the rollups hash's (src/store/rollups.rs); prune takes them with the day's others.
  -- The field of `holds`, nil when the project keeps no rollups.
  function admits_field(c, holds)
    if c.ARGV[KEEP] == '' or #holds == 0 then
      return nil
    end
    local set = holds[1].g
    for i = 2, #holds do
      set = set .. ',' .. holds[i].g
    end
    return string.format('a|%d|', math.floor(c.now / 86400000)) .. set
  end
end

-- Schedules a new admits field's pruning with its day's rollups (as rollup does for theirs).
local function note_admits(c, field)
  local day, set = string.match(field, '^a|(%d+)|(.*)$')
  note_day(c, day + 0, set)
end

-- A ledger entry's `fields` with the alternatives its reservation was held among, when it was
-- (alternatives.lua): every one asked ("al", as the node encoded them), the held one's index
-- ("ac") and the denials of those weighed before it ("ad"). Answers `fields`.
local function with_alternatives(fields, record)
  if record.al then
    fields[#fields + 1], fields[#fields + 2] = 'alternatives', record.al
    fields[#fields + 1], fields[#fields + 2] = 'chosen', record.ac
    if record.ad then
      fields[#fields + 1], fields[#fields + 2] = 'denials', cjson.encode(record.ad)
    end
  end
  return fields
end

-- Returns expired holds to their counters (at most RECLAIM_HOLDS of them). Returns true when
-- expired holds remain, and whether this call returned any.
-- A reclaimed record keeps state "held"; leaving the open set is what makes it expired.
local reclaim
do
  local DAY_MS = 86400000

  -- A lease no statement ended by its backstop (take_slice.lua): what it still leases is
  -- counted as used, which can never pass the quota, and it ends committed. Its member's slot
  -- lost the slice, or no node could settle it for a day. `move` adds to a counter field.
  local function lapse(c, id, record, move, now)
    local h, still = record.h[1], record.sk + 0
    move(h.f .. ':u', still)
    move(h.f .. ':h', -still)
    move(h.f .. ':l', -still)
    record.su, record.sk, record.lp = string.format('%d', record.su + still), '0', '1'
    record.s, record.t = 'committed', string.format('%d', now)
    redis.call('HSET', c.KEYS[KEY_RESERVATIONS], id, cjson.encode(record))
  end

  -- A held reservation `id` that expired at `until_ms`: its holds go back (`move` adds to a
  -- counter field), its expiries are counted per day and group (`expired`: [day][group] ->
  -- holds), the holds of closed leases it had on slices join `closed` (their ancestors are
  -- told, S.stated), and its end goes in the ledger. Answers `closed` and whether it gave
  -- credits back or burned them.
  local function expire(c, id, record, until_ms, move, expired, closed, now)
    local credited = false
    -- Holds on slices go back to the lease they were placed on (slices.lua).
    if record.sl then
      for _, l in ipairs(S.fields(c, record) or {}) do
        closed = closed or {}
        closed[#closed + 1] = l
      end
    end
    local day = math.floor(record.x / DAY_MS)
    expired[day] = expired[day] or {}
    -- A step's draws go back to its run, and a run commits what its steps used (runs.lua):
    -- per hold, what is the user's.
    local per = (record.ru or record.run) and R.expire(c, id, record, now)
    -- Credits it held go back to their grants (or expire with them); a run's burn what its
    -- steps used, which its ledger entry tells (as a close's does).
    local burned
    if record.w then
      for g, part in pairs(record.w) do
        if record.run then
          local used = 0
          for i, h in ipairs(record.h) do
            if h.g == g and per[i] then
              used = per[i].used
            end
          end
          local grants, debt = C.settle(c, part, used, now)
          burned = burned or {}
          burned[g] = {b = part.b, g = grants, d = string.format('%d', debt)}
        else
          C.give_back(c, part, now)
        end
      end
      credited = true
    end
    for i, h in ipairs(record.h) do
      expired[day][h.g] = (expired[day][h.g] or 0) + 1
      if record.sl and record.sl[INDEX_TEXT[i] or tostring(i)] then
        -- A hold that expired on a slice may still be committed late: its slice keeps its
        -- lease's fields when it closes, and a closed lease keeps them when it holds nothing
        -- more, where that commit counts (slices.lua). (S.fields pointed h.f at the lease's.)
        move(h.f .. ':e', 1)
      end
      local p = per and per[i]
      if not per or (p and p.held) then
        move(h.f .. ':h', -h.a)
      end
      if p and p.used > 0 then
        move(h.f .. ':u', p.used)
        if not p.held and h.m and string.byte(h.m) == BYTE_b then
          -- A late child's balance hold: burned in burn order, as a late commit's.
          C.burn(c, string.match(h.m, '^b/([^/]*)'), p.used, now)
          credited = true
        end
      end
    end
    if record.run then
      R.expired(c, id, record, burned, now)
    elseif c.ARGV[ARG.WRITING.keep] ~= '' then
      -- The hold's end in the ledger (no usage of its own), as a release's (release.lua):
      -- a replay of the ledger sees what the reservation held from when until when.
      redis.call('XADD', c.KEYS[KEY_LEDGER], 'MINID', string.format('%d', now - c.ARGV[ARG.WRITING.keep]), '*', unpack(with_alternatives({
        'kind', 'expiry', 'ref', id, 'event', record.e, 'metadata', record.md or '', 'quantity', record.qt or '',
        'since', record.cr or record.c, 'at', record.c, 'until', until_ms}, record)))
    end
    return closed, credited
  end

  -- What the reservations `done` gave back, written: each counter field's change (`order`,
  -- `delta`: never below zero), the closed leases' statements, the wallets, the day's
  -- expiries in the rollups, and the records moved from the open set to the ended one.
  local function write_back(c, done, order, delta, closed, credited, expired, now)
    local values, writes = #order > 0 and redis.call('HMGET', c.KEYS[KEY_COUNTERS], unpack(order)) or {}, {}
    for i, field in ipairs(order) do
      local value = values[i]
      writes[2 * i - 1], writes[2 * i] = field, math.max(0, (value and value + 0 or 0) + delta[field])
    end
    write_fields(c, writes)
    S.stated(c, closed)
    if credited then
      C.save(c, now)
    end
    for day, groups in pairs(expired) do
      for group, n in pairs(groups) do
        rollup(c, day * DAY_MS, group, 'x', n)
      end
    end
    local ended, score = {}, string.format('%d', now + c.ARGV[ARG.WRITING.retention])
    for _, id in ipairs(done) do
      ended[#ended + 1] = score
      ended[#ended + 1] = id
    end
    redis.call('ZREM', c.KEYS[KEY_OPEN], unpack(done))
    redis.call('ZADD', c.KEYS[KEY_ENDED], unpack(ended))
  end

  function reclaim(c, now)
    -- A call returns at most RECLAIM_BATCH expired reservations and RECLAIM_HOLDS holds (a
    -- reservation in 32 groups holds 32), so one call stays well under a millisecond; more
    -- answers "more". The ZRANGEBYSCORE limit is RECLAIM_BATCH + 1 (one more tells whether
    -- more remain), written out as the command takes it, since formatting it would cost every
    -- call.
    local RECLAIM_BATCH, RECLAIM_HOLDS, RECLAIM_LIMIT = 64, 96, '65'
    -- Nearly always nothing is due: a count answers that for less than an empty range does.
    local until_now = string.format('%d', now)
    if redis.call('ZCOUNT', c.KEYS[KEY_OPEN], '-inf', until_now) == 0 then
      return false, false
    end
    -- With their scores: an expiry's ledger entry says when the hold ended.
    local due = redis.call('ZRANGEBYSCORE', c.KEYS[KEY_OPEN], '-inf', until_now, 'WITHSCORES', 'LIMIT', '0', RECLAIM_LIMIT)
    -- Per counter field, what goes back (held, negative) or is counted (a run's used).
    local done, delta, order, taken, credited = {}, {}, {}, 0, false
    local function move(field, d)
      if not delta[field] then
        delta[field] = 0
        order[#order + 1] = field
      end
      delta[field] = delta[field] + d
    end
    local expired, closed = {}, nil
    for k = 1, #due, 2 do
      local id = due[k]
      if #done == RECLAIM_BATCH then
        break
      end
      -- One record at a time: only the records this call returns are read.
      local raw = redis.call('HGET', c.KEYS[KEY_RESERVATIONS], id)
      local record = raw and cjson.decode(raw)
      if record and record.v and record.v ~= RECORD_VERSION then
        error({err = 'ERR qg contract: a reservation record of another encoding than ' .. RECORD_VERSION})
      end
      if record and record.s == 'held' and record.ls then
        lapse(c, id, record, move, now)
        taken = taken + 1
      elseif record and record.s == 'held' then
        if taken > 0 and taken + #record.h > RECLAIM_HOLDS then
          break
        end
        local gave
        closed, gave = expire(c, id, record, due[k + 1], move, expired, closed, now)
        credited = credited or gave
        taken = taken + #record.h
      end
      done[#done + 1] = id
    end
    if #done == 0 then
      -- (Only a run was due, left to the reclaim script.)
      return true, false
    end
    write_back(c, done, order, delta, closed, credited, expired, now)
    return #done < #due / 2, #done > 0
  end
end

-- Drops ended records, idempotency entries and counter fields past retention, a bounded
-- number per call. Only calls that write anyway prune, so a denial stays cheap.
local function prune(c, now)
  -- How many ended entries and old periods a call takes, as the command takes it.
  local PRUNE_LIMIT, retention_ms = '16', c.ARGV[ARG.WRITING.retention] + 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', c.KEYS[KEY_ENDED], '-inf', string.format('%d', now), 'LIMIT', '0', PRUNE_LIMIT)) do
    if string.sub(id, 1, 2) == 'i:' then
      redis.call('HDEL', c.KEYS[KEY_IDEMPOTENCY], string.sub(id, 3))
    elseif string.sub(id, 1, 2) == 'c:' then
      -- A chain of fallback attempts' list (fallbacks.lua).
      redis.call('HDEL', c.KEYS[KEY_COUNTERS], 'fb|' .. string.sub(id, 3))
    else
      redis.call('HDEL', c.KEYS[KEY_RESERVATIONS], id)
    end
    redis.call('ZREM', c.KEYS[KEY_ENDED], id)
  end
  local old = string.format('%d', now - retention_ms)
  for _, f in ipairs(redis.call('ZRANGEBYSCORE', c.KEYS[KEY_PERIODS], '-inf', old, 'LIMIT', '0', PRUNE_LIMIT)) do
    if string.sub(f, 1, 2) == 'd|' then
      local fields = {}
      for i, stat in ipairs({'u', 'a', 'd', 'r', 'x', 'o', 'm'}) do
        fields[i] = string.sub(f, 3) .. '|' .. stat
      end
      redis.call('HDEL', c.KEYS[KEY_DAILY], unpack(fields))
      redis.call('HDEL', c.KEYS[KEY_COUNTERS], 'a|' .. string.sub(f, 3))
      redis.call('ZREM', c.KEYS[KEY_PERIODS], f)
    elseif rolls_out(f) and (redis.call('HGET', c.KEYS[KEY_COUNTERS], f .. ':h') or '0') ~= '0' then
      -- A rolled-out sub-window that still holds open reservations: their end settles here,
      -- so it stays until they have ended, looked at again a window later (5 s at least, so
      -- many long holds on a short window never take every call's prune).
      local _, _, g, n = rolling_of(f)
      redis.call('ZADD', c.KEYS[KEY_PERIODS], string.format('%d', now - retention_ms + math.max(5000, g * (n + 1))), f)
    else
      -- (A slice's line is the field itself, its mark's id ":m", and a closed lease's count of
      -- statements ":n".)
      redis.call('HDEL', c.KEYS[KEY_COUNTERS], f .. ':u', f .. ':h', f .. ':a', f .. ':ap', f .. ':v', f .. ':pc', f .. ':n', f .. ':e', f .. ':d', f .. ':o',
        f .. ':m', f .. ':fb', f)
      redis.call('ZREM', c.KEYS[KEY_PERIODS], f)
    end
  end
end

-- Returns expired holds (and lapsed leases) before a call that must not count them, and prunes
-- when it returned some, as every call that returns holds does; true when more remain (the
-- call then answers "more").
local function reclaim_first(c, now)
  local more, reclaimed = reclaim(c, now)
  if reclaimed then
    prune(c, now)
  end
  return more
end

local repeated, remember
do
  -- (The places of the arguments they read, read from ARG once, as rollup's are.)
  local RETENTION, IDEMPOTENCY, DIGEST = ARG.WRITING.retention, ARG.WRITING.idempotency, ARG.WRITING.digest
  -- The first answer to this Idempotency-Key, or nil when there is none: {"repeat", reply JSON},
  -- or {"reused"} when the key came with another body.
  function repeated(c)
    if c.ARGV[IDEMPOTENCY] == '' then
      return nil
    end
    local stored = redis.call('HGET', c.KEYS[KEY_IDEMPOTENCY], c.ARGV[IDEMPOTENCY])
    if not stored then
      return nil
    end
    -- "<body digest>|<decision instant>|<reply>", or "<body digest>|<reply>" as kept before the
    -- instant was.
    local digest, at, reply = string.match(stored, '^(%x*)|(%d+)|(.*)$')
    if not digest then
      digest, reply = string.match(stored, '^(%x*)|(.*)$')
    end
    if digest ~= c.ARGV[DIGEST] then
      return {'reused'}
    end
    return {'repeat', reply, at or ''}
  end

  -- Keeps the answer for repeats of this Idempotency-Key until the retention window ends, with
  -- the instant the call decided at (`at`, reserve's and track's; else `now`), so a repeat is
  -- answered in the windows of the first call. Numbers are stored as integer strings, so cjson
  -- never formats one.
  function remember(c, reply, now, at)
    if c.ARGV[IDEMPOTENCY] ~= '' then
      local copy = {}
      for i, v in ipairs(reply) do
        copy[i] = type(v) == 'number' and string.format('%d', v) or v
      end
      local decided = string.format('%d', at or now)
      redis.call('HSET', c.KEYS[KEY_IDEMPOTENCY], c.ARGV[IDEMPOTENCY], c.ARGV[DIGEST] .. '|' .. decided .. '|' .. cjson.encode(copy))
      redis.call('ZADD', c.KEYS[KEY_ENDED], string.format('%d', now + c.ARGV[RETENTION]), 'i:' .. c.ARGV[IDEMPOTENCY])
    end
    return reply
  end
end

-- prelude.lua ends --
