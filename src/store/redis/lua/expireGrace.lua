-- An offline agent's grace is over: the sessions it still holds go back to their queues.
-- In:  {agentId, now}
-- Out: {requeued: [{sessionId, buyerId, role}]}
local A = cjson.decode(ARGV[1])
local aid, now = A.agentId, A.now
local key = K.agent(aid)
local a = redis.call('HMGET', key, 'status', 'graceUntil')
if a[1] ~= 'offline' then
  redis.call('ZREM', K.grace(), aid)
  return cjson.encode({ requeued = {} })
end
if a[2] and tonumber(a[2]) > now then return cjson.encode({ requeued = {} }) end
local requeued = requeueHeld(aid, K.agentSessions(aid), 'assigned', now)
redis.call('HSET', key, 'load', redis.call('SCARD', K.agentOffers(aid)))
redis.call('HDEL', key, 'graceUntil')
redis.call('ZREM', K.grace(), aid)
return cjson.encode({ requeued = requeued })
