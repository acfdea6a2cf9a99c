-- holds.lua: shared by reserve, check and track: reads the holds a node computed and checks
-- them against Redis, after a prelude has defined `read_counters` and overrides.lua `quotas`.
--
-- Per hold, 10 values from ARGV: group id, counter field, period start ms, period end ms
-- ("" for lifetime), amount milli, plan quota milli, mode (hard|soft), unit ("c" for in-flight
-- limits, "" for count, else the unit's name), measure (opaque to Lua, recorded for commits; ""
-- for the quantity), alert thresholds in percent ("50,80,100"; "" for none).

-- Reads `n` holds from ARGV starting at `first`; nil when a node's clock handed a period
-- that does not contain `at`, so two nodes with skewed clocks never count one period twice.
local function read_holds(first, n, at)
  local holds = {nil, nil, nil, nil}
  for i = 0, n - 1 do
    local j = first + i * 10
    -- Defaults (hard mode, unit count, counting the quantity) are left out of the record.
    local h = {g = ARGV[j], f = ARGV[j + 1], ps = ARGV[j + 2], pe = ARGV[j + 3], a = ARGV[j + 4], q = ARGV[j + 5]}
    if ARGV[j + 6] ~= 'hard' then h.m = ARGV[j + 6] end
    if ARGV[j + 7] ~= '' then h.k = ARGV[j + 7] end
    if ARGV[j + 8] ~= '' then h.me = ARGV[j + 8] end
    if ARGV[j + 9] ~= '' then h.t = ARGV[j + 9] end
    if h.ps + 0 > at or (h.pe ~= '' and h.pe + 0 <= at) then
      return nil
    end
    holds[#holds + 1] = h
  end
  return holds
end

-- Whether every hard group has room under the quota in force; denied[i] is 1 for each group
-- that would pass it.
local function decide(holds, quota_in_force, used, held)
  local allowed, denied = 1, {nil, nil, nil, nil}
  for i = 1, #holds do
    local h = holds[i]
    local quota = quota_in_force[i]
    denied[i] = 0
    if h.m ~= 'soft' and (quota == 0 or used[i] + held[i] + h.a > quota) then
      denied[i] = 1
      allowed = 0
    end
  end
  return allowed, denied
end

-- Appends, per hold, used, held, quota in force and denied.
local function append_decision(reply, holds, quota_in_force, used, held, denied)
  for i = 1, #holds do
    reply[#reply + 1] = used[i]
    reply[#reply + 1] = held[i]
    reply[#reply + 1] = quota_in_force[i]
    reply[#reply + 1] = denied[i]
  end
  return reply
end

-- holds.lua ends --
