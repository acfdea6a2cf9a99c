-- complete.lua: record one attempt of a delivery and decide what follows, with its endpoint's
-- health: a success clears the endpoint's failing time; a failure schedules the next attempt
-- (or ends the delivery when the schedule is spent); 410 or failing past the limit disables
-- the endpoint.
--
-- KEYS[1..3]  as in enqueue.lua (endpoints, deliveries, due)
-- ARGV[1]     delivery id
-- ARGV[2]     outcome: ok | retry | fail (no retry left) | gone (410)
-- ARGV[3]     HTTP status ("" when there was none)
-- ARGV[4]     error text ("" on success)
-- ARGV[5]     now ms
-- ARGV[6]     next attempt ms (retry only)
-- ARGV[7]     how long an endpoint may fail before it is disabled, ms
--
-- Returns the delivery's state, or "gone" when the delivery no longer exists.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 3, 7)

local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then
  return 'gone'
end
local record = cjson.decode(raw)
local now = tonumber(ARGV[5])
record.attempts = tonumber(record.attempts) + 1
local tries = record.tries
if type(tries) ~= 'table' or tries[1] == nil then
  tries = {}
end
tries[#tries + 1] = {at = ARGV[5], status = ARGV[3], error = ARGV[4]}
while #tries > 10 do
  table.remove(tries, 1)
end
record.tries = tries

local endpoint_raw = redis.call('HGET', KEYS[1], record.endpoint)
local endpoint = endpoint_raw and cjson.decode(endpoint_raw)
if ARGV[2] == 'ok' then
  record.state = 'succeeded'
  redis.call('ZREM', KEYS[3], ARGV[1])
  if endpoint then
    endpoint.failingSince = nil
  end
else
  if ARGV[2] == 'retry' then
    record.state = 'pending'
    redis.call('ZADD', KEYS[3], ARGV[6], ARGV[1])
  else
    record.state = 'failed'
    redis.call('ZREM', KEYS[3], ARGV[1])
  end
  if endpoint then
    endpoint.failingSince = endpoint.failingSince or ARGV[5]
    if ARGV[2] == 'gone' then
      endpoint.enabled = false
      endpoint.disabledReason = 'the receiver answered 410 Gone'
    elseif now - tonumber(endpoint.failingSince) >= tonumber(ARGV[7]) then
      endpoint.enabled = false
      endpoint.disabledReason = 'every delivery failed for 5 days'
    end
  end
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(record))
if endpoint then
  redis.call('HSET', KEYS[1], record.endpoint, cjson.encode(endpoint))
end
return record.state
