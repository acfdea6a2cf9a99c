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
local K, A = named(KEYS, {'endpoints', 'deliveries', 'due', 'log'}), named(ARGV, {'now', 'lease', 'n', 'log_keep'})

local now = tonumber(A.now)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', K.log, '-inf', now - tonumber(A.log_keep), 'LIMIT', 0, 16)) do
  redis.call('HDEL', K.deliveries, old)
  redis.call('ZREM', K.due, old)
  redis.call('ZREM', K.log, old)
end
local claimed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.due, '-inf', now, 'LIMIT', 0, tonumber(A.n))) do
  local raw = redis.call('HGET', K.deliveries, id)
  if not raw then
    redis.call('ZREM', K.due, id)
  else
    local record = cjson.decode(raw)
    local endpoint = redis.call('HGET', K.endpoints, record.endpoint)
    if not endpoint or not cjson.decode(endpoint).enabled then
      record.state = 'failed'
      record.error = 'the endpoint is disabled or deleted'
      redis.call('HSET', K.deliveries, id, cjson.encode(record))
      redis.call('ZREM', K.due, id)
    else
      redis.call('ZADD', K.due, now + tonumber(A.lease), id)
      claimed[#claimed + 1] = {id, raw, endpoint}
    end
  end
end
return claimed
