-- alerts.lua: thresholds crossed and first denials, decided inside the script that changed the
-- counter, so each fires exactly once per user, group, period, threshold and quota in force,
-- under any concurrency. Shared by the writing scripts, after prelude.lua and overrides.lua.
--
-- KEY_OUTBOX  the alerts outbox of the user's slot   qg:{<slot tag>}:outbox (a stream)
--
-- What fired is kept beside the counter: field <group>@<periodStart>:a = "<quota>|<marks>",
-- marks being the thresholds fired and "L" for the first denial, comma-separated. Marks of
-- another quota do not count (a bumped quota can be crossed again); they go with the counter.
-- An event is an outbox entry (outbox.lua; its fields as src/store/scripts/entries.rs declares
-- them): tag (the user's hash tag), plan (the subscription's, "" on the default plan), type
-- (threshold|limit), g, k (unit code), t (percent, "" for limit), q (quota milli), n (used, or
-- held for in-flight, milli), ps, pe, v (a per-value group's value, as in its field; "" for
-- other groups). The script answers the entries' ids (its context's `fired`, append_fired),
-- and the node moves them to their project.

-- Fires each of `marks` (thresholds in percent, or "L" for the first denial) that hold h has
-- not fired yet at this quota, as events of `kind` at `level`, and keeps what fired beside the
-- counter. What fired is read here, unless the call read it with its counters (`read`, false
-- for none: reserve's, prelude.lua's read_counters).
local function fire(c, kind, h, quota, marks, level, read)
  local field, q = h.f .. ':a', string.format('%d', quota)
  local raw = read
  if raw == nil then
    raw = redis.call('HGET', c.KEYS[KEY_COUNTERS], field)
  end
  local fired = {}
  if raw then
    local at, list = string.match(raw, '^(%d+)|(.*)$')
    if at == q then
      for mark in string.gmatch(list, '[^,]+') do
        fired[mark] = true
      end
    end
  end
  local fresh = false
  for _, mark in ipairs(marks) do
    if not fired[mark] then
      fired[mark], fresh = true, true
      local tag = string.match(c.KEYS[KEY_COUNTERS], '{(.*)}')
      local plan = redis.call('HGET', c.KEYS[KEY_SUBSCRIPTION], 'plan') or ''
      outbox(c, true, 'tag', tag, 'plan', plan, 'type', kind, 'g', h.g, 'k', h.k or '', 't', kind == 'limit' and '' or mark,
        'q', q, 'n', string.format('%d', level), 'ps', h.ps, 'pe', h.pe, 'v', h.val or h.v or '')
    end
  end
  if fresh then
    local list = {}
    for mark in pairs(fired) do
      list[#list + 1] = mark
    end
    table.sort(list)
    redis.call('HSET', c.KEYS[KEY_COUNTERS], field, q .. '|' .. table.concat(list, ','))
  end
end

-- Fires every threshold of each hold that a change from before[i] to after[i] crossed upward
-- (usage for metered groups, open holds for in-flight ones), against quota_in_force[i]; only
-- of holds whose unit code is `only_unit`, when given. Reads marks only when something
-- crossed, so an ordinary call costs no Redis command.
local function alert_crossings(c, holds, quota_in_force, before, after, only_unit, counters, fired_at)
  for i = 1, #holds do
    local h = holds[i]
    local quota = quota_in_force[i]
    -- A balance group's thresholds are its low-balance amounts, judged by its wallet.
    local balance = h.b or (h.m and string.byte(h.m) == BYTE_b)
    if h.t and not balance and (not only_unit or h.k == only_unit) and quota > 0 and after[i] > before[i] then
      local crossed = {}
      for t in string.gmatch(h.t, '%d+') do
        local line = quota * tonumber(t)
        if before[i] * 100 < line and after[i] * 100 >= line then
          crossed[#crossed + 1] = t
        end
      end
      if #crossed > 0 then
        fire(c, 'threshold', h, quota, crossed, after[i], counters and counters[fired_at + i])
      end
    end
  end
end

-- The reply's tail: how many events this call fired, then their outbox ids.
local function append_fired(c, reply)
  local fired = c.fired
  if not fired then
    reply[#reply + 1] = 0
    return reply
  end
  reply[#reply + 1] = #fired
  for _, id in ipairs(fired) do
    reply[#reply + 1] = id
  end
  return reply
end

-- alerts.lua ends --
