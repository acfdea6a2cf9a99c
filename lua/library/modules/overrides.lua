-- overrides.lua: per-user quota overrides, judged by Redis time. Shared by every script that
-- decides or answers counters.
--
-- The subscription hash keeps one field per override: ov:<groupId> = "<quota milli>|<expires ms
-- or empty>". A node passes the same two values with each hold it decides (holds.lua), from the
-- subscription whose version the script checks; counters.lua reads them from the hash for holds
-- that come from a reservation record.

-- The quota in force in milli-units: the override's while it lasts at `at` (`override` nil
-- when there is none; `expires` "" when it never does), else the plan's `q`.
local function in_force(q, override, expires, at)
  if override and (expires == '' or expires + 0 > at) then
    return override + 0
  end
  return q + 0
end

-- overrides.lua ends --
