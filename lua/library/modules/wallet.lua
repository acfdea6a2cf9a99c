-- wallet.lua: credits, after shape.lua and before prelude.lua (whose reclaim gives expired holds
-- of credits back). A subject's grants of one balance are its wallet: field "w|<balance>" of
-- the counters hash (KEY_COUNTERS), so every script of the data plane reaches it with the keys it
-- already has, in the subject's slot.
--
-- A wallet is text (save and C.encode say its lines): its debt, what reserves overdrew beyond
-- the grants, its low-balance alerts and the debt paid waiting for the ledger; then its grants
-- in burn order, each with its id, burn key, effective time, expiry ("" never) and its amounts
-- in milli-units: a granted, r remaining, h held, c consumed, e expired, v voided;
-- a = r + h + c + e + v always.
-- The burn key is made by the node (src/quota/credit.rs, burn_key): priority, expiry (none last),
-- promotional before paid, effective time, grant id, so one string order is the burn order.
-- A grant stays in the wallet while it has anything remaining or held; the grant scripts move
-- finished ones to the grants hash, so a wallet holds at most the live grants and those that
-- finished since the last grant was made.
--
-- A reservation that held credits records it per group in its top-level "w":
-- {"<group>": {"b": balance, "g": [[grant id, milli], ...], "o": milli overdrawn}}.
--
-- The quick path. Beside the text, every call that writes a wallet writes what a reserve
-- decides and answers on as one line, "w|<balance>|q" (C.quick says its fields): the sums,
-- the first usable grant in burn order (its head) with what it has remaining, the instant
-- they hold until (the next start or expiry of a grant), the low-balance amount a fall would
-- fire, and the allowances open. A reserve whose amount fits, wholly and with something left,
-- on the head, and fires nothing, decides from that line (read in the counters' HMGET) and
-- holds by adding its amount to the journal "w|<balance>|j": the text is neither read nor
-- written (prelude.lua's read_counters, C.weigh, reserving.lua's admit_counters,
-- C.hold_reserved and C.append_reserved). Every other call that reads the wallet first moves the journal onto
-- the head grant (its remaining less it, its held more), and every write sets the journal back
-- to 0 with a new line. A wallet read in a call is never held on the quick path by the same
-- call (read_counters skips it), so a journal written is never overwritten. (A reserve that
-- parsed the text, even lazily up to the grant it held on, cost 1.8 to 2.8 times one without
-- a balance group; BENCHMARKS.md.)
-- The text's first line has a seventh field, "q", which the versions before the quick path
-- cannot read (they answer an error for such a wallet): one of them would neither move nor
-- keep the journal, so it is refused rather than let hold the same credits twice.
--
-- The functions are C's, built once when the library loads; what a call loaded (its wallets,
-- the plan-change marks to clear) is in the call's context `c`, never here.

