-- Stores one transcript event and publishes it, in one step, so seq order is delivery order.
-- In:  {sessionId, from (buyer|agent|bot), actorId, clientMsgId ('' = none), text, ts, role,
--       enqueue, reclassify, botPerMinute, lifeMs, maxEvents, maxBytes, limits, vipBoostMs,
--       boostMs, stickyHoldMs, extra, botFirst, leftMessage} (absent: '', false or 0)
--   role:  buyer: the classified role; bot: an optional label.
--   enqueue: buyer: may enter the queue now (a `bot` session). reclassify: buyer: the role was
--          matched by a rule, so a waiting session moves there.
--   botFirst: buyer: `role` is bot-first (bots.mode): a line the bot answers keeps the session
--          with the bot and remembers the role ('bf'); entering the queue, the session keeps
--          its original arrival time (its first buyer line).
--   leftMessage: buyer: the role is outside its business hours: no queue timeout and no
--          abandonment while it waits ('lm').
--   botPerMinute: bot messages allowed per session per rolling minute.
--   lifeMs: an open (no longer `bot`) session's keys expire this long after its last event
--          (up to min(lifeMs / 10, 60 s) later: see the prelude's renewLife).
--   maxEvents / maxBytes: the transcript's cap (0 = none); a buyer or agent line past it is
--          `too_large`, a bot line is suppressed ('full').
--   limits: {buyerRate, buyerBurst, shopRate, shopBurst}: the buyer's and the shop's buckets
--          for buyer lines (see the prelude); absent: none.
--   vipBoostMs, boostMs: entering the queue, the session's place is its arrival less
--          vip × vipBoostMs less boostMs (ops' per-role boost); kept as 'prio' and 'boost'.
--   stickyHoldMs: see routing.sticky; 0 = off.
--   extra: the JSON of the line's {card?, attachments?} ('' = none), stored with it.
-- Out: {seq, duplicate, enqueued, role, position, movedFrom, suppressed, firstResponseMs,
--       state, replyMs}
--   state: the session's state after this message.
--   seq 0 with suppressed 'rate' or 'repeat': the bot message was not stored (no harassment).
--   replyMs: an agent line answering a waiting buyer: how long the buyer waited (-1: none).
-- Guarantees: one seq per stored line, stored and published in one step; a resend (same
-- sender and clientMsgId) answers the original seq and stores nothing. With lifeMs > 0, an
-- open session's keys (hash, transcript, message ids, the buyer's pointer and history index)
-- expire between lifeMs and lifeMs + min(lifeMs / 10, 60 s) after its last event.
local A = cjson.decode(ARGV[1])
local sid, from, actor, cmid, text, ts, role = A.sessionId, A.from, A.actorId or '', A.clientMsgId or '', A.text, A.ts, A.role or ''
local botPerMinute = A.botPerMinute or 0
local life, maxEvents, maxBytes = A.lifeMs or 0, A.maxEvents or 0, A.maxBytes or 0
local extra = A.extra or ''
local now = ts
local function reply(seq, duplicate, enqueued, qrole, position, movedFrom, suppressed, firstResponseMs, st, replyMs)
  return cjson.encode({
    seq = seq, duplicate = duplicate, enqueued = enqueued, role = qrole, position = position, movedFrom = movedFrom,
    suppressed = suppressed, firstResponseMs = firstResponseMs, state = st, replyMs = replyMs,
  })
end
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'buyer', 'agent', 'role', 'arrived', 'roles', 'firstAt', 'frAt', 'seq', 'bytes', 'renewedAt')
local state = s[1]
if not state or (from == 'buyer' and s[2] ~= actor) then
  fail('unknown_session', 'no session ' .. sid)
end
-- A resend is answered with the original seq even after the agent closed the chat (the
-- client only lacked the ack); once closed, the buyer's next message belongs to a new session.
-- Ids are de-duplicated per sender: the buyer, or one agent by its id, so the next agent
-- after a transfer may reuse ids. An agent's resend counts only while the chat is still its
-- own (or winding down); after a transfer it gets not_assigned from the holder check below.
local mkey = K.msgIds(sid)
local mfield = from == 'agent' and ('a:' .. actor .. ':' .. cmid) or (string.sub(from, 1, 1) .. ':' .. cmid)
if cmid ~= '' and state ~= 'closed' then
  local prev = redis.call('HGET', mkey, mfield)
  if prev and (from ~= 'agent' or ENDED[state] or (state == 'assigned' and s[3] == actor)) then
    return reply(tonumber(prev), true, false, s[4], 0, '', '', -1, state, -1)
  end
end
transition(from .. 'Message', sid, state, s[3], actor)

