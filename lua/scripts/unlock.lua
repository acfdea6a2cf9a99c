-- unlock.lua: give up a lock taken with SET NX PX, only if it is still this taker's: a lock that
-- lapsed and was taken by another must stay theirs.
--
-- KEYS[1]  the lock                      qg:{p}:parents_lock
-- ARGV[1]  the taker's token
--
-- Returns 1 when given up, 0 when the lock was not this taker's (lapsed, or another's).

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 1)
local K, A = named(KEYS, {'lock'}), named(ARGV, {'token'})

-- 1. Only the token that took it frees it.
if redis.call('GET', K.lock) ~= A.token then
  return 0
end
return redis.call('DEL', K.lock)
