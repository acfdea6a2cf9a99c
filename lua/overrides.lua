-- overrides.lua: per-user quota overrides, judged by Redis time. Shared by every script that
-- decides or answers counters.
--
-- The subscription hash keeps one field per override: ov:<groupId> = "<quota milli>|<expires ms or empty>".

-- The subscription's version and the quota in force per hold in milli-units (a live override,
-- else the plan's `q`), in one read.
local function subscription(sub_key, holds, at)
  local fields = {'ver', nil, nil, nil, nil}
  for i = 1, #holds do
    local h = holds[i]
    fields[i + 1] = 'ov:' .. h.g
  end
  local values = redis.call('HMGET', sub_key, unpack(fields))
  local result = {nil, nil, nil, nil}
  for i = 1, #holds do
    local h = holds[i]
    local value, quota = values[i + 1], h.q
    if value then
      local override, expires = string.match(value, '^(%d+)|(%d*)$')
      if override and (expires == '' or expires + 0 > at) then
        quota = override
      end
    end
    result[i] = quota + 0
  end
  return values[1] or '0', result
end

-- overrides.lua ends --
