-- outbox.lua: every entry of a slot's outbox (KEY_OUTBOX, a stream) is written here, the first
-- of the modules, since all that write one come after it: alerts (alerts.lua, wallet.lua),
-- approval requests (approvals.lua) and what leases cross slots through (slices.lua,
-- changes.lua). An entry's fields are its type's, in their order (src/store/scripts/entries.rs,
-- by whose names the node reads them); the outbox keeps about OUTBOX_MAXLEN entries, so one no
-- node drains cannot grow without bound. The node moves the
-- entries a call fired after it (their ids end its answer: alerts.lua's append_fired), and
-- sweeps up what a node that died left.

-- Adds outbox entry `id` to those the call fired (`c.fired`), which its answer names, and
-- answers it. The list is made with the first: most calls fire none, and a table made for
-- every call costs each about a thousand Redis instructions.
local function note_fired(c, id)
  local fired = c.fired
  if fired then
    fired[#fired + 1] = id
  else
    c.fired = {id}
  end
  return id
end

-- Writes an entry to the slot's outbox, its fields and their values in pairs (`...`), in the
-- order its type declares them (src/store/scripts/entries.rs, which a test holds every call of
-- this to: its names, in their order, are one type's); answers its id, which joins those the
-- call fired when `fired`. (Passed through as they are: a table of fields by name, ordered
-- here, cost an entry some 19,000 Redis instructions more.)
local function outbox(c, fired, ...)
  local id = redis.call('XADD', c.KEYS[KEY_OUTBOX], 'MAXLEN', '~', OUTBOX_MAXLEN, '*', ...)
  if fired then
    note_fired(c, id)
  end
  return id
end

-- outbox.lua ends --
