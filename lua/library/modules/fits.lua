-- fits.lua: what a call whose holds clamped was granted, written into its record by the
-- reserve that clamped them (reserve.lua), after holds.lua.
--
-- A hold that may clamp carries its curve in its mode, "f/<least amount>/<curve>" (holds.lua's
-- h.cv; src/quota/curve.rs draws and encodes it): how much of the call's elastic part (its
-- output in whole tokens, or its quantity in milli-units: "steps") any amount held covers.
-- "<least>,<full>,<base>,<per step>" opens it: the least and whole size in steps, and the
-- quantity granted at x steps, base + per step * x. Each piece follows as
-- ";<lo>,<a0>,<range>,<b>,<qd>,<rd>,<qe>,<re>": from step lo to the next piece's lo less one
-- (the last to full), where the amount is a0 at lo and up to a0 + range further on, and an
-- amount h >= a0 covers lo + d*qd + qe + floor((d*rd + re)/b) steps, d = min(h - a0, range)
-- (b 0: all of the piece). The node chose the numbers so that each is a whole number below 2^53,
-- which a double holds exactly.
--
-- The node encodes the record with blanks where the script decides: the quantity ("qt") and the
-- amount ("a") of each hold that may clamp, each "\1<what the node asked>\1". FIT.fill fills
-- them, in the order they come (the quantity, then those holds in order): what the call was
-- granted and what each clamped hold holds when the call is admitted with a clamp, else what the
-- node asked. So the record is written once, by the call that decided it.

local FIT = {}
do
  local BLANK = '\1(%d+)\1'

  -- The numbers of a curve's text, in order.
  local function numbers(text)
    local out = {}
    for n in string.gmatch(text, '%d+') do
      out[#out + 1] = n + 0
    end
    return out
  end

  -- floor(a / b) of whole numbers below 2^53: the double quotient, set right by one either way.
  local function over(a, b)
    local q = math.floor(a / b)
    if q * b > a then
      q = q - 1
    elseif (q + 1) * b <= a then
      q = q + 1
    end
    return q
  end

  -- The most steps `held` covers on curve `n` (its numbers): the last piece whose amount at
  -- its start is held decides; the least when none is.
  local function covered(n, held)
    local best = n[1]
    for p = 5, #n, 8 do
      local lo, a0, range, b = n[p], n[p + 1], n[p + 2], n[p + 3]
      local hi = n[p + 8] and n[p + 8] - 1 or n[2]
      if a0 <= held then
        if b == 0 then
          best = hi
        else
          local d = math.min(held - a0, range)
          best = math.min(hi, lo + d * n[p + 4] + n[p + 6] + over(d * n[p + 5] + n[p + 7], b))
        end
      end
    end
    return best
  end

  -- What the call is granted: of the holds that clamped (weigh kept their whole amount as
  -- h.whole), the least their held amounts cover, from the largest least size of theirs up;
  -- as a quantity on the first clamped hold's line (every hold's is the call's).
  local function granted(holds)
    local lowest, x, line = 0, nil, nil
    for i = 1, #holds do
      local h = holds[i]
      if h.whole then
        local n = numbers(h.cv)
        lowest, line = math.max(lowest, n[1]), line or n
        local covers = covered(n, h.a)
        x = x and math.min(x, covers) or covers
      end
    end
    x = math.max(x, lowest)
    return string.format('%d', line[3] + line[4] * x)
  end

  -- `tail` (the record as the node encoded it) with its blanks filled: when the call is
  -- admitted (`allowed` 1) and a hold clamped, the granted quantity and each clamped hold's
  -- amount; else what the node asked.
  function FIT.fill(tail, holds, allowed)
    if allowed ~= 1 or not holds.clamped then
      return (string.gsub(tail, BLANK, '%1'))
    end
    local quantity, k, fits = granted(holds), 0, {}
    for i = 1, #holds do
      if holds[i].cv then
        fits[#fits + 1] = holds[i]
      end
    end
    return (string.gsub(tail, BLANK, function(asked)
      k = k + 1
      if k == 1 then
        return quantity
      end
      local h = fits[k - 1]
      return h.whole and string.format('%d', h.a) or asked
    end))
  end
end

-- fits.lua ends --
