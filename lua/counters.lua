-- counters.lua: the counters as they stand, for the scripts that answer them (track, adjust,
-- commit, release, usage), after overrides.lua and a prelude's `read_counters`. Apart from
-- overrides.lua so reserve and check, which answer their decision instead, do not build these
-- functions on every call.

-- The quota in force per hold.
local function quotas(sub_key, holds, at)
  local _, result = subscription(sub_key, holds, at)
  return result
end

-- Appends, per hold, the counter as it stands: used, held and quota milli-units.
local function append_counters(reply, holds, sub_key, at)
  local q = quotas(sub_key, holds, at)
  local counters = read_counters(holds)
  for i = 1, #holds do
    reply[#reply + 1] = counters[2 * i - 1]
    reply[#reply + 1] = counters[2 * i]
    reply[#reply + 1] = q[i]
  end
  return reply
end

-- counters.lua ends --
