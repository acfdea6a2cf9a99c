-- settle_slice.lua: apply statements of a member's slices to their leases, at the parent's
-- level (docs/decisions/0060-leased-slices.md), each as statements.lua's apply_statement
-- applies one: cumulative and numbered, so applying one twice, late or out of order changes
-- nothing.
--
-- KEYS[1..10] as in prelude.lua, the parent's
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
-- ARGV[5]     the member whose slices they are
-- ARGV[6]     n, the statements; then per statement: the lease's id, the statement's number
--             (from 1), what the slice has used since it was placed and what its open holds
--             still hold, milli-units
--
-- Returns {"more"} when expired holds remain to reclaim, {"overflow", group} when a used
-- counter would pass 2^53 - 1 milli-units (that statement changes nothing), else {"ok", then
-- per statement in order a SETTLED: applied 1|0, what the lease still holds; then the alerts
-- fired (as alerts.lua appends them)}. One call settles every statement a member's slot wrote
-- to this level at once (each slice a renewal closed states one, when its take did not apply
-- it: take_slice.lua); each is applied as if alone.

register('settle_slice', 'writes', function(c)
  local KEYS, ARGV = c.KEYS, c.ARGV
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  local n = shape(KEYS, ARGV, 10, 6, 4)

  local reply = {'ok'}
  for i = 1, n do
    local j = ARG.SETTLE_SLICE.statements + ARG.STATEMENT.held * (i - 1)
    local applied, still = apply_statement(c, ARGV[ARG.SETTLE_SLICE.member], ARGV[j + ARG.STATEMENT.lease], ARGV[j + ARG.STATEMENT.number], ARGV[j + ARG.STATEMENT.used], ARGV[j + ARG.STATEMENT.held])
    if not applied then
      return still
    end
    local k = #reply
    reply[k + SETTLED.applied], reply[k + SETTLED.leased] = applied, still
  end
  return append_fired(c, reply)
end)
