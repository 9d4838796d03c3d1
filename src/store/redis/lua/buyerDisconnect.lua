-- One of a buyer's connections is gone (closed here, or its instance died); the last one
-- takes the buyer (and its open session) offline.
-- In:  {buyerId, connId, now}
-- Out: {offline (this was the buyer's last connection)}
local A = cjson.decode(ARGV[1])
local buyer, conn, now = A.buyerId, A.connId, A.now
local key = K.buyerConns(buyer)
if redis.call('SREM', key, conn) == 0 or redis.call('SCARD', key) > 0 then return cjson.encode({ offline = false }) end
local sid = redis.call('GET', K.buyerSession(buyer))
if sid then setPresence(sid, false, now) end
return cjson.encode({ offline = true })
