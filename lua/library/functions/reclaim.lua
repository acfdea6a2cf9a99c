-- reclaim.lua: return a user's expired holds, a bounded number per call, and nothing else. The
-- read-only scripts (check, usage) answer "more" when more expired holds are due than they
-- read in one call; the node then runs this until it answers "ok", and asks again.
--
-- KEYS[1..10] as in prelude.lua
-- ARGV[1..4]  as in prelude.lua (retention, "", "", ledger keep)
--
-- Returns {"more"} when expired holds remain, else {"ok"}.

register('reclaim', 'writes', function(c)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  -- 0. The call's shape, as src/store/scripts/contract.rs declares it.
  shape(KEYS, ARGV, 10, 4)

  -- 1. Return a batch, and prune as every writing script that returned holds does.
  return {reclaim_first(c, now) and 'more' or 'ok'}
end)