-- The transcript's cap, checked before anything is written.
if (maxEvents > 0 and tonumber(s[9] or '0') >= maxEvents) or (maxBytes > 0 and tonumber(s[10] or '0') + #text + #extra > maxBytes) then
  if from == 'bot' then return reply(0, false, false, s[4], 0, '', 'full', -1, state, -1) end
  fail('too_large', 'this chat has reached its transcript limit (' .. maxEvents .. ' events, ' .. maxBytes .. ' bytes); nothing was stored')
end
-- The last check, as it is the first write: a line refused for anything else costs no token.
if from == 'buyer' then limitBuyer(actor, A.limits, now) end

if from == 'bot' then
  -- Platform rules punish bots that spam: a rolling per-minute cap and no repeated text.
  local b = redis.call('HMGET', key, 'botTimes', 'botLast')
  if b[2] == text then return reply(0, false, false, s[4], 0, '', 'repeat', -1, state, -1) end
  local recent = {}
  for t in string.gmatch(b[1] or '', '[^,]+') do
    if tonumber(t) > now - 60000 then recent[#recent + 1] = t end
  end
  if #recent >= botPerMinute then return reply(0, false, false, s[4], 0, '', 'rate', -1, state, -1) end
  recent[#recent + 1] = int(ts)
  redis.call('HSET', key, 'botTimes', table.concat(recent, ','), 'botLast', text)
end

local holder = nil
if state == 'assigned' then holder = s[3] end
local ev = { from = from, text = text, ts = ts, x = extra }
if from == 'agent' then ev.agent = actor end
if from == 'bot' and role ~= '' then ev.role = role end
local seq = pushEvent(sid, ev, s[2], holder)
if cmid ~= '' then redis.call('HSET', mkey, mfield, seq) end

-- First response: the first bot or agent line after the buyer's first message.
local firstResponse = -1
if from == 'buyer' and not s[7] then
  redis.call('HSET', key, 'firstAt', ts)
elseif from ~= 'buyer' and s[7] and not s[8] then
  redis.call('HSET', key, 'frAt', ts)
  firstResponse = now - tonumber(s[7])
end

-- The idle clock runs from the buyer's last word; the reply clock from the first buyer line
-- the agent has not answered yet (the platforms' 5-minute reply rate).
local replyMs = -1
if from == 'buyer' and (state == 'assigned' or state == 'bot') then
  redis.call('ZADD', K.idle(), ts, sid)
  if state == 'assigned' then redis.call('ZADD', K.reply(), 'NX', ts, sid) end
elseif from == 'agent' then
  local since = redis.call('ZSCORE', K.reply(), sid)
  if since then
    redis.call('ZREM', K.reply(), sid)
    replyMs = now - tonumber(since)
  end
end

local enqueued, qrole, position, movedFrom = false, s[4], 0, ''
if from == 'buyer' and state == 'bot' and A.enqueue then
  state = transition('enqueue', sid, state)
  qrole = role
  -- The context hook's VIP ('cvip', see setBuyer.lua) overrides the token's.
  local vip = redis.call('HMGET', key, 'cvip', 'vip')
  local boost = tonumber(vip[1] or vip[2] or '0') * (A.vipBoostMs or 0) + (A.boostMs or 0)
  -- A bot-first session asking for a person keeps the place its first line gave it.
  local arrived = (A.botFirst and s[7]) and tonumber(s[7]) or now
  redis.call('HSET', key, 'state', state, 'role', role, 'arrived', int(arrived), 'roles', role, 'prio', int(arrived - boost), 'boost', int(boost))
  if A.leftMessage then redis.call('HSET', key, 'lm', '1') end
  redis.call('ZREM', K.idle(), sid)
  redis.call('ZADD', K.queue(role), int(arrived - boost), sid)
  -- Known agent (routing.sticky): offered to them first, for at most holdMs, if they are
  -- ready for this role now; dispatch checks again, as they may go away meanwhile.
  local hold = A.stickyHoldMs or 0
  local known = hold > 0 and redis.call('GET', K.lastAgent(s[2]))
  if known then
    local a = redis.call('HMGET', K.agent(known), 'status', 'roles')
    if a[1] == 'ready' and string.find(',' .. (a[2] or '') .. ',', ',' .. role .. ',', 1, true) then
      redis.call('HSET', key, 'sticky', known, 'stickyUntil', int(now + hold))
    end
  end
  markQueued(sid, now)
  enqueued = true
  position = redis.call('ZRANK', K.queue(role), sid) + 1
  emitEvent('session.queued', sid, now, { buyerId = s[2], role = role, position = position })
elseif from == 'buyer' and state == 'queued' and role ~= s[4] and A.reclassify then
  -- The buyer said clearly what this is about: move to that role's queue, keeping the
  -- original arrival time as its place in line.
  movedFrom, qrole = s[4], role
  local prio = redis.call('HGET', key, 'prio') or s[5]
  redis.call('ZREM', K.queue(s[4]), sid)
  redis.call('ZADD', K.queue(role), prio, sid)
  redis.call('HSET', key, 'role', role, 'roles', (s[6] or s[4]) .. ',' .. role)
  position = redis.call('ZRANK', K.queue(role), sid) + 1
elseif from == 'buyer' and state == 'bot' and A.botFirst then
  -- The bot answered a bot-first role's buyer: deflected so far (counted if it ends so).
  redis.call('HSET', key, 'bf', role)
end
-- An open session's keys live `life` past its last event, so none waits in Redis forever
-- (queued ones included) even with no gateway left to close it; closing sets the retention.
if state ~= 'bot' and life > 0 then
  renewLife(sid, s[2], life, now, s[11])
elseif enqueued then
  for _, k in ipairs({ key, K.transcript(sid), mkey, K.buyerSession(s[2]) }) do redis.call('PERSIST', k) end
  redis.call('HDEL', key, 'renewedAt')
  keepHistory(s[2], 0)
end
-- A session nobody queued yet expires by itself; its transcript (bot messages) and its
-- message ids with it, or they would outlive it forever.
if not enqueued and state == 'bot' then
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    redis.call('PEXPIRE', K.transcript(sid), ttl)
    if cmid ~= '' then redis.call('PEXPIRE', mkey, ttl) end
  end
end
return reply(seq, false, enqueued, qrole, position, movedFrom, '', firstResponse, state, replyMs)
