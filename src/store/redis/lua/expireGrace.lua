-- ARGV: agentId, now
-- Returns {sessionId, buyerId, role, ...} of the sessions put back in their queues.
local aid, now = ARGV[1], tonumber(ARGV[2])
local key = akey(aid)
local a = redis.call('HMGET', key, 'status', 'graceUntil')
if a[1] ~= 'offline' then
  redis.call('ZREM', P .. 'grace', aid)
  return {}
end
if a[2] and tonumber(a[2]) > now then return {} end
local requeued = requeueHeld(aid, ':s', 'assigned', now)
redis.call('HSET', key, 'load', redis.call('SCARD', key .. ':o'))
redis.call('HDEL', key, 'graceUntil')
redis.call('ZREM', P .. 'grace', aid)
return requeued
