-- holds.lua: shared by reserve, check and track: reads the holds a node computed and checks
-- them against Redis, after prelude.lua or pending.lua has defined `now` (or `now_ms`) and `counter`.
--
-- Per hold, 9 values from ARGV: group id, counter field, period start ms, period end ms
-- ("" for lifetime), amount milli, quota milli, mode (hard|soft), kind ("c" for in-flight
-- limits, else ""), measure (opaque to Lua, recorded for commits).

-- Reads `n` holds from ARGV starting at `first`; nil when a node's clock handed a period
-- that does not contain `at`, so two nodes with skewed clocks never count one period twice.
local function read_holds(first, n, at)
  local holds = {}
  for i = 0, n - 1 do
    local j = first + i * 9
    local h = {g = ARGV[j], f = ARGV[j + 1], ps = ARGV[j + 2], pe = ARGV[j + 3], a = ARGV[j + 4],
               q = ARGV[j + 5], m = ARGV[j + 6], k = ARGV[j + 7], me = ARGV[j + 8]}
    if tonumber(h.ps) > at or (h.pe ~= '' and tonumber(h.pe) <= at) then
      return nil
    end
    holds[#holds + 1] = h
  end
  return holds
end

-- Whether every hard group has room; denied[i] is 1 for each group that would pass its quota.
local function decide(holds)
  local allowed, denied = 1, {}
  for i, h in ipairs(holds) do
    local quota = tonumber(h.q)
    local count = counter(h.f .. ':u') + counter(h.f .. ':h')
    denied[i] = 0
    if h.m == 'hard' and (quota == 0 or count + tonumber(h.a) > quota) then
      denied[i] = 1
      allowed = 0
    end
  end
  return allowed, denied
end

-- holds.lua ends --
