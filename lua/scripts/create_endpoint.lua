-- create_endpoint.lua: make one webhook endpoint, at most a cap per project, and with an
-- Idempotency-Key at most once per key: the key's entry is written in the same step as the
-- endpoint, so a repeat on any node finds the endpoint the first call made.
--
-- KEYS[1]  endpoints hash   qg:{p}:webhooks
-- KEYS[2]  the key's entry  qg:{p}:webhook_idem:<route>:<key digest>  string "<body digest> <endpoint id>"
--                           (named even without a key, then never touched)
-- ARGV[1]  endpoint id
-- ARGV[2]  endpoint JSON
-- ARGV[3]  the most endpoints a project may have
-- ARGV[4]  the request's digest ("" when the call has no Idempotency-Key)
-- ARGV[5]  how long the key's entry is kept, ms
--
-- Returns {"made", id}, {"repeat", the id the key made}, {"reused"} (the key came with another
-- body), or {"full", how many endpoints the project has}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 2, 5)
local K, A = named(KEYS, {'endpoints', 'entry'}), named(ARGV, {'id', 'endpoint', 'most', 'digest', 'entry_keep'})

-- 1. A key seen before answers what it made, or that it came with another body.
if A.digest ~= '' then
  local seen = redis.call('GET', K.entry)
  if seen then
    local digest, id = string.match(seen, '^(%S+) (%S+)$')
    if digest ~= A.digest then
      return {'reused'}
    end
    return {'repeat', id}
  end
end

-- 2. The project's cap.
local count = redis.call('HLEN', K.endpoints)
if count >= tonumber(A.most) then
  return {'full', count}
end

-- 3. The endpoint, and the key's entry with it.
redis.call('HSET', K.endpoints, A.id, A.endpoint)
if A.digest ~= '' then
  redis.call('SET', K.entry, A.digest .. ' ' .. A.id, 'PX', A.entry_keep)
end
return {'made', A.id}
