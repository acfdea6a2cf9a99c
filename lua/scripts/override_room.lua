-- override_room.lua: shared by override.lua and decide_approval.lua, the scripts that may add an
-- override: whether a subject has room for one more.
--
-- A subject keeps at most MAX_OVERRIDES (1000) overrides (src/quota/subscription.rs), so a script
-- that reads its subscription whole reads a bounded hash. Its fields are its overrides and at
-- most the seven others named here: counted without a scan.
local function override_room(sub_key)
  local others = 0
  for _, v in ipairs(redis.call('HMGET', sub_key, 'plan', 'lastPlan', 'startedAt', 'status', 'reason', 'ver', 'parent')) do
    others = others + (v and 1 or 0)
  end
  return redis.call('HLEN', sub_key) - others < 1000
end

-- override_room.lua ends --
