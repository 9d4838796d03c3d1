-- A buyer has waited past the reply window for its agent: count the miss once per wait and
-- escalate.
-- In:  {sessionId, now, cutoff (waits that began at or before it are missed),
--       escalate ('none' | 'alert' | 'reoffer'), excludeMs}
-- Out: {agentId, buyerId, role, waitingSince, requeued} or false.
local A = cjson.decode(ARGV[1])
local sid, now, cutoff, escalate, exclude = A.sessionId, A.now, A.cutoff, A.escalate, A.excludeMs or 0
local since = redis.call('ZSCORE', K.reply(), sid)
if not since or tonumber(since) > cutoff then return false end
redis.call('ZREM', K.reply(), sid)
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'buyer', 'role')
if s[1] ~= 'assigned' then return false end
local aid = s[2]
redis.call('HINCRBY', K.agent(aid), 'replyMisses', 1)
redis.call('HINCRBY', key, 'replyMisses', 1)
local requeued = false
if escalate == 'reoffer' then
  transition('requeue', sid, s[1])
  requeue(sid, now)
  redis.call('SREM', K.agentSessions(aid), sid)
  releaseLoad(aid, now, true)
  if exclude > 0 then redis.call('HSET', key, 'x:' .. aid, int(now + exclude)) end
  redis.call(PUBLISH, K.agentChannel(aid), cjson.encode({ type = 'session_closed', sessionId = sid, reason = 'reply_timeout' }))
  requeued = true
elseif escalate == 'alert' then
  redis.call(PUBLISH, K.agentChannel(aid), cjson.encode({ type = 'reply_overdue', sessionId = sid, waitingSince = tonumber(since) }))
end
return cjson.encode({ agentId = aid, buyerId = s[3], role = s[4], waitingSince = tonumber(since), requeued = requeued })
