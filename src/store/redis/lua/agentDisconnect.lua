-- One of an agent's connections is gone; the last one takes it offline: its offers go back to
-- the queue now, its sessions wait graceMs for it (expireGrace).
-- In:  {agentId, connId, now, graceMs}
-- Out: {offline, graceUntil (0 = none), requeued: [{sessionId, buyerId, role}] (its offers)}
local A = cjson.decode(ARGV[1])
local aid, conn, now, grace = A.agentId, A.connId, A.now, A.graceMs
local key = K.agent(aid)
redis.call('SREM', K.agentConns(aid), conn)
local status = redis.call('HGET', key, 'status')
if not status or status == 'offline' or redis.call('SCARD', K.agentConns(aid)) > 0 then
  return cjson.encode({ offline = false, graceUntil = 0, requeued = {} })
end
redis.call('HSET', key, 'want', status, 'status', 'offline')
refreshAvail(aid)

-- Nobody is there to answer an offer, so it goes to the next agent now, not at its timeout.
local requeued = requeueHeld(aid, K.agentOffers(aid), 'offered', now)
if #requeued > 0 then redis.call('HINCRBY', key, 'load', -#requeued) end

local graceUntil = 0
if redis.call('SCARD', K.agentSessions(aid)) > 0 then
  graceUntil = now + grace
  redis.call('HSET', key, 'graceUntil', int(graceUntil))
  redis.call('ZADD', K.grace(), int(graceUntil), aid)
end
return cjson.encode({ offline = true, graceUntil = graceUntil, requeued = requeued })
