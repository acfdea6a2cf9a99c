-- enqueue.lua: an event becomes one delivery for each enabled endpoint of its project that
-- wants its type, once however often the same event is enqueued (the node that fired it and
-- the sweeper may both move it): a delivery's id is "<endpoint id>.<event id>". An event for one
-- endpoint only (a test) is made only while that endpoint is enabled.
--
-- KEYS[1]  endpoints hash     qg:{p}:webhooks     endpoint id -> JSON (url, events, enabled, ...)
-- KEYS[2]  deliveries hash    qg:{p}:deliveries   delivery id -> JSON record
-- KEYS[3]  due zset           qg:{p}:due          delivery id -> next attempt ms
-- KEYS[4]  log zset           qg:{p}:deliverylog  delivery id -> created ms
-- ARGV[1]  event id
-- ARGV[2]  event type
-- ARGV[3]  body (JSON, as sent)
-- ARGV[4]  now ms
-- ARGV[5]  only this endpoint, if enabled ("" for every enabled one that wants the type)
--
-- Returns the ids of the deliveries made.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 4, 5)

local made = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local id, endpoint = all[i], cjson.decode(all[i + 1])
  local wanted = ARGV[5] == id and endpoint.enabled
  if ARGV[5] == '' and endpoint.enabled then
    wanted = #endpoint.events == 0
    for _, t in ipairs(endpoint.events) do
      wanted = wanted or t == ARGV[2]
    end
  end
  if wanted then
    local delivery = id .. '.' .. ARGV[1]
    local record = {endpoint = id, event = ARGV[1], type = ARGV[2], body = ARGV[3], state = 'pending',
                    attempts = 0, created = ARGV[4], tries = {}}
    if redis.call('HSETNX', KEYS[2], delivery, cjson.encode(record)) == 1 then
      redis.call('ZADD', KEYS[3], ARGV[4], delivery)
      redis.call('ZADD', KEYS[4], ARGV[4], delivery)
      made[#made + 1] = delivery
    end
  end
end
return made
