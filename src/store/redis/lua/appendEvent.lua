-- Stores one transcript event and publishes it, in one step, so seq order is delivery order.
-- ARGV: sessionId, from (buyer|agent|bot), actorId, clientMsgId ('' = none), text, ts, role,
--       flags, botPerMinute
--   role:  buyer: the classified role; bot: an optional label.
--   flags: buyer: 'q' = may enter the queue now (a `bot` session), 'm' = the role was matched
--          by a rule, so a waiting session moves there, 'b' = `role` is bot-first (bots.mode):
--          a line the bot answers keeps the session with the bot and remembers the role
--          ('bf'); entering the queue, the session keeps its original arrival time (its first
--          buyer line), 'l' = a left message (its role is outside business hours): no queue
--          timeout and no abandonment while it waits ('lm'). bot: unused.
--   botPerMinute: bot messages allowed per session per rolling minute.
--       lifeMs, maxEvents, maxBytes, buyerRate, buyerBurst, shopRate, shopBurst
--   lifeMs: an open (no longer `bot`) session's keys expire this long after its last event.
--   maxEvents / maxBytes: the transcript's cap (0 = none); a buyer or agent line past it is
--          `too_large`, a bot line is suppressed ('full').
--   buyerRate..shopBurst: the buyer's and the shop's buckets for buyer lines (see the prelude).
--       vipBoostMs, boostMs, stickyHoldMs, extra
--   vipBoostMs, boostMs: entering the queue, the session's place is its arrival less
--          vip × vipBoostMs less boostMs (ops' per-role boost); kept as 'prio' and 'boost'.
--   stickyHoldMs: see routing.sticky; 0 = off.
--   extra: the JSON of the line's {card?, attachments?} ('' = none), stored with it.
-- Returns {seq, duplicate, enqueued, role, position, movedFrom, suppressed, firstResponseMs,
--          state, replyMs}
--   state: the session's state after this message.
--   seq 0 with suppressed 'rate' or 'repeat': the bot message was not stored (no harassment).
--   replyMs: an agent line answering a waiting buyer: how long the buyer waited (-1: none).
local sid, from, actor, cmid, text, ts, role = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local flags, botPerMinute = ARGV[8] or '', tonumber(ARGV[9] or '0')
local life, maxEvents, maxBytes = tonumber(ARGV[10] or '0'), tonumber(ARGV[11] or '0'), tonumber(ARGV[12] or '0')
local extra = ARGV[20] or ''
local now = tonumber(ts)
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'buyer', 'agent', 'role', 'arrived', 'roles', 'firstAt', 'frAt')
local state = s[1]
if not state or (from == 'buyer' and s[2] ~= actor) then
  fail('unknown_session', 'no session ' .. sid)
end
-- A resend is answered with the original seq even after the agent closed the chat (the
-- client only lacked the ack); once closed, the buyer's next message belongs to a new session.
-- Ids are de-duplicated per sender: the buyer, or one agent by its id, so the next agent
-- after a transfer may reuse ids. An agent's resend counts only while the chat is still its
-- own (or winding down); after a transfer it gets not_assigned from the holder check below.
local mkey = P .. 'm:' .. sid
local mfield = from == 'agent' and ('a:' .. actor .. ':' .. cmid) or (string.sub(from, 1, 1) .. ':' .. cmid)
if cmid ~= '' and state ~= 'closed' then
  local prev = redis.call('HGET', mkey, mfield)
  if prev and (from ~= 'agent' or ENDED[state] or (state == 'assigned' and s[3] == actor)) then
    return { tonumber(prev), 1, 0, s[4], 0, '', '', -1, state, -1 }
  end
end
transition(from .. 'Message', sid, state, s[3], actor)

