-- rolling.lua: rolling windows ("period": {"type": "rolling", "seconds": N}): at most the quota
-- in any span of N seconds ending now, decided in the same script as every other group. A
-- rolling group counts in sub-windows of a twentieth of the window (src/quota/period.rs): a
-- hold's counter field is its sub-window's, "<group>@r<start>/<length ms>/<buckets>", and the
-- window is that sub-window and the <buckets> before it, whose fields this file names from the
-- hold's own. What a sub-window counted rolls out <buckets> + 1 sub-windows after its start:
-- never sooner than N seconds after any admission in it, so no span of N seconds ever holds
-- more than the quota. Commit, release and expiry settle on the hold's own field like any
-- other counter's; prune (prelude.lua) drops a sub-window's fields once it has rolled out and
-- holds nothing, so a user's group keeps at most <buckets> + 1 sub-windows and those holding.

-- A rolling sub-window's field as parts: the field before its start, its start, length and
-- buckets; nil for any other field.
local function rolling_of(f)
  local prefix, start, g, n = string.match(f, '^(.*@r)(%d+)/(%d+)/(%d+)$')
  if prefix then
    return prefix, start + 0, g + 0, n + 0
  end
end

-- The used and held milli-units of the other sub-windows hold h's window counts, in one
-- HMGET: the <buckets> before its own, and those after it up to the one of Redis's time plus
-- the skew a node's instant may have (at most <buckets>). A call decided at an instant behind
-- another node's reaches Redis after admissions in later sub-windows: it counts them too, so
-- the call decided last in any span of the window always counted every other admission in it.
local function rolled_around(c, h)
  local prefix, start, g, n = rolling_of(h.f)
  local after = math.max(0, math.min(n, math.floor((c.now + DECISION_SKEW_MS - start) / g)))
  local fields, tail = {}, string.format('/%d/%d', g, n)
  for i = -after, n do
    if i ~= 0 then
      local f = prefix .. string.format('%d', start - i * g) .. tail
      fields[#fields + 1], fields[#fields + 2] = f .. ':u', f .. ':h'
    end
  end
  local values = redis.call('HMGET', c.KEYS[KEY_COUNTERS], unpack(fields))
  local used, held = 0, 0
  for i = 1, #fields, 2 do
    used, held = used + (values[i] or 0), held + (values[i + 1] or 0)
  end
  return used, held
end

-- When what a rolling sub-window's field counts has rolled out, ms; nil for any other field.
local function rolls_out(f)
  local prefix, start, g, n = rolling_of(f)
  return prefix and start + (n + 1) * g
end

-- The score that schedules counter field `f`'s pruning in the periods set, its period ending at
-- `pe`: a retention after that end, but a rolling sub-window's once it has rolled out for a
-- call decided at an instant behind Redis's by the skew a node's may have.
local function prune_score(c, f, pe)
  local out = rolls_out(f)
  return out and string.format('%d', out + DECISION_SKEW_MS - c.ARGV[ARG.WRITING.retention]) or pe
end

-- rolling.lua ends --
