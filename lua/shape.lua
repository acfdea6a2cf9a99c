-- shape.lua: the first lines of every script. The node and the scripts agree on the shape of
-- each call through one declaration (src/store/scripts/contract.rs); a script checks that its
-- call has that shape before it reads or writes anything, and answers an error reply (never a
-- default) when it has not, so a node that packs arguments another way fails loudly.
--
-- In the library, the layouts of what is packed by position come before it (their counts,
-- such as HOLD_FIELDS, among them): src/store/scripts/layouts.rs declares them.

-- Refuses a call whose keys or arguments are not as declared: `fixed` arguments, the last of
-- which counts the items that follow when `each` (arguments per item) is given; then `more`
-- fixed ones, the last of which counts a second run of items when `each2` is given; then `last`
-- fixed ones. Answers the counts. A count is a whole number; commit's "" (commit as reserved)
-- counts nothing. Plain arguments rather than a table, since this runs on every call. A script
-- run with EVALSHA passes its KEYS and ARGV, a function of the library its call's.
local function shape(KEYS, ARGV, keys, fixed, each, more, each2, last)
  local at, n, m = fixed or 0, nil, nil
  if each then
    local raw = ARGV[at]
    n = raw == '' and 0 or tonumber(raw)
    if not n or n < 0 or n % 1 ~= 0 then
      error({err = 'ERR qg contract: ARGV[' .. at .. '] should count what follows, got ' .. tostring(raw)})
    end
    at = at + n * each + (more or 0)
    if each2 then
      raw = ARGV[at]
      m = tonumber(raw)
      if not m or m < 0 or m % 1 ~= 0 then
        error({err = 'ERR qg contract: ARGV[' .. at .. '] should count what follows, got ' .. tostring(raw)})
      end
      at = at + m * each2 + (last or 0)
    end
  end
  if #KEYS ~= keys or #ARGV ~= at then
    error({err = string.format('ERR qg contract: expected %d keys and %d arguments, got %d and %d', keys, at, #KEYS, #ARGV)})
  end
  return n, m
end

-- Names a call's keys or arguments: `values` (KEYS or ARGV) from place `from` (1 when not
-- given) by `names`, in order, as a script's header lists them (`K.sub`, `A.plan`). The one
-- place a control script reads KEYS or ARGV by position; answers the names' table and the place
-- after them. `items` names `count` runs of `names` from `from` (a counted list of pairs, say)
-- and answers them in a list, and the place after them.
local function named(values, names, from)
  local t, at = {}, from or 1
  for i = 1, #names do
    t[names[i]] = values[at + i - 1]
  end
  return t, at + #names
end

local function items(values, from, count, names)
  local list, at = {}, from
  for k = 1, count do
    list[k], at = named(values, names, at)
  end
  return list, at
end

-- A reservation record in an encoding this code does not know is refused with an error where
-- one is decoded (the prelude's reclaim, changes.lua, pending.lua). Records without a version
-- are the first encoding, which differs from this one only in how it writes a hold's measure,
-- and Lua never reads a measure.
--
-- Those constants (RECORD_VERSION among them) are layouts.lua's alone: no other file declares
-- a copy of one (a test fails on one).

-- shape.lua ends --
