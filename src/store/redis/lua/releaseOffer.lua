-- Decline (agentId given) or expiry (agentId '') of an offer.
-- ARGV: sessionId, agentId, now, excludeMs
-- Returns {sessionId, buyerId, role, agentId}, or false when there was nothing to release.
local sid, aid, now, exclude = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = skey(sid)
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
redis.call('SREM', akey(holder) .. ':o', sid)
releaseLoad(holder, now, false)
-- The agent who let it go is skipped for a while so the session really reaches the next one.
if exclude > 0 then redis.call('HSET', key, 'x:' .. holder, int(now + exclude)) end
return { sid, q[3], q[1], holder }