local C = {}
do
  -- The wallet of `balance`, read once per call, whole (C.whole), with the quick path's
  -- journal moved onto the grant it held on. Only the first line's WALLET fields are read:
  -- a wallet written before the quick path has those or five more (sums a reserve read lazily
  -- then), one written since those and "q" (see the header).
  local function wallet(c, balance, now)
    -- (The call's wallets are made with its first: most calls load none.)
    local wallets = c.wallets
    if not wallets then
      wallets = {}
      c.wallets = wallets
    end
    local w = wallets[balance]
    if w then
      return w
    end
    local key = 'w|' .. balance
    local got = redis.call('HMGET', c.KEYS[KEY_COUNTERS], key, key .. '|q', key .. '|j')
    local raw = got[1]
    if not raw then
      w = {g = {}, d = 0, oh = 0, now = now, whole = true}
      wallets[balance] = w
      return w
    end
    local v = {string.match(raw, WALLET_LINE)}
    if #v ~= WALLET_FIELDS + 1 then
      error({err = 'ERR qg contract: the wallet of ' .. balance .. ' is not a wallet'})
    end
    local at = string.find(raw, '\n', v[WALLET_FIELDS + 1], true) or #raw + 1
    local t, ag, lf, dq = v[WALLET.t], v[WALLET.ag], v[WALLET.lf], v[WALLET.dq]
    w = {g = {}, d = v[WALLET.d] + 0, oh = v[WALLET.oh] + 0, now = now, raw = raw, start = at,
      t = t ~= '' and t or nil, ag = ag ~= '' and ag or nil, lf = lf ~= '' and lf or nil, dq = dq ~= '' and dq or nil}
    local journal = got[3]
    if journal and journal ~= '0' then
      -- The head the quick line named holds what the journal says.
      w.jid, w.jm = got[2] and select(QUICK.id, cmsgpack.unpack(got[2])), journal + 0
      if not w.jid or w.jid == '' then
        error({err = 'ERR qg contract: the journal of ' .. balance .. ' names no grant'})
      end
    end
    wallets[balance] = w
    return C.whole(c, w)
  end

  -- Takes up to `need` from what usable grants (remaining, effective, unexpired, not voided)
  -- have remaining, in burn order, into their held (`into` "h": a reserve) or consumed ("c": a
  -- burn), noting each grant taken from in `list` ({id, milli}, and a burn's category and cost
  -- basis for the ledger). Answers what is left.
  local function draw(c, w, need, now, into, list)
    for _, g in ipairs(w.g) do
      if need <= 0 then
        break
      end
      if g.r > 0 and not g.vd and g.f + 0 <= now and (g.x == '' or g.x + 0 > now) then
        local take = math.min(g.r, need)
        g.r, g[into], need = g.r - take, g[into] + take, need - take
        list[#list + 1] = into == 'h' and {g.i, string.format('%d', take)}
          or {g.i, string.format('%d', take), g.cat or '', g.cb or ''}
      end
    end
    return need
  end

  -- Whether `amount` fits what is available (C.available) with `overdraft` beyond it, less
  -- what other reserves already overdrew; check's `pending` adds back what expired
  -- reservations still hold (C.pending).
  local function fits(c, w, balance, amount, overdraft, now, pending)
    local available = C.available(c, w, now)
    if pending then
      available = available + C.pending(c, w, balance, now, pending)
    end
    return available + overdraft - w.oh >= amount
  end

  -- Holds `amount` on the grants in burn order and overdraws the rest (the caller checked it
  -- fits). Answers the record's part: {"b": balance, "g": [[id, milli], ...], "o": milli}.
  local function hold(c, w, balance, amount, now)
    local taken = {}
    local need = draw(c, w, amount + 0, now, 'h', taken)
    w.oh = w.oh + need
    return {b = balance, g = taken, o = need == 0 and '0' or string.format('%d', need)}
  end

  -- Writes back every wallet this call loaded (a wallet read and not changed is written the
  -- same), after judging its low-balance alerts (when it `fires`, C.low_balance) and, with `log`,
  -- writing what waits for the ledger (C.log), in one HSET: its text (C.encode), its quick
  -- line (C.quick) and its journal, 0 (wallet moved it onto its grant).
  local function save(c, now, fires, log)
    local out = {}
    -- (`out`, empty still, stands for the wallets of a call that loaded none.)
    for balance, w in pairs(c.wallets or out) do
      if w.t then
        C.low_balance(c, balance, w, now, fires)
      end
      if log then
        C.log(c, balance, w, now)
      end
      local key = 'w|' .. balance
      out[#out + 1] = key
      out[#out + 1] = C.encode(c, w)
      out[#out + 1] = key .. '|q'
      out[#out + 1] = C.quick(c, w, now)
      out[#out + 1] = key .. '|j'
      out[#out + 1] = '0'
    end
    if #out > 0 then
      redis.call('HSET', c.KEYS[KEY_COUNTERS], unpack(out))
    end
    -- Plan-change marks the saved wallets applied (C.open). (rawget: a missing field of C
    -- would build the functions only some calls need.)
    local marks = c.marks
    if marks then
      redis.call('HDEL', c.KEYS[KEY_COUNTERS], unpack(marks))
      c.marks = nil
    end
  end

  -- Appends, per balance hold, its balance's state (C.state): available, held (on grants and
  -- overdrawn), debt, the soonest expiry's amount and instant ("" for none). Holds are
  -- reserve's and track's (with `b`) or a record's, whose balance is in its part of the
  -- record's "w" (`parts`) or, for a hold it did not hold credits for, its mode. (Reserve
  -- answers with C.append_reserved.)
  local function append(c, reply, holds, parts, now, pending)
    for i = 1, #holds do
      local h = holds[i]
      -- (A step's hold drawn from its run held no credits: its record's mode names its balance.)
      local b = h.b or (parts and parts[h.g] and parts[h.g].b) or (h.m and string.match(h.m, '^b/([^/]*)/'))
      if b then
        C.state(c, b, now, pending, reply)
      end
    end
    return reply
  end

  -- Remembers a balance hold's low-balance amounts and group in its wallet, so every call
  -- that changes the wallet, grants included, can judge them; and opens the allowance of its
  -- period (its quota in force, `quota`) unless it is open (C.open). Only reserve, check and
  -- track open one (check's is not kept).
  local function watch(c, w, h, quota, now)
    if h.t then
      w.t, w.ag = h.t, h.g
    end
    if quota == 0 and not h.ro then
      return
    end
    C.open(c, w, h, quota, now)
  end

  C.wallet, C.draw, C.fits, C.hold, C.save, C.append, C.watch = wallet, draw, fits, hold, save, append, watch

  -- A track's check that a balance's debt counts exactly too: the group of a burn that could
  -- take it past MAX_EXACT (refused before anything is written, as a counter's is), else nil.
  -- (Two groups may burn one balance: their amounts add up.)
  function C.past_exact(c, holds, now)
    local adding = {}
    for i = 1, #holds do
      local h = holds[i]
      if h.b and not h.rb then
        adding[h.b] = (adding[h.b] or 0) + h.a
        if wallet(c, h.b, now).d + adding[h.b] > MAX_EXACT then
          return h.g
        end
      end
    end
    return nil
  end

  -- A track's burns: each balance hold's amount burned in burn order, what nothing covers
  -- becoming debt (a track never denies), its low-balance amounts and allowance watched, and
  -- the wallets saved with what waits for the ledger. Answers what each group burned, for the
  -- ledger entry.
  function C.burn_tracked(c, holds, quota_in_force, now)
    local burned = {}
    for i = 1, #holds do
      local h = holds[i]
      if h.b and not h.rb then
        watch(c, wallet(c, h.b, now), h, quota_in_force[i], now)
        local grants, debt = C.burn(c, h.b, tonumber(h.a), now)
        burned[h.g] = {b = h.b, g = grants, d = string.format('%d', debt)}
      end
    end
    save(c, now, true, true)
    return burned
  end

  -- Every balance of a subject (balances.lua), in order: those its plan names (`named`), and
  -- those a grant was made in, which the grants hash (`grants_key`) keeps ("~balances",
  -- grant.lua), so a read never decodes every grant ever made. A subject whose grants were made
  -- before the names were kept has them found once by reading its grants, then kept.
  function C.balance_names(c, grants_key, named)
    local names, seen = {}, {}
    local function add(name)
      if not seen[name] then
        seen[name] = true
        names[#names + 1] = name
      end
    end
    for _, name in ipairs(named) do
      add(name)
    end
    local known = redis.call('HGET', grants_key, '~balances')
    if not known then
      known = '\n'
      local cursor = '0'
      repeat
        local page = redis.call('HSCAN', grants_key, cursor, 'MATCH', 'g_*', 'COUNT', 200)
        cursor = page[1]
        for j = 2, #page[2], 2 do
          local name = cjson.decode(page[2][j]).balance
          if not string.find(known, '\n' .. name .. '\n', 1, true) then
            known = known .. name .. '\n'
          end
        end
      until cursor == '0'
      if known ~= '\n' then
        redis.call('HSET', grants_key, '~balances', known)
      end
    end
    for name in string.gmatch(known, '[^\n]+') do
      add(name)
    end
    table.sort(names)
    return names
  end

  -- Weighs a balance hold h (holds.lua's weigh), whose `quota` in force is its allowance: it
  -- denies (1) when its wallet cannot cover the amount, with the amounts of earlier balance
  -- groups of this event on the same balance (`asked`, by balance: answered, made when first
  -- needed) and its overdraft; `pending` is what expired reservations still hold (check's,
  -- C.fits).
  -- The quick path (this file's header): a reserve decides from the balance's quick line
  -- (counters[h.fast], its journal after it) while it holds (its instant), the hold's alerts
  -- are the wallet's (a hold without any, as when a project tells no endpoint, leaves the
  -- wallet's as they are, and the line's highest armed amount still judges them) and its
  -- allowance is open, and the amount either does not fit (a denial) or fits on the head with
  -- something left and fires nothing. Its decision is what the wallet's functions would decide,
  -- and h.fast becomes what the reserve holds on and answers with (its journal, C.hold_reserved,
  -- C.append_reserved): the head, the journal (which grows by the hold) and the line's values.
  function C.weigh(c, h, quota, counters, pending, asked)
    local now, denied = c.now, 0
    local line, fast = h.fast and counters[h.fast], nil
    if line then
      local q = {cmsgpack.unpack(line)}
      local nx, opened = q[QUICK.nx], q[QUICK.opened]
      if #q == QUICK_FIELDS and (nx == '' or nx > now)
        and (not h.t or (h.t == q[QUICK.t] and h.g == q[QUICK.ag]))
        and ((quota == 0 and not h.ro)
          or string.find(opened, '\n~' .. h.f .. '=' .. string.format('%d', quota) .. '\n', 1, true)) then
        local a, j = h.a + 0, (counters[h.fast + 1] or 0) + 0
        local available = q[QUICK.av] - j
        if available + h.od - q[QUICK.oh] < a then
          fast, denied = true, 1
        elseif a > 0 and a < q[QUICK.hr] - j and available - a > q[QUICK.armed] then
          fast = true
        end
        if fast then
          fast = {head = q[QUICK.id], journal = j, line = q}
        end
      end
    end
    h.fast = fast
    if not fast then
      -- (Only here: a balance on the quick path is held by no other hold of the event.)
      asked = asked or {}
      asked[h.b] = (asked[h.b] or 0) + h.a
      local w = wallet(c, h.b, now)
      watch(c, w, h, quota, now)
      if not fits(c, w, h.b, asked[h.b], h.od, now, pending) then
        denied = 1
      end
    end
    return denied, asked
  end

  -- The quick path's side of an admitting reserve (reserve.lua), two steps of it (reserving.lua's
  -- admit_counters adds a quick hold's amount to its balance's journal).
  -- Its record's part: the grants each balance hold holds on, in burn order, as
  -- {"<group>": {"b": balance, "g": [[grant id, milli], ...], "o": milli overdrawn}} (this
  -- file's header), written out as `"w":{...},`. A hold on the quick path held wholly on the
  -- head (its journal written with the counters); the others on their wallets, which are saved.
  -- (Written out: group ids, balance names, grant ids and amounts need no escaping in JSON.)
  function C.hold_reserved(c, holds, now)
    local parts, loaded = {}, false
    for i = 1, #holds do
      local h = holds[i]
      if h.fast then
        parts[#parts + 1] = '"' .. h.g .. '":{"b":"' .. h.b .. '","g":[["' .. h.fast.head .. '","' .. h.a .. '"]],"o":"0"}'
      elseif h.b and not h.rb then
        loaded = true
        parts[#parts + 1] = '"' .. h.g .. '":' .. cjson.encode(hold(c, wallet(c, h.b, now), h.b, h.a, now))
      end
    end
    if loaded then
      save(c, now, true)
    end
    return '"w":{' .. table.concat(parts, ',') .. '},'
  end

  -- Its answer, after the alerts: per balance hold its BALANCE, a hold on the quick path from
  -- its quick line and journal as weigh made them (the line's values, the journal with this
  -- hold), the others from their wallets (C.state).
  function C.append_reserved(c, holds, reply, now)
    for i = 1, #holds do
      local h = holds[i]
      local q, n = h.fast, #reply
      if q then
        local line, j = q.line, q.journal
        reply[n + BALANCE.available], reply[n + BALANCE.held], reply[n + BALANCE.debt] =
          math.max(0, line[QUICK.av] - j), line[QUICK.held] + j, line[QUICK.d]
        reply[n + BALANCE.soonest], reply[n + BALANCE.soonest_at] =
          line[QUICK.soon] and line[QUICK.ss] - j or line[QUICK.ss], line[QUICK.sa]
      elseif h.b then
        C.state(c, h.b, now, nil, reply)
      end
    end
    return reply
  end

  -- A grant's fields that are text, absent when empty (the rest are its id, burn key and
  -- times, kept as they are, and its AMOUNTS, which a grant keeps under the same names).
  local TEXTS = {'cat', 'cb', 'el', 'vl', 'vd', 'oa', 'l'}
  -- (Infinity, written as 1 / 0: a library sees no global, math included, while it loads.)
  local NEVER = 1 / 0

  local function expired(c, g, now)
    return g.x ~= '' and g.x + 0 <= now
  end

  local function usable(c, g, now)
    return g.r > 0 and not g.vd and g.f + 0 <= now and not expired(c, g, now)
  end

  -- Reads every grant line of a wallet. What the quick path's journal holds ("jid", "jm")
  -- moves onto its grant first. What a grant past its expiry had remaining is ended
  -- (breakage); what it holds stays held, for the commits of calls admitted against it.
  function C.whole(c, w)
    if w.whole then
      return w
    end
    local at, raw, now, jid = w.start, w.raw, w.now, w.jid
    w.whole = true
    while raw and at <= #raw do
      -- Its GRANT by name, then where the next line starts.
      local v = {string.match(raw, GRANT_LINE, at)}
      if #v ~= GRANT_FIELDS + 1 then
        error({err = 'ERR qg contract: a grant of a wallet is malformed'})
      end
      local g = {i = v[GRANT.i], k = v[GRANT.k], f = v[GRANT.f], x = v[GRANT.x]}
      for name in pairs(AMOUNTS) do
        g[name] = v[GRANT[name]] + 0
      end
      for _, name in ipairs(TEXTS) do
        local text = v[GRANT[name]]
        if text ~= '' then
          g[name] = text
        end
      end
      local i, after = g.i, v[GRANT_FIELDS + 1]
      if i == jid then
        -- The quick path held on it only what it had remaining, so none goes below zero.
        g.r, g.h, jid = g.r - w.jm, g.h + w.jm, nil
      end
      if g.r > 0 and expired(c, g, now) then
        C.lapse(c, g)
      end
      w.g[#w.g + 1] = g
      at = after
    end
    if jid then
      error({err = 'ERR qg contract: the journal names grant ' .. jid .. ', which its wallet has not'})
    end
    return w
  end

  -- A whole wallet as it is kept (see save): its first line, then a line per grant.
  function C.encode(c, w)
    local head = {}
    head[WALLET.d], head[WALLET.oh] = string.format('%d', w.d), string.format('%d', w.oh)
    head[WALLET.t], head[WALLET.ag], head[WALLET.lf], head[WALLET.dq] = w.t or '', w.ag or '', w.lf or '', w.dq or ''
    -- The mark that the wallet has a quick line (see the header).
    head[WALLET_FIELDS + 1] = 'q'
    local out = {table.concat(head, '|', 1, WALLET_FIELDS + 1)}
    for i, g in ipairs(C.whole(c, w).g) do
      local line = {}
      line[GRANT.i], line[GRANT.k], line[GRANT.f], line[GRANT.x] = g.i, g.k, g.f, g.x
      for name in pairs(AMOUNTS) do
        line[GRANT[name]] = string.format('%d', g[name])
      end
      for _, name in ipairs(TEXTS) do
        line[GRANT[name]] = g[name] or ''
      end
      out[i + 1] = table.concat(line, '|', 1, GRANT_FIELDS)
    end
    return table.concat(out, '\n')
  end

  -- The quick line of a whole wallet at `now` (see the header), its fields packed with
  -- cmsgpack (read with one unpack in C, where matching them as text cost a reserve about
  -- 9,000 instructions): the instant it holds until ("nx": the next start or expiry of a
  -- grant with anything remaining, "" never, 0 already passed), available (what usable
  -- grants have remaining less debt), what was overdrawn, held (on grants and overdrawn),
  -- debt, the soonest expiry's instant ("" none) and what expires then, whether the head's
  -- expiry is that one, the low-balance amounts and their group ("" none), the highest
  -- amount a fall would fire (-2 when the wallet has none), the head's id and remaining
  -- ("" and 0 without one), then the ids of its allowances with their own amounts
  -- ("<id>=<milli>"), each after "\n" and the last with one after it too.
  function C.quick(c, w, now)
    C.sums(c, w, now)
    local head, opened = nil, {''}
    for _, g in ipairs(w.g) do
      if not head and usable(c, g, now) then
        head = g
      end
      if string.byte(g.i) == BYTE_TILDE then
        -- With its own amount: a reserve whose quota in force is another (a plan change, an
        -- override) takes the slow path, where C.open moves the allowance to it.
        opened[#opened + 1] = g.i .. '=' .. (g.oa or '')
      end
    end
    local armed = -2
    if w.t then
      -- Every amount not marked as fired (C.low_balance) fires when what is available falls
      -- to it, 0 (depleted) among them; -1 when every one is marked.
      local marked = {}
      armed = -1
      for t in string.gmatch(w.lf or '', '%d+') do
        marked[t + 0] = true
      end
      for t in string.gmatch(w.t .. ',0', '%d+') do
        t = t + 0
        if not marked[t] and t > armed then
          armed = t
        end
      end
    end
    opened[#opened + 1] = ''
    local q = {}
    q[QUICK.nx], q[QUICK.av], q[QUICK.oh], q[QUICK.held] = w.nx == '' and '' or w.nx + 0, w.sr - w.d, w.oh, w.oh + w.sh
    q[QUICK.d], q[QUICK.sa], q[QUICK.ss] = w.d, w.sa, w.ss
    q[QUICK.soon] = head ~= nil and head.x ~= '' and head.x == w.sa
    q[QUICK.t], q[QUICK.ag], q[QUICK.armed] = w.t or '', w.ag or '', armed
    q[QUICK.id], q[QUICK.hr] = head and head.i or '', head and head.r or 0
    q[QUICK.opened] = table.concat(opened, '\n')
    return cmsgpack.pack(unpack(q, 1, QUICK_FIELDS))
  end

  -- Works out a whole wallet's sums at `now`: what usable grants have remaining ("sr"),
  -- what all grants hold ("sh"), the soonest expiry of a usable grant ("sa", "" none) and
  -- what they have remaining then ("ss"), and the next instant a grant with anything
  -- remaining starts or expires ("nx", "" never), until which they hold.
  function C.sums(c, w, now)
    local sr, sh, sa, ss, nx = 0, 0, '', 0, NEVER
    for _, g in ipairs(w.g) do
      sh = sh + g.h
      if g.r > 0 and not g.vd then
        local f = g.f + 0
        if f > now then
          nx = math.min(nx, f)
        elseif expired(c, g, now) then
          -- (Ended when read: none is left. Were one, the quick line would not hold.)
          nx = 0
        else
          sr = sr + g.r
          if g.x ~= '' then
            local x = g.x + 0
            nx = math.min(nx, x)
            if sa == '' or x < sa + 0 then
              sa, ss = g.x, g.r
            elseif g.x == sa then
              ss = ss + g.r
            end
          end
        end
      end
    end
    w.sr, w.sh, w.sa, w.ss, w.nx = sr, sh, sa, ss, nx == NEVER and '' or string.format('%d', nx)
  end

  -- What can be spent now: remaining on effective, unexpired grants, less debt.
  function C.available(c, w, now)
    local sum = 0
    for _, g in ipairs(w.g) do
      if usable(c, g, now) then
        sum = sum + g.r
      end
    end
    return sum - w.d
  end

  -- What `pending` (grant id, or "~oh|<balance>" for what was overdrawn, -> milli) still
  -- holds on usable grants for reservations that expired and no writing call returned yet
  -- (check.lua's, which writes nothing).
  function C.pending(c, w, balance, now, pending)
    local back = 0
    for _, g in ipairs(C.whole(c, w).g) do
      local p = pending[g.i]
      if p and not g.vd and g.f + 0 <= now and not expired(c, g, now) then
        back = back + p
      end
    end
    return back + (pending['~oh|' .. balance] or 0)
  end

  -- Fires a balance's low-balance alert into the alerts outbox (KEY_OUTBOX, as alerts.lua's
  -- fire does, whose entries it shares): "low_balance" at an amount, "depleted" at 0, with
  -- the balance ("b"), the amount reached ("t") and what was available ("n"), in
  -- milli-units; the entry's id joins what the call fired (head.lua's note_fired).
  local function fire(c, balance, w, amount, available)
    local tag = string.match(c.KEYS[KEY_COUNTERS], '{(.*)}')
    local plan = redis.call('HGET', c.KEYS[KEY_SUBSCRIPTION], 'plan') or ''
    outbox(c, true, 'tag', tag, 'plan', plan, 'type', amount == 0 and 'depleted' or 'low_balance', 'g', w.ag or '',
      'k', '', 't', string.format('%d', amount), 'q', '0', 'n', string.format('%d', available), 'ps', '0', 'pe', '',
      'b', balance)
  end

  -- The low-balance alerts of a wallet (its "t", amounts in milli-units, and "lf", those
  -- that fired and were not re-armed): each fires once when what is available falls to or
  -- below it (0 is always one: depleted), among what the call fired, and is re-armed when what is
  -- available rises above it again. Without `fires` (a call that answers no alerts) nothing
  -- fires and nothing is marked: the next call that can fire finds the fall still unmarked.
  function C.low_balance(c, balance, w, now, fires)
    local available = math.max(0, C.available(c, w, now))
    local marked, marks, out = {}, {}, fires
    for t in string.gmatch(w.lf or '', '%d+') do
      marked[t + 0] = true
    end
    for t in string.gmatch(w.t .. ',0', '%d+') do
      t = t + 0
      if available > t then
        marked[t] = nil
      elseif out and not marked[t] then
        fire(c, balance, w, t, available)
        marked[t] = true
      end
    end
    for t in pairs(marked) do
      marks[#marks + 1] = string.format('%d', t)
    end
    table.sort(marks)
    w.lf = table.concat(marks, ',')
  end

  -- A balance's state for an answer from the whole wallet, its BALANCE appended to `reply`:
  -- available now, held (on grants and overdrawn), debt, and the soonest expiry: the remaining
  -- of the grants that expire first, and when.
  function C.state(c, balance, now, pending, reply)
    local w = C.whole(c, C.wallet(c, balance, now))
    local back = 0
    if pending then
      -- What expired reservations still hold counts as given back (a read-only script's,
      -- which writes nothing: the wallet in memory takes it once).
      for _, g in ipairs(w.g) do
        local p = pending[g.i]
        if p then
          back = back + p
          if not w.pended and not g.vd and g.f + 0 <= now and not expired(c, g, now) then
            g.r = g.r + p
          end
        end
      end
      w.pended = true
      back = back + (pending['~oh|' .. balance] or 0)
    end
    C.sums(c, w, now)
    local n = #reply
    reply[n + BALANCE.available], reply[n + BALANCE.held] = math.max(0, w.sr - w.d), math.max(0, w.oh + w.sh - back)
    reply[n + BALANCE.debt], reply[n + BALANCE.soonest], reply[n + BALANCE.soonest_at] = w.d, w.ss, w.sa
    return reply
  end

  -- Ends what a grant has remaining at its expiry; an allowance keeps what was left of it
  -- ("l"), for the next period's rollover.
  function C.lapse(c, g)
    if string.byte(g.i) == BYTE_TILDE then
      g.l = string.format('%d', g.r)
    end
    g.e, g.r = g.e + g.r, 0
  end

  -- Ledger entries of credits (KEY_LEDGER, trimmed as changes.lua's ledger trims
  -- it; none when the project keeps no ledger, ARGV[4] ""): `fields` as XADD takes them.
  function C.entry(c, now, fields)
    local keep_ms = c.ARGV[ARG.WRITING.keep]
    if keep_ms ~= '' then
      redis.call('XADD', c.KEYS[KEY_LEDGER], 'MINID', string.format('%d', now - keep_ms), '*', unpack(fields))
    end
  end

  -- Writes what a wallet changed that only its state remembers, for the calls whose node
  -- indexed the ledger (commit, track, the grant scripts): what grants expired ("grant_expired",
  -- breakage) and what was voided ("grant_void") since the last such call, by the watermarks
  -- "el" and "vl", and the debt grants paid ("debt_settled"). Other calls leave them waiting,
  -- so nothing is lost, only written by the next such call.
  function C.log(c, balance, w, now)
    for _, g in ipairs(w.g) do
      -- Allowances are the plan's, not sold: they leave no breakage.
      if string.byte(g.i) ~= BYTE_TILDE then
        for _, mark in ipairs({{'e', 'el', 'grant_expired'}, {'v', 'vl', 'grant_void'}}) do
          local amount, logged = g[mark[1]], (g[mark[2]] or '0') + 0
          if amount > logged then
            C.entry(c, now, {'kind', mark[3], 'ref', g.i, 'balance', balance,
              'credits', string.format('%d', amount - logged), 'category', g.cat or '', 'cost', g.cb or ''})
            g[mark[2]] = string.format('%d', amount)
          end
        end
      end
    end
    if w.dq then
      local burned = {}
      for item in string.gmatch(w.dq, '[^;]+') do
        burned[#burned + 1] = {string.match(item, '^([^,]*),([^,]*),([^,]*),([^,]*)$')}
      end
      C.entry(c, now, {'kind', 'debt_settled', 'balance', balance, 'burned', cjson.encode(burned)})
    end
    w.dq = nil
  end

  -- Pays debt from what grants have remaining, in burn order (a new grant pays debt first).
  -- What it paid waits in the wallet ("dq": "id,milli,category,cost;...") for a call that
  -- writes the ledger.
  function C.pay_debt(c, w, now)
    if w.d > 0 then
      local paid, items = {}, {w.dq}
      w.d = C.draw(c, C.whole(c, w), w.d, now, 'c', paid)
      for _, b in ipairs(paid) do
        items[#items + 1] = table.concat(b, ',')
      end
      w.dq = #items > 0 and table.concat(items, ';') or nil
    end
  end

  local function find(c, w, id)
    for _, g in ipairs(C.whole(c, w).g) do
      if g.i == id then
        return g
      end
    end
    return nil
  end

  -- Burns `amount` from what is available in burn order; what nothing covers becomes debt.
  -- Appends {id, milli} per grant burned to `burned`; answers the debt added.
  local function burn(c, w, amount, now, burned)
    local need = C.draw(c, C.whole(c, w), amount, now, 'c', burned)
    w.d = w.d + need
    return need
  end

  -- Gives a held part back to its grant: remaining again, or expired or voided when the grant
  -- has since expired or was voided.
  local function give(c, g, milli, now)
    g.h = math.max(0, g.h - milli)
    if expired(c, g, now) then
      g.e = g.e + milli
    elseif g.vd then
      g.v = g.v + milli
    else
      g.r = g.r + milli
    end
  end

  -- Settles one group's part of a commit: burns `actual` from the grants it held first (a
  -- grant that expired since may still be burned: the call was admitted against it), gives
  -- back the rest, burns more in burn order when the actual is more, and leaves what nothing
  -- covers as debt. Answers the grants burned ([[id, milli], ...]) and the debt added.
  function C.settle(c, part, actual, now)
    local w = C.wallet(c, part.b, now)
    local burned, need = {}, actual
    for _, held in ipairs(part.g) do
      local g, milli = find(c, w, held[1]), held[2] + 0
      if g then
        local take = math.min(milli, need)
        g.h, g.c, need = g.h - take, g.c + take, need - take
        if take > 0 then
          burned[#burned + 1] = {g.i, string.format('%d', take), g.cat or '', g.cb or ''}
        end
        if milli > take then
          give(c, g, milli - take, now)
        end
      end
    end
    w.oh = math.max(0, w.oh - part.o)
    local debt = burn(c, w, need, now, burned)
    C.pay_debt(c, w, now)
    return burned, debt
  end

  -- Gives one group's part of a released or expired reservation back.
  function C.give_back(c, part, now)
    local w = C.whole(c, C.wallet(c, part.b, now))
    for _, held in ipairs(part.g) do
      local g = find(c, w, held[1])
      if g then
        give(c, g, held[2] + 0, now)
      end
    end
    w.oh = math.max(0, w.oh - part.o)
    C.pay_debt(c, w, now)
  end

  -- Burns a tracked amount in burn order; never denies. Answers the grants burned and the
  -- debt added.
  function C.burn(c, balance, amount, now)
    local burned = {}
    local debt = burn(c, C.wallet(c, balance, now), amount, now, burned)
    return burned, debt
  end

  -- The grant scripts' part (grants hash `grants_key`): grants that finished (nothing
  -- remaining or held) leave the wallet, their final amounts kept as "n|<id>" =
  -- "a|r|h|c|e|v" beside their records. Answers how many live grants remain (allowances
  -- are not grants).
  function C.compact(c, w, grants_key, balance)
    local live, writes, grants, finished = {}, {}, 0, ''
    for _, g in ipairs(C.whole(c, w).g) do
      if string.byte(g.i) ~= BYTE_TILDE and (g.r > 0 or g.h > 0) then
        grants = grants + 1
      end
      if g.r > 0 or g.h > 0 or string.byte(g.i) == BYTE_TILDE then
        -- (An allowance has no record; it leaves when the next period's opens.)
        live[#live + 1] = g
      else
        local parts = {}
        for k, i in pairs(AMOUNTS) do
          parts[i] = string.format('%d', g[k])
        end
        writes[#writes + 1] = 'n|' .. g.i
        writes[#writes + 1] = table.concat(parts, '|')
        finished = finished .. g.i .. '\n'
      end
    end
    if #writes > 0 then
      -- The balance's last 100 finished grants, newest last, which balances.lua lists.
      local field = 'f|' .. balance
      local list = (redis.call('HGET', grants_key, field) or '') .. finished
      local _, count = string.gsub(list, '\n', '')
      if count > 100 then
        list = string.match(list, '^' .. string.rep('[^\n]*\n', count - 100) .. '(.*)$')
      end
      writes[#writes + 1] = field
      writes[#writes + 1] = list
      redis.call('HSET', grants_key, unpack(writes))
    end
    w.g = live
    return grants
  end

  -- A plan change's rule for allowance `g` of hold `h`'s period, as subscribe.lua marked it
  -- ("<field>:pc", "reset:<ms>" or "block:<ms>"): block lapses what it has left (the period
  -- is spent, as a blocked counter is filled to its quota), reset gives it its whole amount
  -- again less what is held. The mark goes when the wallet is saved (C.save), so a call that
  -- saves nothing (a check, a denial) leaves it for the next.
  local function plan_change(c, g, h, quota)
    local mark = redis.call('HGET', c.KEYS[KEY_COUNTERS], h.f .. ':pc')
    if not mark then
      return
    end
    if string.sub(mark, 1, 5) == 'block' then
      -- (Nothing of a blocked period rolls over.)
      g.e, g.r, g.l = g.e + g.r, 0, '0'
    else
      g.c, g.e, g.r = 0, 0, math.max(0, quota - g.h)
      g.a = g.r + g.h + g.v
    end
    c.marks = c.marks or {}
    c.marks[#c.marks + 1] = h.f .. ':pc'
  end

  -- Opens the allowance of balance hold `h`'s period: an entry "~<group>@<period start>"
  -- that burns before every grant (burn key "!"), from the period's start to its end, unless
  -- it is open. With a rollover, what was left of the previous period's own allowance (at
  -- most the rollover's max) is added; what was carried into that period carries no further.
  -- The group's previous allowances that hold nothing leave the wallet. A new allowance pays
  -- debt first, as a grant does.
  function C.open(c, w, h, quota, now)
    local id, prefix = '~' .. h.f, '~' .. h.g .. '@'
    local carry, kept = 0, {}
    for _, g in ipairs(w.g) do
      if g.i == id then
        -- Open already. When the quota in force changed (the user moved to another plan, an
        -- override came or went), the allowance follows it: what this period burned stays
        -- burned, what is left is the new amount less it (never below nothing left).
        local own = string.format('%d', quota)
        if g.oa ~= own then
          local more = quota - (g.oa or 0)
          g.a, g.r, g.oa = g.a + more, g.r + more, own
          if g.r < 0 then
            g.a, g.r = g.a - g.r, 0
          end
          C.pay_debt(c, w, now)
        end
        plan_change(c, g, h, quota)
        return
      end
      if string.sub(g.i, 1, #prefix) == prefix then
        -- The previous period's, ended now if a node's clock ran ahead of Redis's.
        if g.r > 0 then
          C.lapse(c, g)
        end
        if h.ro and g.x == h.ps then
          carry = math.min(h.ro, g.oa + 0, (g.l or '0') + 0)
        end
        if g.h > 0 then
          kept[#kept + 1] = g
        end
      else
        kept[#kept + 1] = g
      end
    end
    local a = quota + carry
    -- Usable at once: the node's instant is in the period even when Redis's clock lags it.
    table.insert(kept, 1, {i = id, k = '!', f = '0', x = h.pe, a = a, r = a, h = 0, c = 0, e = 0, v = 0,
      oa = string.format('%d', quota)})
    w.g = kept
    plan_change(c, kept[1], h, quota)
    C.pay_debt(c, w, now)
  end

  -- Adds a grant in its place in burn order (by its burn key), then lets it pay debt first.
  -- Answers the grant and the debt it paid.
  function C.add(c, w, grant, now)
    local at = #C.whole(c, w).g + 1
    for i, g in ipairs(w.g) do
      if grant.k < g.k then
        at = i
        break
      end
    end
    table.insert(w.g, at, grant)
    local debt = w.d
    C.pay_debt(c, w, now)
    return grant, debt - w.d
  end

  -- Appends a grant's AMOUNTS to `reply` (grant's and void_grant's answers).
  function C.amounts(c, g, reply)
    local n = #reply
    for k, i in pairs(AMOUNTS) do
      reply[n + i] = g[k]
    end
    return reply
  end

  -- Voids what a grant has remaining; what it holds is voided when given back.
  function C.void(c, g)
    if not g.vd then
      g.vd = '1'
      g.v, g.r = g.v + g.r, 0
    end
  end

  function C.find(c, w, id)
    return find(c, w, id)
  end
end

-- wallet.lua ends --
