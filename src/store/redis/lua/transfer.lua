-- Hands an assigned session to another role's queue, with the bot's line to the buyer.
-- ARGV: sessionId, agentId, toRole, note ('' = none), now, excludeMs, boostMs, line
-- Returns {fromRole, buyerId, position}.
local sid, aid, toRole, note, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local exclude, boost, line = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'role', 'buyer', 'roles', 'arrived', 'prio', 'handovers')
if not s[1] then fail('unknown_session', 'no session ' .. sid) end
transition('transfer', sid, s[1], s[2], aid)
local fromRole, buyer = s[3], s[4]

-- Everyone the session meets next sees where it has been and why.
local handovers = s[8] and cjson.decode(s[8]) or {}
local h = { fromRole = fromRole, toRole = toRole, agentId = aid, ts = now }
if note ~= '' then h.note = note end
handovers[#handovers + 1] = h
redis.call('HSET', key, 'role', toRole, 'roles', (s[5] or fromRole) .. ',' .. toRole, 'handovers', cjson.encode(handovers))
if note ~= '' then redis.call('HSET', key, 'note', note) else redis.call('HDEL', key, 'note') end
-- Ahead of fresh arrivals: it keeps its arrival time, less the boost for having waited once.
local prio = math.min(tonumber(s[7] or s[6]), tonumber(s[6]) - boost)
redis.call('HSET', key, 'prio', int(prio))
requeue(sid)
redis.call('SREM', akey(aid) .. ':s', sid)
releaseLoad(aid, now, true)
if exclude > 0 then redis.call('HSET', key, 'x:' .. aid, int(now + exclude)) end

-- The buyer hears of the handover before the bot's line about it, in this order everywhere.
redis.call('PUBLISH', P .. 'ch:b:' .. buyer,
  cjson.encode({ type = 'handover', sessionId = sid, fromRole = fromRole, toRole = toRole }))
redis.call('PUBLISH', P .. 'ch:a:' .. aid,
  cjson.encode({ type = 'session_closed', sessionId = sid, reason = 'transferred' }))
if line ~= '' then pushEvent(sid, { from = 'bot', text = line, ts = ARGV[5], role = toRole, kind = 'handover' }, buyer, nil) end
return { fromRole, buyer, redis.call('ZRANK', P .. 'q:' .. toRole, sid) + 1 }