-- The transcript's cap, checked before anything is written.
local size = redis.call('HMGET', key, 'seq', 'bytes')
if (maxEvents > 0 and tonumber(size[1] or '0') >= maxEvents) or (maxBytes > 0 and tonumber(size[2] or '0') + #text + #extra > maxBytes) then
  if from == 'bot' then return { 0, 0, 0, s[4], 0, '', 'full', -1, state, -1 } end
  fail('too_large', 'this chat has reached its transcript limit (' .. maxEvents .. ' events, ' .. maxBytes .. ' bytes); nothing was stored')
end
-- The last check, as it is the first write: a line refused for anything else costs no token.
if from == 'buyer' then limitBuyer(actor, { ARGV[13] or '0', ARGV[14] or '1', ARGV[15] or '0', ARGV[16] or '1' }, now) end

if from == 'bot' then
  -- Platform rules punish bots that spam: a rolling per-minute cap and no repeated text.
  local b = redis.call('HMGET', key, 'botTimes', 'botLast')
  if b[2] == text then return { 0, 0, 0, s[4], 0, '', 'repeat', -1, state, -1 } end
  local recent = {}
  for t in string.gmatch(b[1] or '', '[^,]+') do
    if tonumber(t) > now - 60000 then recent[#recent + 1] = t end
  end
  if #recent >= botPerMinute then return { 0, 0, 0, s[4], 0, '', 'rate', -1, state, -1 } end
  recent[#recent + 1] = ts
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
  redis.call('ZADD', P .. 'idle', ts, sid)
  if state == 'assigned' then redis.call('ZADD', P .. 'reply', 'NX', ts, sid) end
elseif from == 'agent' then
  local since = redis.call('ZSCORE', P .. 'reply', sid)
  if since then
    redis.call('ZREM', P .. 'reply', sid)
    replyMs = now - tonumber(since)
  end
end

local enqueued, qrole, position, movedFrom = 0, s[4], 0, ''
if from == 'buyer' and state == 'bot' and string.find(flags, 'q', 1, true) then
  state = transition('enqueue', sid, state)
  qrole = role
  -- The context hook's VIP ('cvip', see setBuyer.lua) overrides the token's.
  local vip = redis.call('HMGET', key, 'cvip', 'vip')
  local boost = tonumber(vip[1] or vip[2] or '0') * tonumber(ARGV[17] or '0') + tonumber(ARGV[18] or '0')
  -- A bot-first session asking for a person keeps the place its first line gave it.
  local arrived = (string.find(flags, 'b', 1, true) and s[7]) and tonumber(s[7]) or now
  redis.call('HSET', key, 'state', state, 'role', role, 'arrived', int(arrived), 'roles', role, 'prio', int(arrived - boost), 'boost', int(boost))
  if string.find(flags, 'l', 1, true) then redis.call('HSET', key, 'lm', '1') end
  redis.call('ZREM', P .. 'idle', sid)
  redis.call('ZADD', P .. 'q:' .. role, int(arrived - boost), sid)
  -- Known agent (routing.sticky): offered to them first, for at most holdMs, if they are
  -- ready for this role now; dispatch checks again, as they may go away meanwhile.
  local hold = tonumber(ARGV[19] or '0')
  local known = hold > 0 and redis.call('GET', bkey('la', s[2]))
  if known then
    local a = redis.call('HMGET', akey(known), 'status', 'roles')
    if a[1] == 'ready' and string.find(',' .. (a[2] or '') .. ',', ',' .. role .. ',', 1, true) then
      redis.call('HSET', key, 'sticky', known, 'stickyUntil', int(now + hold))
    end
  end
  markQueued(sid, now)
  enqueued = 1
  position = redis.call('ZRANK', P .. 'q:' .. role, sid) + 1
  emitEvent('session.queued', sid, now, { buyerId = s[2], role = role, position = position })
elseif from == 'buyer' and state == 'queued' and role ~= s[4] and string.find(flags, 'm', 1, true) then
  -- The buyer said clearly what this is about: move to that role's queue, keeping the
  -- original arrival time as its place in line.
  movedFrom, qrole = s[4], role
  local prio = redis.call('HGET', key, 'prio') or s[5]
  redis.call('ZREM', P .. 'q:' .. s[4], sid)
  redis.call('ZADD', P .. 'q:' .. role, prio, sid)
  redis.call('HSET', key, 'role', role, 'roles', (s[6] or s[4]) .. ',' .. role)
  position = redis.call('ZRANK', P .. 'q:' .. role, sid) + 1
elseif from == 'buyer' and state == 'bot' and string.find(flags, 'b', 1, true) then
  -- The bot answered a bot-first role's buyer: deflected so far (counted if it ends so).
  redis.call('HSET', key, 'bf', role)
end
-- An open session's keys live `life` past its last event, so none waits in Redis forever
-- (queued ones included) even with no gateway left to close it; closing sets the retention.
if state ~= 'bot' and life > 0 then
  for _, k in ipairs({ key, P .. 't:' .. sid, mkey, bkey('bs', s[2]) }) do redis.call('PEXPIRE', k, life) end
  keepHistory(s[2], life)
elseif enqueued == 1 then
  for _, k in ipairs({ key, P .. 't:' .. sid, mkey, bkey('bs', s[2]) }) do redis.call('PERSIST', k) end
  keepHistory(s[2], 0)
end
-- A session nobody queued yet expires by itself; its transcript (bot messages) with it.
if enqueued == 0 and state == 'bot' then
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then redis.call('PEXPIRE', P .. 't:' .. sid, ttl) end
end
return { seq, 0, enqueued, qrole, position, movedFrom, '', firstResponse, state, replyMs }
