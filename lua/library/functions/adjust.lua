-- adjust.lua: an operator's correction of one counter, never below zero, with an audit entry.
--
-- KEYS[1..10] as in prelude.lua
-- KEYS[11]    the adjustments audit list   qg:{p:u}:audit (newest first)
-- ARGV[1..4]  as in prelude.lua (retention, idempotency field, body digest, ledger keep)
-- ARGV[5]     subscription version the node decided with
-- ARGV[6..12] one hold as in holds.lua (HOLD_FIELDS values): group, field, period start, period end, amount (unused),
--             plan quota, options
-- ARGV[13]    signed milli-units to add ("-3000" refunds 3 units)
-- ARGV[14]    reason
-- ARGV[15]    how many audit entries to keep
-- ARGV[16]    the id of the key that made the adjustment
--
-- Returns the first answer again for a repeat of its Idempotency-Key ({"repeat", JSON}, nothing
-- changes), {"reused"} when that key came with another body, {"stale"}, {"more"}, {"overflow", group} when the counter would pass 2^53 - 1
-- milli-units (nothing changes), else {ADJUSTED: "ok", applied milli (signed); then its COUNTER:
-- used, held, quota; then the alerts fired}.

register('adjust', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 11, 16)

  -- 1. A repeat answers the first answer and changes nothing; the node's assumptions are
  -- checked against Redis time (`now`, read once for the call: head.lua).
  local first = repeated(c)
  if first then
    return first
  end
  local holds = read_holds(c, ARG.ADJUST.g, 1, now)
  if not holds then
    return {'stale'}
  end
  local version, quota_in_force = subscription(c, KEYS[KEY_SUBSCRIPTION], holds, now)
  if version ~= ARGV[ARG.ADJUST.version] then
    return {'stale'}
  end
  if reclaim(c, now) then
    return {'more'}
  end
  prune(c, now)

  -- 2. Move the used amount, clamped at zero.
  local h = holds[1]
  local before = read_counters(c, holds)[1]
  local over, moved_from, moved_to = move_counters(c, holds, ':u', function() return tonumber(ARGV[ARG.ADJUST.amount]) end)
  if over then
    return {'overflow', over}
  end
  alert_crossings(c, holds, quota_in_force, moved_from, moved_to)
  local after = read_counters(c, holds)[1]

  -- 3. Keep the audit trail.
  local entry = {at = string.format('%d', now), groupId = h.g, periodStart = h.ps, requested = ARGV[ARG.ADJUST.amount],
                 applied = string.format('%d', after - before), before = string.format('%d', before),
                 after = string.format('%d', after), reason = ARGV[ARG.ADJUST.reason]}
  redis.call('LPUSH', KEYS[KEY_AUDIT], cjson.encode(entry))
  redis.call('LTRIM', KEYS[KEY_AUDIT], 0, tonumber(ARGV[ARG.ADJUST.audit_keep]) - 1)
  if after ~= before then
    ledger(c, now, holds, function() return string.format('%d', after - before) end,
      {'kind', 'adjustment', 'ref', '', 'reason', ARGV[ARG.ADJUST.reason], 'key', ARGV[ARG.ADJUST.key]})
  end
  local head = {}
  head[ADJUSTED.status], head[ADJUSTED.applied] = 'ok', after - before
  return remember(c, append_fired(c, append_counters(c, head, holds, quota_in_force)), now)
end)
