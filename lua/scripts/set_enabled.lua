-- set_enabled.lua: enable or disable one webhook endpoint by an operator's hand. Enabling
-- starts its health afresh (no reason, no failing time); disabling ends its pending deliveries
-- as failed, as a claim would, so none waits for an endpoint that will not be called.
--
-- KEYS[1]  endpoints hash    qg:{p}:webhooks
-- KEYS[2]  deliveries hash   qg:{p}:deliveries
-- KEYS[3]  due zset          qg:{p}:due
-- ARGV[1]  endpoint id
-- ARGV[2]  "1" to enable, "0" to disable
-- ARGV[3]  why it is disabled ("" when enabling)
--
-- Returns "changed", "unchanged" (it already was so), or "missing".

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 3, 3)
local K, A = named(KEYS, {'endpoints', 'deliveries', 'due'}), named(ARGV, {'id', 'enabled', 'reason'})

-- 1. The endpoint as it stands.
local raw = redis.call('HGET', K.endpoints, A.id)
if not raw then
  return 'missing'
end
local endpoint = cjson.decode(raw)
local enable = A.enabled == '1'
if (endpoint.enabled and true or false) == enable then
  return 'unchanged'
end

-- 2. The endpoint's new state.
endpoint.enabled = enable
if enable then
  endpoint.disabledReason = nil
  endpoint.failingSince = nil
else
  endpoint.disabledReason = A.reason
end
redis.call('HSET', K.endpoints, A.id, cjson.encode(endpoint))

-- 3. Disabled: its pending deliveries end as failed.
if not enable then
  local prefix = A.id .. '.'
  for _, id in ipairs(redis.call('ZRANGE', K.due, 0, -1)) do
    if string.sub(id, 1, #prefix) == prefix then
      local delivery = redis.call('HGET', K.deliveries, id)
      if delivery then
        local record = cjson.decode(delivery)
        record.state = 'failed'
        record.error = 'the endpoint is disabled or deleted'
        redis.call('HSET', K.deliveries, id, cjson.encode(record))
      end
      redis.call('ZREM', K.due, id)
    end
  end
end
return 'changed'
