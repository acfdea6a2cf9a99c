-- redeliver.lua: attempt one delivery again now, whatever its state (an operator's retry), when
-- its endpoint is enabled; a disabled endpoint's delivery is left as it is.
--
-- KEYS[1..3]  as in enqueue.lua (endpoints, deliveries, due)
-- ARGV[1]     delivery id
-- ARGV[2]     now ms
--
-- Returns "ok", "no_delivery", "no_endpoint" (the endpoint was deleted) or "disabled".

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 3, 2)
local K, A = named(KEYS, {'endpoints', 'deliveries', 'due'}), named(ARGV, {'id', 'now'})

-- 1. The delivery and its endpoint.
local raw = redis.call('HGET', K.deliveries, A.id)
if not raw then
  return 'no_delivery'
end
local record = cjson.decode(raw)
local endpoint = redis.call('HGET', K.endpoints, record.endpoint)
if not endpoint then
  return 'no_endpoint'
end
if not cjson.decode(endpoint).enabled then
  return 'disabled'
end

-- 2. Due now.
record.state = 'pending'
redis.call('HSET', K.deliveries, A.id, cjson.encode(record))
redis.call('ZADD', K.due, A.now, A.id)
return 'ok'
