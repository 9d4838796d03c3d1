-- ARGV: agentId, connId, now, graceMs
-- Returns {offline(0|1), graceUntil(0 = none), {sessionId, buyerId, role, ...requeued offers}}.
local aid, conn, now, grace = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local key = akey(aid)
redis.call('SREM', key .. ':c', conn)
local status = redis.call('HGET', key, 'status')
if not status or status == 'offline' or redis.call('SCARD', key .. ':c') > 0 then
  return { 0, 0, {} }
end
redis.call('HSET', key, 'want', status, 'status', 'offline')
refreshAvail(aid)

-- Nobody is there to answer an offer, so it goes to the next agent now, not at its timeout.
local requeued = requeueHeld(aid, ':o', 'offered', now)
-- requeued holds three fields per session.
if #requeued > 0 then redis.call('HINCRBY', key, 'load', int(-#requeued / 3)) end

local graceUntil = 0
if redis.call('SCARD', key .. ':s') > 0 then
  graceUntil = now + grace
  redis.call('HSET', key, 'graceUntil', int(graceUntil))
  redis.call('ZADD', P .. 'grace', int(graceUntil), aid)
end
return { 1, graceUntil, requeued }
