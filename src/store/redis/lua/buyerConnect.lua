-- A buyer's live connections, across instances, capped (one buyer must not hold hundreds).
-- The first one brings the buyer (and its open session) back online.
-- In:  {buyerId, connId, max, now}
-- Out: {}; rate_limited past max.
local A = cjson.decode(ARGV[1])
local buyer, conn, max, now = A.buyerId, A.connId, A.max, A.now
local key = K.buyerConns(buyer)
if redis.call('SISMEMBER', key, conn) == 1 then return cjson.encode({}) end
local live = redis.call('SCARD', key)
if live >= max then
  fail('rate_limited', 'too many connections for this buyer (at most ' .. max .. ')')
end
redis.call('SADD', key, conn)
if live == 0 then
  local sid = redis.call('GET', K.buyerSession(buyer))
  if sid then setPresence(sid, true, now) end
end
return cjson.encode({})
