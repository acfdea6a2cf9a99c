-- counters.lua: the counters as they stand, for the scripts that answer them (track, adjust,
-- commit, release, usage), after overrides.lua and a prelude's `read_counters`. Apart from
-- overrides.lua so reserve and check, which answer their decision instead, do not build these
-- functions on every call.

-- The quota in force per hold, with the overrides the subscription hash keeps: for holds read
-- back from a reservation record or named by a usage read, which carry none of their own. A
-- per-value group's hold (with `v`, its value as in its field) takes its value's override,
-- "ov:<group>~<value>", before its group's; their fields follow the groups', so a call without
-- such a hold builds nothing more.
local function quotas(c, sub_key, holds, at)
  local result = {nil, nil, nil, nil}
  if #holds == 0 then
    return result
  end
  local n, fields, by_value = #holds, {nil, nil, nil, nil}, nil
  for i = 1, n do
    local h = holds[i]
    fields[i] = 'ov:' .. h.g
    if h.v then
      by_value = by_value or {n = n}
      by_value.n = by_value.n + 1
      fields[by_value.n], by_value[i] = 'ov:' .. h.g .. '~' .. h.v, by_value.n
    end
  end
  local values = redis.call('HMGET', sub_key, unpack(fields))
  for i = 1, #holds do
    local override, expires
    local raw = by_value and by_value[i] and values[by_value[i]] or values[i]
    if raw then
      override, expires = string.match(raw, '^(%d+)|(%d*)$')
    end
    result[i] = in_force(holds[i].q, override, expires, at)
  end
  return result
end

-- Appends, per hold, its COUNTER as it stands: used, held and quota milli-units (`q`, the
-- quota in force per hold, as subscription or quotas answer it). `known`: the counters as the
-- call last wrote them (read_counters' shape), when nothing has moved them since; else read.
local function append_counters(c, reply, holds, q, known)
  local counters, n = known or read_counters(c, holds), #reply
  for i = 1, #holds do
    reply[n + COUNTER.used], reply[n + COUNTER.held], reply[n + COUNTER.quota] = counters[2 * i - 1], counters[2 * i], q[i]
    n = n + COUNTER_FIELDS
  end
  return reply
end

-- The head of commit's answer (COMMITTED): late 1|0, and the record as it ended.
local function commit_head(late, record_text)
  local head = {}
  head[COMMITTED.status], head[COMMITTED.late], head[COMMITTED.record] = 'ok', late, record_text
  return head
end

-- The head of release's answer (RELEASED): how it ended, and the record as it ended.
local function release_head(state, record_text)
  local head = {}
  head[RELEASED.status], head[RELEASED.state], head[RELEASED.record] = 'ok', state, record_text
  return head
end

-- counters.lua ends --
