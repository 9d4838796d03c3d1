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
local requeued = {}
for _, sid in ipairs(redis.call('SMEMBERS', key .. ':s')) do
  local st = redis.call('HMGET', skey(sid), 'state', 'agent')
  if st[1] == 'assigned' and st[2] == aid then
    local s = requeue(sid)
    requeued[#requeued + 1] = sid
    requeued[#requeued + 1] = s[3]
    requeued[#requeued + 1] = s[1]
  end
end
redis.call('DEL', key .. ':s')
redis.call('HSET', key, 'load', redis.call('SCARD', key .. ':o'))
redis.call('HDEL', key, 'graceUntil')
redis.call('ZREM', P .. 'grace', aid)
return requeued
