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
local K, A = named(KEYS, {'endpoints', 'deliveries', 'due'}), named(ARGV, {'id', 'outcome', 'status', 'error', 'now', 'next', 'fail_limit'})

local raw = redis.call('HGET', K.deliveries, A.id)
if not raw then
  return 'gone'
end
local record = cjson.decode(raw)
local now = tonumber(A.now)
record.attempts = tonumber(record.attempts) + 1
local tries = record.tries
if type(tries) ~= 'table' or tries[1] == nil then
  tries = {}
end
tries[#tries + 1] = {at = A.now, status = A.status, error = A.error}
while #tries > 10 do
  table.remove(tries, 1)
end
record.tries = tries

local endpoint_raw = redis.call('HGET', K.endpoints, record.endpoint)
local endpoint = endpoint_raw and cjson.decode(endpoint_raw)
if A.outcome == 'ok' then
  record.state = 'succeeded'
  redis.call('ZREM', K.due, A.id)
  if endpoint then
    endpoint.failingSince = nil
  end
else
  if A.outcome == 'retry' then
    record.state = 'pending'
    redis.call('ZADD', K.due, A.next, A.id)
  else
    record.state = 'failed'
    redis.call('ZREM', K.due, A.id)
  end
  if endpoint then
    endpoint.failingSince = endpoint.failingSince or A.now
    if A.outcome == 'gone' then
      endpoint.enabled = false
      endpoint.disabledReason = 'the receiver answered 410 Gone'
    elseif now - tonumber(endpoint.failingSince) >= tonumber(A.fail_limit) then
      endpoint.enabled = false
      endpoint.disabledReason = 'every delivery failed for 5 days'
    end
  end
end
redis.call('HSET', K.deliveries, A.id, cjson.encode(record))
if endpoint then
  redis.call('HSET', K.endpoints, record.endpoint, cjson.encode(endpoint))
end
return record.state
