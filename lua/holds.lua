-- holds.lua: shared by reserve, check and track: reads the holds a node computed and checks
-- them against Redis, after prelude.lua or pending.lua and overrides.lua.
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

-- Weighs every hold against its counter (`counters` as read_counters answers them) and the
-- quota in force, appending per hold used, held, quota in force and denied (0|1) to `reply`:
-- the decision reserve and check answer, kept nowhere else. Answers 1 when every group has
-- room, else 0; a hard group denies when its quota is 0 or used + held + the amount passes it.
local function weigh(holds, quota_in_force, counters, reply)
  local allowed, r = 1, #reply
  for i = 1, #holds do
    local h = holds[i]
    local used, held, quota = counters[2 * i - 1], counters[2 * i], quota_in_force[i]
    local denied = 0
    if h.m ~= 'soft' and (quota == 0 or used + held + h.a > quota) then
      denied, allowed = 1, 0
    end
    reply[r + 1], reply[r + 2], reply[r + 3], reply[r + 4] = used, held, quota, denied
    r = r + 4
  end
  return allowed
end

-- holds.lua ends --
