-- claim.lua: take up to n due deliveries for this node for a lease: their next attempt moves
-- to now + lease, so no other node takes them meanwhile, and a node that dies mid-delivery
-- only delays them until the lease ends. Deliveries of a disabled or deleted endpoint end as
-- failed. Also drops deliveries older than the log's retention, a few per call.
--
-- KEYS[1..4]  as in enqueue.lua (endpoints, deliveries, due, log)
-- ARGV[1]     now ms
-- ARGV[2]     lease ms
-- ARGV[3]     n
-- ARGV[4]     log retention ms
--
-- Returns {delivery id, record JSON, endpoint JSON} for each delivery claimed.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 4, 4)

local now = tonumber(ARGV[1])
for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 16)) do
  redis.call('HDEL', KEYS[2], old)
  redis.call('ZREM', KEYS[3], old)
  redis.call('ZREM', KEYS[4], old)
end
local claimed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))) do
  local raw = redis.call('HGET', KEYS[2], id)
  if not raw then
    redis.call('ZREM', KEYS[3], id)
  else
    local record = cjson.decode(raw)
    local endpoint = redis.call('HGET', KEYS[1], record.endpoint)
    if not endpoint or not cjson.decode(endpoint).enabled then
      record.state = 'failed'
      record.error = 'the endpoint is disabled or deleted'
      redis.call('HSET', KEYS[2], id, cjson.encode(record))
      redis.call('ZREM', KEYS[3], id)
    else
      redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), id)
      claimed[#claimed + 1] = {id, raw, endpoint}
    end
  end
end
return claimed
