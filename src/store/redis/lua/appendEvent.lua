-- Stores one transcript event and publishes it, in one step, so seq order is delivery order.
-- ARGV: sessionId, from (buyer|agent|bot), actorId, clientMsgId ('' = none), text, ts, role,
--       flags, botPerMinute
--   role:  buyer: the classified role; bot: an optional label.
--   flags: buyer: 'q' = may enter the queue now (a `bot` session), 'm' = the role was matched
--          by a rule, so a waiting session moves there. bot: unused.
--   botPerMinute: bot messages allowed per session per rolling minute.
-- Returns {seq, duplicate, enqueued, role, position, movedFrom, suppressed, firstResponseMs, state}
--   state: the session's state after this message.
--   seq 0 with suppressed 'rate' or 'repeat': the bot message was not stored (no harassment).
local sid, from, actor, cmid, text, ts, role = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local flags, botPerMinute = ARGV[8] or '', tonumber(ARGV[9] or '0')
local now = tonumber(ts)
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'buyer', 'agent', 'role', 'arrived', 'roles', 'firstAt', 'frAt')
local state = s[1]
if not state or (from == 'buyer' and s[2] ~= actor) then
  fail('unknown_session', 'no session ' .. sid)
end
if state == 'closed' then fail('bad_state', 'session ' .. sid .. ' is closed') end
if from == 'agent' and (state ~= 'assigned' or s[3] ~= actor) then
  fail('not_assigned', 'session ' .. sid .. ' is not assigned to you')
end

local mkey = P .. 'm:' .. sid
local mfield = string.sub(from, 1, 1) .. ':' .. cmid
if cmid ~= '' then
  local prev = redis.call('HGET', mkey, mfield)
  if prev then return { tonumber(prev), 1, 0, s[4], 0, '', '', -1, state } end
end

if from == 'bot' then
  -- Platform rules punish bots that spam: a rolling per-minute cap and no repeated text.
  local b = redis.call('HMGET', key, 'botTimes', 'botLast')
  if b[2] == text then return { 0, 0, 0, s[4], 0, '', 'repeat', -1, state } end
  local recent = {}
  for t in string.gmatch(b[1] or '', '[^,]+') do
    if tonumber(t) > now - 60000 then recent[#recent + 1] = t end
  end
  if #recent >= botPerMinute then return { 0, 0, 0, s[4], 0, '', 'rate', -1, state } end
  recent[#recent + 1] = ts
  redis.call('HSET', key, 'botTimes', table.concat(recent, ','), 'botLast', text)
end

local seq = redis.call('HINCRBY', key, 'seq', 1)
local fields = { 'f', from, 't', text, 'ts', ts }
if from == 'agent' then
  fields[#fields + 1] = 'a'; fields[#fields + 1] = actor
end
if from == 'bot' and role ~= '' then
  fields[#fields + 1] = 'r'; fields[#fields + 1] = role
end
redis.call('XADD', P .. 't:' .. sid, seq .. '-0', unpack(fields))
if cmid ~= '' then redis.call('HSET', mkey, mfield, seq) end

-- First response: the first bot or agent line after the buyer's first message.
local firstResponse = -1
if from == 'buyer' and not s[7] then
  redis.call('HSET', key, 'firstAt', ts)
elseif from ~= 'buyer' and s[7] and not s[8] then
  redis.call('HSET', key, 'frAt', ts)
  firstResponse = now - tonumber(s[7])
end

local enqueued, qrole, position, movedFrom = 0, s[4], 0, ''
if from == 'buyer' and state == 'bot' and string.find(flags, 'q', 1, true) then
  qrole = role
  redis.call('HSET', key, 'state', 'queued', 'role', role, 'arrived', ts, 'roles', role)
  redis.call('PERSIST', key)
  redis.call('PERSIST', P .. 'bs:' .. actor)
  redis.call('PERSIST', P .. 't:' .. sid)
  redis.call('ZADD', P .. 'q:' .. role, ts, sid)
  enqueued = 1
  position = redis.call('ZRANK', P .. 'q:' .. role, sid) + 1
elseif from == 'buyer' and state == 'queued' and role ~= s[4] and string.find(flags, 'm', 1, true) then
  -- The buyer said clearly what this is about: move to that role's queue, keeping the
  -- original arrival time as its place in line.
  movedFrom, qrole = s[4], role
  redis.call('ZREM', P .. 'q:' .. s[4], sid)
  redis.call('ZADD', P .. 'q:' .. role, s[5], sid)
  redis.call('HSET', key, 'role', role, 'roles', (s[6] or s[4]) .. ',' .. role)
  position = redis.call('ZRANK', P .. 'q:' .. role, sid) + 1
end
-- A session nobody queued yet expires by itself; its transcript (bot messages) with it.
if enqueued == 0 and state == 'bot' then
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then redis.call('PEXPIRE', P .. 't:' .. sid, ttl) end
end

local msg = { type = 'message', sessionId = sid, seq = seq, from = from, text = text, ts = now }
if from == 'bot' and role ~= '' then msg.role = role end
local frame = cjson.encode(msg)
-- Each side gets what the other side said; a sender learns its seq from the ack.
if from ~= 'buyer' then redis.call('PUBLISH', P .. 'ch:b:' .. s[2], frame) end
if from ~= 'agent' and state == 'assigned' then redis.call('PUBLISH', P .. 'ch:a:' .. s[3], frame) end
if enqueued == 1 then state = 'queued' end
return { seq, 0, enqueued, qrole, position, movedFrom, '', firstResponse, state }
