-- Hands a session to another role's queue, with the bot's line to the buyer.
-- In:  {sessionId, agentId, toRole, note ('' = none), now, excludeMs, boostMs, line ('' = none), force}
--   force (ops): any waiting or served session; agentId names who did it.
-- Out: {fromRole, buyerId, position, previousAgentId ('' = none)}
local A = cjson.decode(ARGV[1])
local sid, aid, toRole, note, now = A.sessionId, A.agentId, A.toRole, A.note or '', A.now
local exclude, boost, line, force = A.excludeMs or 0, A.boostMs or 0, A.line or '', A.force == true
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'role', 'buyer', 'roles', 'arrived', 'prio', 'handovers', 'boost')
if not s[1] then fail('unknown_session', 'no session ' .. sid) end
local state, holder, fromRole, buyer = s[1], s[2], s[3], s[4]
if force then
  transition('forceTransfer', sid, state)
else
  transition('transfer', sid, state, holder, aid)
end

-- Everyone the session meets next sees where it has been and why.
local handovers = s[8] and cjson.decode(s[8]) or {}
local h = { fromRole = fromRole, toRole = toRole, agentId = aid, ts = now }
if note ~= '' then h.note = note end
handovers[#handovers + 1] = h
redis.call('HSET', key, 'role', toRole, 'roles', (s[5] or fromRole) .. ',' .. toRole, 'handovers', cjson.encode(handovers))
if note ~= '' then redis.call('HSET', key, 'note', note) else redis.call('HDEL', key, 'note') end
-- Ahead of fresh arrivals: it keeps its arrival time and its priority (VIP, role boost),
-- less the boost for having waited once (once: further transfers do not add more).
local prio = math.min(tonumber(s[7] or s[6]), tonumber(s[6]) - tonumber(s[9] or '0') - boost)
redis.call('HSET', key, 'prio', int(prio))
detach(sid, state, fromRole, holder, now)
requeue(sid, now)
if state == 'assigned' and exclude > 0 then redis.call('HSET', key, 'x:' .. holder, int(now + exclude)) end

-- The buyer hears of the handover before the bot's line about it, in this order everywhere.
redis.call(PUBLISH, K.buyerChannel(buyer),
  cjson.encode({ type = 'handover', sessionId = sid, fromRole = fromRole, toRole = toRole }))
if state == 'assigned' then
  redis.call(PUBLISH, K.agentChannel(holder), cjson.encode({ type = 'session_closed', sessionId = sid, reason = 'transferred' }))
elseif state == 'offered' then
  redis.call(PUBLISH, K.agentChannel(holder), cjson.encode({ type = 'revoked', sessionId = sid, reason = 'transferred' }))
end
if line ~= '' then pushEvent(sid, { from = 'bot', text = line, ts = now, role = toRole, kind = 'handover' }, buyer, nil) end
emitEvent('session.transferred', sid, now, { buyerId = buyer, fromRole = fromRole, toRole = toRole, agentId = aid, note = note ~= '' and note or nil })
local previous = ''
if state == 'assigned' or state == 'offered' then previous = holder end
return cjson.encode({ fromRole = fromRole, buyerId = buyer, position = redis.call('ZRANK', K.queue(toRole), sid) + 1, previousAgentId = previous })
