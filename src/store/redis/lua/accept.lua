-- The offered agent takes the session: assigned, its reply and idle clocks start.
-- In:  {sessionId, agentId, now, stickyWindowMs (0 = do not remember the buyer's agent)}
-- Out: {role, note ('' = none), alreadyAssigned, overflowedTo ('' = offered in its own role)}
local A = cjson.decode(ARGV[1])
local sid, aid, now = A.sessionId, A.agentId, A.now
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'role', 'offerExp', 'note', 'ovf', 'buyer')
if not s[1] then fail('unknown_session', 'no session ' .. sid) end
if s[1] == 'assigned' and s[2] == aid then return cjson.encode({ role = s[3], note = s[5] or '', alreadyAssigned = true, overflowedTo = s[6] or '' }) end
local state = transition('accept', sid, s[1])
if s[2] ~= aid then fail('bad_state', 'session ' .. sid .. ' is not offered to you') end
-- Past its deadline the offer is dead even if no timer has re-queued it yet.
if tonumber(s[4]) < now then fail('bad_state', 'the offer of session ' .. sid .. ' has expired') end
redis.call('HSET', key, 'state', state, 'lastAgent', aid)
-- The buyer's known agent (routing.sticky) for their next session within the window.
local window = A.stickyWindowMs or 0
if window > 0 and s[7] then redis.call('SET', K.lastAgent(s[7]), aid, 'PX', int(window)) end
redis.call('HDEL', key, 'offerExp')
redis.call('ZREM', K.offers(), sid)
redis.call('ZREM', K.queuedSince(), sid)
redis.call('SMOVE', K.agentOffers(aid), K.agentSessions(aid), sid)
-- The agent owes the buyer a first word within the reply window; the idle clock starts too.
redis.call('ZADD', K.idle(), int(now), sid)
redis.call('ZADD', K.reply(), int(now), sid)
-- Recent assignment times per role: the honest basis of the ETA waiting buyers are told.
redis.call('LPUSH', K.rate(s[3]), int(now))
redis.call('LTRIM', K.rate(s[3]), 0, 49)
emitEvent('session.assigned', sid, now, { buyerId = s[7], agentId = aid, role = s[3] })
return cjson.encode({ role = s[3], note = s[5] or '', alreadyAssigned = false, overflowedTo = s[6] or '' })
