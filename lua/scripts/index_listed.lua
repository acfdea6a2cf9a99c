-- index_listed.lua: list one of a user's jobs or files, newest first, the list kept to a cap by
-- dropping its oldest, in one step: a reader never sees it past its cap, and parallel adds of
-- one user never leave more than the cap (an add and then a trim, two calls, could).
--
-- KEYS[1]  the user's list of one kind of object   qg:{p:u}:listed:<upstream>:<what>
-- ARGV[1]  the provider's id of the object
-- ARGV[2]  the cap: the most ids the list keeps
-- ARGV[3]  how long the list lives after this add at least (ms)
--
-- Returns how many ids the list holds.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 3)
local K, A = named(KEYS, {'list'}), named(ARGV, {'id', 'cap', 'life'})
local cap, keep = tonumber(A.cap), tonumber(A.life)
if not cap or cap < 1 or cap % 1 ~= 0 or not keep or keep < 1 or keep % 1 ~= 0 then
  return redis.error_reply('ERR qg index_listed: the cap and the time to keep must be whole numbers from 1')
end

-- 1. Scored by Redis's clock in ms: the order of listing is the order of adding, on any node.
-- An id listed already keeps its place.
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZADD', K.list, 'NX', ms, A.id)

-- 2. The oldest past the cap go; the list outlives its newest object's record.
redis.call('ZREMRANGEBYRANK', K.list, 0, -(cap + 1))
if redis.call('PTTL', K.list) < keep then
  redis.call('PEXPIRE', K.list, keep)
end
return redis.call('ZCARD', K.list)
