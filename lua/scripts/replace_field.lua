-- replace_field.lua: replace (or remove) one field of a hash only while it still holds the
-- value it was read as (a compare-and-set), so two read-modify-write changes of one record
-- (two owners changing one operator's roles in two projects at once) never lose either: the
-- one that finds the field changed reads it again and applies its change to what is there.
--
-- KEYS[1]  the hash                      qg:operators
-- ARGV[1]  the field                     an operator's email
-- ARGV[2]  the value it was read as
-- ARGV[3]  the new value, or "" to remove the field
--
-- Returns 1 when replaced (or removed), 0 when the field holds another value now (or none).

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 3)
local K, A = named(KEYS, {'hash'}), named(ARGV, {'field', 'was', 'value'})

-- 1. Only over the value the change was made from.
if redis.call('HGET', K.hash, A.field) ~= A.was then
  return 0
end
if A.value == '' then
  redis.call('HDEL', K.hash, A.field)
else
  redis.call('HSET', K.hash, A.field, A.value)
end
return 1
