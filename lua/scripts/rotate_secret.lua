-- rotate_secret.lua: give an endpoint a new signing secret in one step. The secret it replaces
-- keeps signing beside it for the overlap, and so does every secret an earlier rotation
-- replaced until its own overlap ends; at most a few replaced secrets sign at once, so a
-- rotation that would pass that is refused rather than cut another secret's overlap short.
--
-- KEYS[1]  endpoints hash   qg:{p}:webhooks
-- ARGV[1]  endpoint id
-- ARGV[2]  the new secret
-- ARGV[3]  now ms
-- ARGV[4]  how long a replaced secret keeps signing, ms
-- ARGV[5]  the most replaced secrets that sign at once
--
-- Returns {"ok"}, {"missing"}, or {"limit", ms when the soonest replaced secret stops signing}.

-- 0. The call's shape, as src/store/scripts/contract.rs declares it.
shape(KEYS, ARGV, 1, 5)
local K, A = named(KEYS, {'endpoints'}), named(ARGV, {'id', 'secret', 'now', 'keep', 'most'})

-- 1. The endpoint as it stands.
local raw = redis.call('HGET', K.endpoints, A.id)
if not raw then
  return {'missing'}
end
local endpoint = cjson.decode(raw)
local now = tonumber(A.now)

-- 2. Replaced secrets still signing (a record of the first encoding kept one as previousSecret).
local retired = {}
if type(endpoint.retired) == 'table' then
  for _, r in ipairs(endpoint.retired) do
    if tonumber(r['until']) > now then
      retired[#retired + 1] = r
    end
  end
end
if type(endpoint.previousSecret) == 'string' and tonumber(endpoint.previousUntil or 0) > now then
  retired[#retired + 1] = {secret = endpoint.previousSecret, ['until'] = tostring(endpoint.previousUntil)}
end

-- 3. Room for one more, or the time the soonest one ends.
if #retired >= tonumber(A.most) then
  local soonest = nil
  for _, r in ipairs(retired) do
    local ends = tonumber(r['until'])
    if not soonest or ends < soonest then
      soonest = ends
    end
  end
  return {'limit', tostring(soonest)}
end

-- 4. The new secret, and the replaced one signing until the overlap ends.
retired[#retired + 1] = {secret = endpoint.secret, ['until'] = tostring(now + tonumber(A.keep))}
endpoint.secret = A.secret
endpoint.retired = retired
endpoint.previousSecret = nil
endpoint.previousUntil = nil
redis.call('HSET', K.endpoints, A.id, cjson.encode(endpoint))
return {'ok'}
