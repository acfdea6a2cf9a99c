-- shape.lua: the first lines of every script. The node and the scripts agree on the shape of
-- each call through one declaration (src/store/scripts/contract.rs); a script checks that its
-- call has that shape before it reads or writes anything, and answers an error reply (never a
-- default) when it has not, so a node that packs arguments another way fails loudly.
--
-- The counted fields both sides name (a test holds these to the Rust constants of the same
-- names):
-- HOLD_FIELDS     values per hold: group, counter field, period start, period end, amount,
--                 quota, options (holds.lua)
-- OPTION_FIELDS   "|"-separated fields of a hold's options (holds.lua)
-- VERDICT_FIELDS  values per hold of a decision: used, held, quota in force, denied (holds.lua)
-- COUNTER_FIELDS  values per hold of an answer of counters: used, held, quota (counters.lua)
-- RECORD_VERSION  the encoding of the reservation records this code writes and reads (prelude.lua)
local HOLD_FIELDS, OPTION_FIELDS, VERDICT_FIELDS, COUNTER_FIELDS, RECORD_VERSION = 7, 6, 4, 3, '2'

-- Refuses a call whose keys or arguments are not as declared. After the number of keys, the
-- parts alternate: a fixed number of arguments (the last of which counts what follows, when
-- something does), then how many arguments each counted item takes, then again a fixed number,
-- and so on. Answers the counts read on the way, in order. A count is a decimal number; commit's
-- "" (commit as reserved) counts nothing.
local function shape(keys, ...)
  local parts, at, counts = {...}, 0, {}
  for i = 1, #parts, 2 do
    at = at + parts[i]
    local each = parts[i + 1]
    if each then
      local raw = ARGV[at]
      local n = raw == '' and 0 or (raw and string.match(raw, '^%d+$') and raw + 0)
      if not n then
        error({err = string.format('ERR qg contract: ARGV[%d] should count what follows, got %s', at, tostring(raw))})
      end
      counts[#counts + 1] = n
      at = at + n * each
    end
  end
  if #KEYS ~= keys or #ARGV ~= at then
    error({err = string.format('ERR qg contract: expected %d keys and %d arguments, got %d and %d', keys, at, #KEYS, #ARGV)})
  end
  return unpack(counts)
end

-- A reservation record decoded, refused when it is in an encoding this code does not know.
-- Records without a version are the first encoding, which differs from this one only in how
-- it writes a hold's measure, and Lua never reads a measure.
local function decode_record(raw)
  local record = cjson.decode(raw)
  if record.v ~= nil and record.v ~= RECORD_VERSION then
    error({err = 'ERR qg contract: a reservation record of encoding ' .. tostring(record.v) .. ', not ' .. RECORD_VERSION})
  end
  return record
end

-- shape.lua ends --
