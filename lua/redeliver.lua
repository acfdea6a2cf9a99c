-- redeliver.lua: attempt one delivery again now, whatever its state (an operator's retry).
--
-- KEYS[1..3]  as in enqueue.lua (endpoints, deliveries, due)
-- ARGV[1]     delivery id
-- ARGV[2]     now ms
--
-- Returns 1, or 0 when there is no such delivery.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(3, 2)

local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return 0
end
local record = cjson.decode(raw)
record.state = 'pending'
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(record))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
