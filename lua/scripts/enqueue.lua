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
local K, A = named(KEYS, {'endpoints', 'deliveries', 'due', 'log'}), named(ARGV, {'event', 'type', 'body', 'now', 'only'})

local made = {}
local all = redis.call('HGETALL', K.endpoints)
for i = 1, #all, 2 do
  local id, endpoint = all[i], cjson.decode(all[i + 1])
  local wanted = A.only == id and endpoint.enabled
  if A.only == '' and endpoint.enabled then
    wanted = #endpoint.events == 0
    for _, t in ipairs(endpoint.events) do
      wanted = wanted or t == A.type
    end
  end
  if wanted then
    local delivery = id .. '.' .. A.event
    local record = {endpoint = id, event = A.event, type = A.type, body = A.body, state = 'pending',
                    attempts = 0, created = A.now, tries = {}}
    if redis.call('HSETNX', K.deliveries, delivery, cjson.encode(record)) == 1 then
      redis.call('ZADD', K.due, A.now, delivery)
      redis.call('ZADD', K.log, A.now, delivery)
      made[#made + 1] = delivery
    end
  end
end
return made
