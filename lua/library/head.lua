-- head.lua: the library's own first lines, after shape.lua. The node loads the data plane as
-- one Redis function library (src/store/scripts/library.rs assembles it: shape.lua, this
-- file, the modules, then the functions, each in the order that file gives). Its name is
-- qg_<digest of its text>, so nodes of two builds never call each other's functions; every
-- function is registered as <library>_<name>, since function names are Redis-wide.
--
-- A library's locals live as long as the library: everything at this level is a constant or
-- a function, built once when Redis loads the library. What one call knows is in its context
-- `c`, made anew by `register`'s callback for every call and handed down to every function
-- that needs it:
--   c.KEYS, c.ARGV   the call's keys and arguments
--   c.now            Redis time in whole milliseconds, read once before anything else
--   c.fired          ids of the outbox entries the call fired (outbox.lua; nil until one)
--   c.wallets        the wallets the call loaded, by balance (wallet.lua; nil until it loads one)
--   c.marks          plan-change marks to clear when the wallets are saved (wallet.lua)
--   c.rollup_day, c.rollup_prefix   the day the call last rolled up, formatted (prelude.lua)
--   c.expired, c.expired_credits    what expired holds still hold (pending.lua)
-- A test (tests/it/library.rs) holds the library to this: no function assigns to a
-- library-level local, and the same call twice answers the same.

local LIBRARY = '@LIBRARY@'

-- How far a node's decision instant may be from Redis's time (ms): holds.lua's decided_at
-- accepts no more, and a rolling window (rolling.lua) counts and keeps sub-windows that far.
local DECISION_SKEW_MS = 2000

-- How far a subscription's start may lie ahead of a node's clock (ms; FUTURE_TOLERANCE_MS in
-- src/gateway/accounts/subscriptions.rs): an instant before a subscription's start counts in
-- its first period (Period::window), so holds.lua takes a period that begins up to this far
-- after the instant, and none further.
local START_LEAD_MS = 5000

-- The longest a reservation lives after its creation, extensions included (ms; MAX_LIFETIME_MS
-- in src/gateway/data/reservations.rs): no hold placed before a moment is open a day after it, so
-- what such holds may still change (a late commit, until retention has pruned their records)
-- is kept that long and the retention after it, and no longer (slices.lua's closed leases).
local MAX_HOLD_LIFE_MS = 172800000

-- The largest counter a double holds exactly (2^53 - 1 milli-units): a change that would pass
-- it is refused whole rather than counted inexactly (a counter's or a balance's debt).
local MAX_EXACT = 9007199254740991

-- The characters the library tells text apart by, as `string.byte` answers them: one name per
-- character, declared here once for every module (wallet.lua, the first, reads some), so no
-- code compares a byte with a bare number. Literals, since a library sees no global while it
-- loads; a test (library.rs) holds each to the character its comment names, and fails on a
-- `string.byte(...)` compared with a number anywhere in the library.
local BYTE_CARET = 94        -- '^'
local BYTE_a = 97            -- 'a'
local BYTE_b = 98            -- 'b'
local BYTE_f = 102           -- 'f'
local BYTE_l = 108           -- 'l'
local BYTE_r = 114           -- 'r'
local BYTE_OPEN_BRACE = 123  -- '{'
local BYTE_CLOSE_BRACE = 125 -- '}'
local BYTE_TILDE = 126       -- '~'

-- Registers `body` as the function <library>_<name>. `access` is 'reads' for a function that
-- never writes (it may then run where writes are refused) or 'writes'.
local function register(name, access, body)
  redis.register_function{
    function_name = LIBRARY .. '_' .. name,
    flags = access == 'reads' and {'no-writes'} or {},
    callback = function(keys, args)
      local t = redis.call('TIME')
      -- (`fired` and `wallets` named, though nil, so the table is made with room for them.)
      return body({KEYS = keys, ARGV = args, now = t[1] * 1000 + math.floor(t[2] / 1000), fired = nil, wallets = nil})
    end,
  }
end

-- head.lua ends --
