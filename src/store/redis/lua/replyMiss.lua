-- A buyer has waited past the reply window for its agent: count the miss once per wait and
-- escalate. ARGV: sessionId, now, cutoff (waits that began at or before it are missed),
--                 escalate ('none' | 'alert' | 'reoffer'), excludeMs
-- Returns {agentId, buyerId, role, waitingSince, requeued(0|1)} or false.
local sid, now, cutoff, escalate, exclude = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local since = redis.call('ZSCORE', P .. 'reply', sid)
if not since or tonumber(since) > cutoff then return false end
redis.call('ZREM', P .. 'reply', sid)
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'buyer', 'role')
if s[1] ~= 'assigned' then return false end
local aid = s[2]
redis.call('HINCRBY', akey(aid), 'replyMisses', 1)
redis.call('HINCRBY', key, 'replyMisses', 1)
local requeued = 0
if escalate == 'reoffer' then
  transition('requeue', sid, s[1])
  requeue(sid, now)
  redis.call('SREM', akey(aid) .. ':s', sid)
  releaseLoad(aid, now, true)
  if exclude > 0 then redis.call('HSET', key, 'x:' .. aid, int(now + exclude)) end
  redis.call(PUBLISH, P .. 'ch:a:' .. aid, cjson.encode({ type = 'session_closed', sessionId = sid, reason = 'reply_timeout' }))
  requeued = 1
elseif escalate == 'alert' then
  redis.call(PUBLISH, P .. 'ch:a:' .. aid, cjson.encode({ type = 'reply_overdue', sessionId = sid, waitingSince = tonumber(since) }))
end
return { aid, s[3], s[4], tonumber(since), requeued }
