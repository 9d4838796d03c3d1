-- Decline (agentId given) or expiry (agentId '') of an offer.
-- In:  {sessionId, agentId ('' = expiry), now, excludeMs}
-- Out: {sessionId, buyerId, role, agentId}, or false when there was nothing to release.
local A = cjson.decode(ARGV[1])
local sid, aid, now, exclude = A.sessionId, A.agentId, A.now, A.excludeMs
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'offerExp')
if aid ~= '' then
  if not s[1] then fail('unknown_session', 'no session ' .. sid) end
  transition('release', sid, s[1])
  if s[2] ~= aid then fail('bad_state', 'session ' .. sid .. ' is not offered to you') end
elseif s[1] ~= 'offered' or tonumber(s[3]) > now then
  return false
end
local holder = s[2]
local q = requeue(sid, now)
redis.call('SREM', K.agentOffers(holder), sid)
releaseLoad(holder, now, false)
-- The agent who let it go is skipped for a while so the session really reaches the next one.
if exclude > 0 then redis.call('HSET', key, 'x:' .. holder, int(now + exclude)) end
return cjson.encode({ sessionId = sid, buyerId = q[3], role = q[1], agentId = holder })
