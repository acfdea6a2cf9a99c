-- add_capped.lua: add a member to a set only while the set has fewer than a cap, in one step,
-- so parallel adds can never pass the cap (a count read and then a write could: 160 parallel
-- mints of a user's keys under a cap of 100 made 104).
--
-- KEYS[1]  the set                       qg:{p}:user_keys:<user>
-- ARGV[1]  the member
-- ARGV[2]  the cap
--
-- Returns 1 when added (or already there), 0 when the set holds the cap already.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 2)
local K, A = named(KEYS, {'set'}), named(ARGV, {'member', 'cap'})

-- 1. A member already there is there; else room is checked before the write.
if redis.call('SISMEMBER', K.set, A.member) == 1 then
  return 1
end
if redis.call('SCARD', K.set) >= tonumber(A.cap) then
  return 0
end
redis.call('SADD', K.set, A.member)
return 1
