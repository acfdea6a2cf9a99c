-- balances.lua: a subject's balances and grants as they stand, expired holds given back first.
--
-- KEYS[1..10] as in prelude.lua
-- KEYS[11]    grants hash, as in grant.lua
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     number of balances n the subject's plan names, then their names
-- then        number of holds m, then m times HOLD_FIELDS values (holds.lua): a hold of each
--             balance group of the plan, whose allowance is opened (or moved to the quota in
--             force, wallet.lua's C.open) as a reserve of it would
-- last        the node's decision instant, ms (holds.lua)
--
-- Returns {"stale"} when the node's instant or a period does not match Redis, {"more"} when
-- expired holds remain to reclaim, else {"ok", Redis time ms, number of
-- balances m, then per balance its name, its wallet as wallet.lua keeps it (grants past their
-- expiry have their remaining expired) and its state (wallet.lua's C.state: available, held,
-- debt, the soonest expiry's amount and instant), then the grants hash as HGETALL answers it}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
local n, m = shape(11, 5, 1, 1, HOLD_FIELDS, 1)
local at = decided_at(ARGV[#ARGV], now)
local allowances = at and read_holds(7 + n, m, at)
if not allowances then
  return {'stale'}
end

-- 1. Expired holds go back first, so nothing shows held that is not.
if reclaim(now) then
  return {'more'}
end

-- 1b. Each balance group's allowance as a reserve now would find it.
if m > 0 then
  local _, quota_in_force = subscription(KEYS[6], allowances, now)
  for i = 1, m do
    local h = allowances[i]
    if h.b then
      credits().watch(credits().wallet(h.b, now), h, quota_in_force[i], now)
    end
  end
end

-- 2. Every balance the plan names or a grant was made in.
local grants = redis.call('HGETALL', KEYS[11])
local names, seen = {}, {}
local function add(name)
  if not seen[name] then
    seen[name] = true
    names[#names + 1] = name
  end
end
for i = 1, n do
  add(ARGV[5 + i])
end
for i = 1, #grants, 2 do
  if string.sub(grants[i], 1, 2) ~= 'n|' then
    add(cjson.decode(grants[i + 1]).balance)
  end
end
table.sort(names)
local C = credits()
local reply = {'ok', now, #names}
for _, name in ipairs(names) do
  reply[#reply + 1] = name
  reply[#reply + 1] = C.encode(C.wallet(name, now))
  -- Its state as every answer gives it: available, held, debt, the soonest expiry.
  local available, held, debt, soonest, soonest_at = C.state(name, now)
  reply[#reply + 1] = available
  reply[#reply + 1] = held
  reply[#reply + 1] = debt
  reply[#reply + 1] = soonest
  reply[#reply + 1] = soonest_at
end
for _, v in ipairs(grants) do
  reply[#reply + 1] = v
end
-- What expired on the way is kept, with its ledger entries.
C.save(now, nil, true)
return reply
