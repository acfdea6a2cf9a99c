-- takes.lua: how take_slice.lua sizes a member's new slices and writes their leases, at the
-- parent's level (docs/decisions/0060-leased-slices.md); after statements.lua, whose
-- statements a take applies first. A take's TAKE values (its lease's id, the least worth
-- leasing, the threshold, the closed slice's statement) begin at ARGV[first] for its first
-- hold, TAKE_FIELDS a take.

-- Where take i's TAKE values begin, less one, when the first take's begin after `first`.
local function take_at(first, i)
  return first + (i - 1) * TAKE_FIELDS
end

-- How long a take's new slices live, and how much each leases: one slice life near the limit,
-- and as many lives as the parent has twice the threshold free before this take, up to the
-- latest end, in every group taken (they end together). Capacity in an idle slice can deny
-- another member only once the parent is near its limit, and a busy member renews once per
-- life: far from the limit a longer life costs nobody anything and saves the renewals. Each
-- amount, asked for a slice life, grows with it (in whole units, as asked); what is left after
-- the threshold, up to what was asked, at least the least. Answers the end and per new take
-- (not `known` to this level) its amount; nil when a group's headroom after the least would be
-- below the threshold (the take answers "direct", and writes nothing).
local function size_slices(c, holds, known, counters, quota_in_force, at, first)
  local ARGV = c.ARGV
  local base, latest = ARGV[ARG.TAKE_SLICE.cutoff] + 0, ARGV[ARG.TAKE_SLICE.latest] + 0
  local ends, lives = base, nil
  for i = 1, #holds do
    if not known[i] then
      local free = quota_in_force[i] - counters[2 * i - 1] - counters[2 * i]
      local more = math.floor(free / (2 * math.max(1, ARGV[take_at(first, i) + TAKE.th])))
      lives = lives and math.min(lives, more) or more
    end
  end
  local life = base - at
  if lives and lives > 1 and life > 0 then
    ends = math.max(base, math.min(latest, at + life * lives))
  end
  local amounts = {}
  for i = 1, #holds do
    if not known[i] then
      local used, held, quota = counters[2 * i - 1], counters[2 * i], quota_in_force[i]
      local t, a = first + (i - 1) * TAKE_FIELDS, holds[i].a + 0
      local grown = ends == base and a or math.ceil(a * (ends - at) / life / 1000) * 1000
      local amount = math.min(grown, quota - used - held - ARGV[t + TAKE.th])
      if quota == 0 or amount < ARGV[t + TAKE.least] + 0 or amount <= 0 then
        return nil
      end
      amounts[i] = amount
    end
  end
  return ends, amounts
end

-- Each new take held on its group's counter (":h"), of which ":l" says how much is leased; its
-- record open until its backstop (later by as much as the slices' end is), which lowers
-- "~open" when it is nearer (prelude.lua). A take `known` to this level (a repeat) answers its
-- lease as it was taken. Answers per take its TAKEN: "ok", id, amount, ends, the group's used,
-- held and quota in force.
local function write_leases(c, holds, known, amounts, counters, quota_in_force, at, ends, first)
  local KEYS, ARGV, now = c.KEYS, c.ARGV, c.now
  local reply, backstop = {}, string.format('%d', ARGV[ARG.TAKE_SLICE.backstop] + (ends - (ARGV[ARG.TAKE_SLICE.cutoff] + 0)))
  for i = 1, #holds do
    local id, h, record, amount = ARGV[take_at(first, i) + TAKE.ls], holds[i], known[i], amounts[i]
    local used, held, quota = counters[2 * i - 1], counters[2 * i], quota_in_force[i]
    if record then
      amount = record.h[1].a + 0
    else
      h.a = string.format('%d', amount)
      local leased = redis.call('HGET', KEYS[KEY_COUNTERS], h.f .. ':l')
      held = held + amount
      write_fields(c, {h.f .. ':h', held, h.f .. ':l', (leased and leased + 0 or 0) + amount})
      record = {v = RECORD_VERSION, s = 'held', ls = ARGV[ARG.TAKE_SLICE.member], e = '', qt = h.a, c = string.format('%d', at),
        cr = string.format('%d', now), x = backstop, sx = string.format('%d', ends), sn = '0', su = '0', sk = h.a,
        h = {h}}
      redis.call('HSET', KEYS[KEY_RESERVATIONS], id, cjson.encode(record))
      redis.call('ZADD', KEYS[KEY_OPEN], backstop, id)
    end
    local j = #reply
    reply[j + TAKEN.status], reply[j + TAKEN.id], reply[j + TAKEN.amount], reply[j + TAKEN.ends] =
      'ok', id, amount, record.sx + 0
    reply[j + TAKEN.used], reply[j + TAKEN.held], reply[j + TAKEN.quota] = used, held, quota
  end
  local open = redis.call('HGET', KEYS[KEY_COUNTERS], '~open')
  if open and backstop + 0 < open + 0 then
    redis.call('HSET', KEYS[KEY_COUNTERS], '~open', backstop)
  end
  return reply
end

-- takes.lua ends --
