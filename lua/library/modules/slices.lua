-- slices.lua: a member's slices of its ancestors' groups (docs/decisions/0060-leased-slices.md);
-- after runs.lua and before prelude.lua, whose reclaim settles holds on slices.
--
-- A slice is leased by an ancestor (take_slice.lua, at the ancestor's slot) and spent here, in
-- the member's slot, by holds like any other: a hold on a slice is a hold of the ancestor's
-- group whose mode is "l/<ancestor's version>" (holds.lua) and whose counter field is the
-- slice's, "^<ancestor, base64url>^<group>@<period start>". In the member's counters hash:
--   "<slice>"          its SLICE line while it is live: amount, ends, version, lease, statements,
--                      and the ancestor's counter when it was leased
--   "<slice>:u", ":h"  used and held on the live slice, a counter's
--   "<slice>:e"        how many holds on the live slice expired (prelude.lua's reclaim)
--   "<slice>:m"        the id of the live slice's mark in the outbox (below), which its close
--                      removes
--   "<slice>:d"        what the last slice closed met (used and held), when it was to end and
--                      when it was placed, "<demand>/<ends>/<placed>": they size the next,
--                      whichever call asks for it
--   "<slice>^<lease>:u", ":h", ":n", ":e"
--                      a closed lease's used, held, statements and expired holds, while holds
--                      placed on it before it closed are open (commit, release and expiry move
--                      them there): pruned STATED_KEEP_MS after the last has been committed
--                      or released, or, when one expired (it may be committed late), once no
--                      record of them can be left: MAX_HOLD_LIFE_MS and the retention after
--                      the close
-- A reservation's record names the lease each of its slice holds was placed on ("sl": hold's
-- index -> lease id), so its commit finds the counters of that lease, live or closed.
--
-- What crosses to the ancestor's slot goes through this slot's outbox, written in the same
-- step as the change: a statement ("slice": ancestor, lease, number, used, held; cumulative,
-- so applying it twice or late changes nothing, settle_slice.lua) and an intent ("lease": the
-- lease a reserve found short asks to take). Statements' ids join the call's `fired`, which the
-- node moves after the call as it moves alerts; intents are the short answer's. A placed
-- slice leaves a mark ("placed": its field, lease and end), which the sweeper takes to
-- end_slice.lua once the slice has ended, so a slice no call of its member closes still gives
-- back what it did not spend. The close removes it: a renewing member's marks would otherwise
-- each cost the sweeper a call, every one of them in one burst per sweep.

local S = {}
do
  -- How long a closed lease's fields outlive its last statement (ms): the node settles it right
  -- after the call, or the sweeper does (10 s after it was written, every minute) when that
  -- node died, and until then the team's usage reads the lease's use from these fields
  -- (src/gateway/data/slice_ends.rs's current_slices).
  local STATED_KEEP_MS = 120000

  -- The ancestor (as the field names it) of a slice's field.
  local function ancestor(f)
    return string.match(f, '^%^([^^]+)%^')
  end

  -- Writes a statement of `lease` of the ancestor of slice field `f` into the outbox; answers
  -- its entry's id.
  local function state(c, f, lease, n, used, held)
    return outbox(c, true, 'type', 'slice', 'tag', string.match(c.KEYS[KEY_COUNTERS], '{(.*)}'), 'p', ancestor(f),
      'ls', lease, 'n', string.format('%d', n), 'u', string.format('%d', used), 'h', string.format('%d', held))
  end

  S.state, S.ancestor = state, ancestor

  -- Whether a live slice's `line` serves holds of version `version` at `now`.
  function S.live(line, version, now)
    local s = {string.match(line, SLICE_LINE)}
    return s[SLICE.v] == version and s[SLICE.x] + 0 > now
  end

  -- Closes the live slice of hold h (its line, used and held as read): a statement of what it
  -- used and still holds; what its open holds hold stays leased, on fields of its lease, where
  -- their commits, releases and expiries move it. So do the fields of a slice a hold on which
  -- expired: its late commit counts there, and their next statement follows this one (a late
  -- commit on fields made anew would state a number the lease has seen, and count nothing).
  -- They are pruned once no hold of theirs can change (head.lua's MAX_HOLD_LIFE_MS), or soon
  -- after their last statement (S.stated), so a member renewing all day keeps a few minutes'
  -- worth of them, not a period's.
  -- Answers what it used and holds (the demand it met, which sizes the next), then its lease,
  -- the statement's number, the statement's entry, when the slice was to end and when it was
  -- placed (the node tells from them how long the slice served that demand; 0 when unknown).
  function S.close(c, h, line, used, held)
    local s = {string.match(line, SLICE_LINE)}
    local n = s[SLICE.n] + 1
    local stated = state(c, h.f, s[SLICE.l], n, used, held)
    local marks = redis.call('HMGET', c.KEYS[KEY_COUNTERS], h.f .. ':e', h.f .. ':m')
    local expired, placed = marks[1], '0'
    if marks[2] then
      redis.call('XDEL', c.KEYS[KEY_OUTBOX], marks[2])
      -- The mark was written as the slice was placed: its id opens with that instant, ms.
      placed = string.match(marks[2], '^%d+')
    end
    if held > 0 or expired then
      local f = h.f .. '^' .. s[SLICE.l]
      -- (":e" is written even as 0: a closed lease an earlier build wrote has none, and its
      -- expired holds were never counted, so S.stated never prunes it early.)
      redis.call('HSET', c.KEYS[KEY_COUNTERS], f .. ':u', string.format('%d', used), f .. ':h', string.format('%d', held),
        f .. ':n', string.format('%d', n), f .. ':e', expired or '0')
      redis.call('ZADD', c.KEYS[KEY_PERIODS], 'NX', string.format('%d', c.now + MAX_HOLD_LIFE_MS), f)
    end
    redis.call('HDEL', c.KEYS[KEY_COUNTERS], h.f, h.f .. ':u', h.f .. ':h', h.f .. ':e', h.f .. ':m')
    redis.call('HSET', c.KEYS[KEY_COUNTERS], h.f .. ':d', string.format('%d', used + held) .. '/' .. s[SLICE.x] .. '/' .. placed)
    return used + held, s[SLICE.l], n, stated, s[SLICE.x], placed
  end

  -- Closes slice field `f` (its period ending at `pe`) when it is live under `lease` and has
  -- ended, or at once when `now`; answers 'early' when it has not ended (and not `now`).
  function S.close_ended(c, f, lease, pe, now)
    local line = redis.call('HGET', c.KEYS[KEY_COUNTERS], f)
    local s = line and {string.match(line, SLICE_LINE)}
    if s and s[SLICE.l] == lease then
      if not now and s[SLICE.x] + 0 > c.now then
        return 'early'
      end
      local v = redis.call('HMGET', c.KEYS[KEY_COUNTERS], f .. ':u', f .. ':h')
      S.close(c, {f = f, pe = pe}, line, (v[1] or 0) + 0, (v[2] or 0) + 0)
    end
  end

  -- Places the leases a reserve hands over (hold i's `place`: lease, amount, ends, intent) on
  -- their slices, before the holds are weighed; `counters` as read_counters read them, hold i's
  -- line at h.line. A lease is placed only while its intent is in the outbox (the sweeper
  -- abandons intents whose node died), and only where no live slice is: else the intent ends
  -- in a statement that the lease used nothing, so its ancestor takes it back. The statement
  -- its take applied (`stated`) leaves the outbox either way: it is settled.
  function S.place(c, holds, counters)
    for i = 1, #holds do
      local h = holds[i]
      local p = h.place
      if p and p.stated ~= '' then
        redis.call('XDEL', c.KEYS[KEY_OUTBOX], p.stated)
      end
      -- (Removing the intent tells whether it was there: XDEL counts what it removed.)
      if p and redis.call('XDEL', c.KEYS[KEY_OUTBOX], p.intent) == 1 then
        local line = counters[h.line]
        if line and S.live(line, h.sl, c.now) then
          state(c, h.f, p.lease, 1, 0, 0)
        else
          if line then
            S.close(c, h, line, counters[2 * i - 1], counters[2 * i])
          end
          line = p.amount .. '|' .. p.ends .. '|' .. h.sl .. '|' .. p.lease .. '|0|' .. p.seen
          -- Found by the sweeper once it has ended, if no call of the member's closes it first.
          local mark = outbox(c, false, 'type', 'placed', 'tag', string.match(c.KEYS[KEY_COUNTERS], '{(.*)}'),
            'p', ancestor(h.f), 'ls', p.lease, 'f', h.f, 'x', p.ends, 'pe', h.pe)
          redis.call('HSET', c.KEYS[KEY_COUNTERS], h.f, line, h.f .. ':m', mark)
          if h.pe ~= '' then
            redis.call('ZADD', c.KEYS[KEY_PERIODS], 'NX', h.pe, h.f)
          end
          counters[h.line], counters[2 * i - 1], counters[2 * i] = line, 0, 0
        end
      end
    end
  end

  -- A reserve whose only denials are short slices (7) decides nothing: each short slice is
  -- closed (when there is one) and an intent to take a lease for it is written. Answers
  -- {"short", count, then per short hold its SHORT: its index, the lease to take, the intent's
  -- id, what the last slice closed used and holds, when it was to end and when it was placed
  -- (0, 0 and 0 for none), and the statement this call wrote closing it, which the take
  -- applies; then the statements written (as alerts.lua appends alerts)}; nil when another
  -- group denies, so the reserve answers its denial.
  function S.short(c, holds, reply, counters, head)
    local denied = {}
    for i = 1, #holds do
      local d = reply[head + VERDICT_FIELDS * (i - 1) + VERDICT.denied]
      if d ~= 0 and d ~= 6 and d ~= 7 then
        return nil
      end
      denied[i] = d == 7
    end
    local answer, tag = {'short', 0}, string.match(c.KEYS[KEY_COUNTERS], '{(.*)}')
    for i = 1, #holds do
      if denied[i] then
        local h = holds[i]
        local k, line = #answer, counters[h.line]
        answer[k + SHORT.st], answer[k + SHORT.cl], answer[k + SHORT.n], answer[k + SHORT.u], answer[k + SHORT.h] =
          '', '', 0, 0, 0
        if line then
          local used, held = counters[2 * i - 1], counters[2 * i]
          local demand, closed, n, stated, ends, placed = S.close(c, h, line, used, held)
          answer[k + SHORT.d], answer[k + SHORT.x], answer[k + SHORT.b], answer[k + SHORT.st], answer[k + SHORT.cl],
            answer[k + SHORT.n] = demand, ends + 0, placed + 0, stated, closed, n
          answer[k + SHORT.u], answer[k + SHORT.h] = used, held
        else
          -- Closed by another call (racing this one, or a placement): the demand it met still
          -- sizes the next slice, whichever call takes it. (One written by an earlier build
          -- keeps the demand alone, or with its end: what it does not say reads as 0, unknown.)
          local demand, ends, placed = string.match(redis.call('HGET', c.KEYS[KEY_COUNTERS], h.f .. ':d') or '0',
            '^(%d+)/?(%d*)/?(%d*)$')
          answer[k + SHORT.d], answer[k + SHORT.x], answer[k + SHORT.b] =
            demand + 0, ends == '' and 0 or ends + 0, placed == '' and 0 or placed + 0
        end
        -- Named by the call's random part, not its whole id: the member's id (up to 256
        -- bytes, base64url in a reservation id) would otherwise be in every slice line, closed
        -- lease's field, statement and record naming the lease.
        local lease = 'l' .. string.match(c.ARGV[ARG.RESERVE.id], '[^.]*$') .. '.' .. i
        answer[k + SHORT.i], answer[k + SHORT.ls] = i, lease
        answer[k + SHORT.intent] = outbox(c, false, 'type', 'lease', 'tag', tag, 'p', ancestor(h.f), 'ls', lease)
        answer[2] = answer[2] + 1
      end
    end
    return answer
  end

  -- Points each slice hold of a record at the counters of the lease it was placed on: its
  -- slice's while that lease is live, else the closed lease's. Answers the holds on closed
  -- leases (nil for none), whose changes S.stated tells their ancestors.
  function S.fields(c, record)
    local closed
    for i, h in ipairs(record.h) do
      local lease = record.sl and record.sl[tostring(i)]
      if lease then
        local line = redis.call('HGET', c.KEYS[KEY_COUNTERS], h.f)
        if not line or ({string.match(line, SLICE_LINE)})[SLICE.l] ~= lease then
          closed = closed or {}
          closed[#closed + 1] = {f = h.f, lease = lease}
          h.f = h.f .. '^' .. lease
        end
      end
    end
    return closed
  end

  -- A statement of each closed lease whose counters a change moved (S.fields' answer). A lease
  -- left holding nothing, none of whose holds expired (":e" 0), has had its last statement (its
  -- holds were each committed or released, once): its fields are pruned STATED_KEEP_MS from now
  -- (prelude.lua's prune takes what `:periods` scores a retention ago).
  function S.stated(c, closed)
    for _, l in ipairs(closed or {}) do
      local f = l.f .. '^' .. l.lease
      local n = redis.call('HINCRBY', c.KEYS[KEY_COUNTERS], f .. ':n', 1)
      local v = redis.call('HMGET', c.KEYS[KEY_COUNTERS], f .. ':u', f .. ':h', f .. ':e')
      local held = (v[2] or 0) + 0
      state(c, l.f, l.lease, n, (v[1] or 0) + 0, held)
      if held == 0 and v[3] == '0' then
        redis.call('ZADD', c.KEYS[KEY_PERIODS], 'LT', string.format('%d', c.now + STATED_KEEP_MS - c.ARGV[ARG.WRITING.retention]), f)
      end
    end
  end
end

-- slices.lua ends --
