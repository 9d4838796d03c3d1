-- Stores one transcript event and publishes it, in one step, so seq order is delivery order.
-- ARGV: sessionId, from (buyer|agent|bot), actorId, clientMsgId ('' = none), text, ts, role
--   role: for a buyer's first message, the queue it enters; for a bot message, an optional label.
-- Returns {seq, duplicate(0|1), enqueued(0|1), role, position}.
local sid, from, actor, cmid, text, ts, role = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'buyer', 'agent', 'role')
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
  if prev then return { tonumber(prev), 1, 0, s[4], 0 } end
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
-- A session nobody wrote in yet expires by itself; its transcript (bot messages) with it.
if state == 'bot' and from ~= 'buyer' then
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then redis.call('PEXPIRE', P .. 't:' .. sid, ttl) end
end

local enqueued, qrole, position = 0, s[4], 0
if from == 'buyer' and state == 'bot' then
  qrole = role
  redis.call('HSET', key, 'state', 'queued', 'role', role, 'arrived', ts, 'roles', role)
  redis.call('PERSIST', key)
  redis.call('PERSIST', P .. 'bs:' .. actor)
  redis.call('PERSIST', P .. 't:' .. sid)
  redis.call('ZADD', P .. 'q:' .. role, ts, sid)
  enqueued = 1
  position = redis.call('ZRANK', P .. 'q:' .. role, sid) + 1
end

local msg = { type = 'message', sessionId = sid, seq = seq, from = from, text = text, ts = tonumber(ts) }
if from == 'bot' and role ~= '' then msg.role = role end
local frame = cjson.encode(msg)
-- Each side gets what the other side said; a sender learns its seq from the ack.
if from ~= 'buyer' then redis.call('PUBLISH', P .. 'ch:b:' .. s[2], frame) end
if from ~= 'agent' and state == 'assigned' then redis.call('PUBLISH', P .. 'ch:a:' .. s[3], frame) end
return { seq, 0, enqueued, qrole, position }
