-- layouts.lua: written from src/store/scripts/layouts.rs, which declares each of them (edit them
-- there; its test writes this file anew): every value packed by position, its fields by name
-- at their positions, where each key is (keys.rs) and how far the outbox grows (entries.rs).
-- The library's first part.
local HOLD = {g = 1, f = 2, ps = 3, pe = 4, a = 5, q = 6, o = 7}
local HOLD_FIELDS = 7
local OPTION = {m = 1, k = 2, t = 3, o = 4, oe = 5, pv = 6, me = 7}
local OPTION_FIELDS = 7
local RESERVED = {status = 1, id = 2, expires = 3, allowed = 4}
local RESERVED_FIELDS = 4
local FIRST = {status = 1, id = 2, expires = 3, allowed = 4, tried = 5}
local FIRST_FIELDS = 5
local CHECKED = {status = 1, allowed = 2}
local CHECKED_FIELDS = 2
local USAGE = {status = 1, now = 2}
local USAGE_FIELDS = 2
local ADJUSTED = {status = 1, applied = 2}
local ADJUSTED_FIELDS = 2
local COMMITTED = {status = 1, late = 2, record = 3}
local COMMITTED_FIELDS = 3
local RELEASED = {status = 1, state = 2, record = 3}
local RELEASED_FIELDS = 3
local EXTENDED = {status = 1, expires = 2, parent = 3}
local EXTENDED_FIELDS = 3
local GRANTED = {status = 1, id = 2}
local GRANTED_FIELDS = 2
local VOIDED = {status = 1, balance = 2}
local VOIDED_FIELDS = 2
local TAKE = {ls = 1, least = 2, th = 3, cl = 4, n = 5, u = 6, h = 7}
local TAKE_FIELDS = 7
local SHORT = {i = 1, ls = 2, intent = 3, d = 4, x = 5, b = 6, st = 7, cl = 8, n = 9, u = 10, h = 11}
local SHORT_FIELDS = 11
local TAKEN = {status = 1, id = 2, amount = 3, ends = 4, used = 5, held = 6, quota = 7}
local TAKEN_FIELDS = 7
local SETTLED = {applied = 1, leased = 2}
local SETTLED_FIELDS = 2
local LEASES = {status = 1, now = 2, next = 3}
local LEASES_FIELDS = 3
local LEASE = {id = 1, member = 2, field = 3, period_end = 4, ends = 5, used = 6, leased = 7}
local LEASE_FIELDS = 7
local BALANCES = {status = 1, now = 2, count = 3}
local BALANCES_FIELDS = 3
local AMOUNTS = {a = 1, r = 2, h = 3, c = 4, e = 5, v = 6}
local AMOUNTS_FIELDS = 6
local VERDICT = {used = 1, held = 2, quota = 3, denied = 4}
local VERDICT_FIELDS = 4
local COUNTER = {used = 1, held = 2, quota = 3}
local COUNTER_FIELDS = 3
local BALANCE = {available = 1, held = 2, debt = 3, soonest = 4, soonest_at = 5}
local BALANCE_FIELDS = 5
local STEP = {code = 1, n = 2, f = 3}
local STEP_FIELDS = 3
local WALLET = {d = 1, oh = 2, t = 3, ag = 4, lf = 5, dq = 6}
local WALLET_FIELDS = 6
local GRANT = {i = 1, k = 2, f = 3, x = 4, a = 5, r = 6, h = 7, c = 8, e = 9, v = 10, cat = 11, cb = 12, el = 13, vl = 14, vd = 15, oa = 16, l = 17}
local GRANT_FIELDS = 17
local QUICK = {nx = 1, av = 2, oh = 3, held = 4, d = 5, sa = 6, ss = 7, soon = 8, t = 9, ag = 10, armed = 11, id = 12, hr = 13, opened = 14}
local QUICK_FIELDS = 14
local SLICE = {q = 1, x = 2, v = 3, l = 4, n = 5, pu = 6, ph = 7, pq = 8}
local SLICE_FIELDS = 8
local LIMITS = {steps = 1, attempts = 2, fallbacks = 3, share = 4, spend = 5}
local LIMITS_FIELDS = 5
local FALLBACK = {chain = 1, caps = 2}
local FALLBACK_FIELDS = 2
local RUN_STEP = {run = 1, action = 2, kind = 3}
local RUN_STEP_FIELDS = 3
local RUN = {n = 1, f = 2, ls = 3, la = 4, lf = 5, lfs = 6, depth = 7}
local RUN_FIELDS = 7
local RUN_GROUP = {g = 1, b = 2, u = 3, o = 4, fu = 5}
local RUN_GROUP_FIELDS = 5
local OPTION_LINE = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$'
local OPTION_MODE_ONLY = '||||||'
local WALLET_LINE = '^([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)()'
local GRANT_LINE = '^\n([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)|([^|\n]*)()'
local LIMITS_LINE = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$'
local RUN_STEP_LINE = '^([^|]*)|([^|]*)|(.*)$'
local FALLBACK_LINE = '^([^|]*)|(.*)$'
local SLICE_LINE = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$'
local SLICE_HEAD = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|'
-- The encoding of the reservation records this build writes (prelude.lua).
local RECORD_VERSION = '2'
-- How many alternatives a reserve may name, and what a denial the library records is called,
-- by a hold's verdict code (a balance group's apart) and a step's run's (alternatives.rs).
local MAX_ALTERNATIVES = 8
local DENIED = {hold = {'limit_reached', 'approval_pending', 'too_many_values', 'run_budget_exhausted', 'fallback_budget_exhausted', false, false, 'parent_capacity_leased'}, balance = {'insufficient_balance', 'insufficient_balance', 'insufficient_balance', 'run_budget_exhausted', 'fallback_budget_exhausted', false, false, 'parent_capacity_leased'}, step = {'run_ended', 'run_steps_exhausted', 'action_attempts_exhausted', 'fallback_budget_exhausted', 'run_too_deep'}}
-- Where each key is in a data-plane function's KEYS (src/store/scripts/keys.rs): a writing
-- function's (KEYS[KEY_COUNTERS]), the one it may take after them in the same place
-- (adjust's audit, a credits function's grants), and a read-only function's (READ_KEY_).
local KEY_COUNTERS = 1
local KEY_RESERVATIONS = 2
local KEY_OPEN = 3
local KEY_ENDED = 4
local KEY_PERIODS = 5
local KEY_SUBSCRIPTION = 6
local KEY_IDEMPOTENCY = 7
local KEY_LEDGER = 8
local KEY_DAILY = 9
local KEY_OUTBOX = 10
local KEY_AUDIT = 11
local KEY_GRANTS = 11
local READ_KEY_COUNTERS = 1
local READ_KEY_RESERVATIONS = 2
local READ_KEY_OPEN = 3
local READ_KEY_SUBSCRIPTION = 4
-- Where each argument is in a data-plane function's ARGV (src/store/scripts/args.rs): a
-- function's leading ones (ARG.<FUNCTION>), what follows a run of items from the place
-- before it (ARG.TRACK_TAIL, ...), and reserve's last ones counted back from the last.
local ARG = {
  WRITING = {retention = 1, idempotency = 2, digest = 3, keep = 4},
  RESERVE = {version = 5, id = 6, ttl = 7, holds = 8},
  CHECK = {version = 1, holds = 2},
  TRACK = {version = 5, holds = 6},
  ADJUST = {version = 5, g = 6, f = 7, ps = 8, pe = 9, a = 10, q = 11, o = 12, amount = 13, reason = 14, audit_keep = 15, key = 16},
  COMMIT = {id = 5, holds = 6},
  SET_OUTCOME = {id = 5, outcome = 6, key = 7, member = 8},
  RELEASE = {id = 5, metadata = 6},
  EXTEND = {id = 5, ttl = 6, lifetime = 7},
  USAGE = {groups = 1},
  TAKE_SLICE = {version = 5, member = 6, cutoff = 7, backstop = 8, latest = 9, holds = 10},
  SETTLE_SLICE = {member = 5, statements = 6},
  END_SLICE = {entry = 5, field = 6, lease = 7, period_end = 8, close = 9},
  LEASES = {rank = 1, count = 2},
  APPEND_LEDGER = {notes = 5},
  GRANT = {id = 5, balance = 6, amount = 7, burn = 8, effective = 9, expires = 10, record = 11, live = 12, kept = 13},
  VOID_GRANT = {id = 5},
  BALANCES = {balances = 5},
  RESERVE_END = {start = 1, step = 2, fallback = 3},
  TRACK_TAIL = {event = 1, metadata = 2, quantity = 3, key = 4, member = 5, reference = 6, run = 7, outcome = 8},
  COMMIT_TAIL = {metadata = 1, quantity = 2, key = 3, member = 4, late = 5, outcome = 6},
  ALTERNATIVE = {holds = 1, record = 2},
  USAGE_GROUP = {f = 1, q = 2, b = 3, pe = 4, ro = 5},
  STATEMENT = {lease = 1, number = 2, used = 3, held = 4},
  NOTE = {once = 1, fields = 2},
}
-- About how many entries a slot's outbox keeps (src/store/scripts/entries.rs; outbox.lua).
local OUTBOX_MAXLEN = '100000'
