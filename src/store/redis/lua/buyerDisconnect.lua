-- One of a buyer's connections is gone (closed here, or its instance died); the last one
-- takes the buyer (and its open session) offline.
-- ARGV: buyerId, connId, now
local key = bkey('bc', ARGV[1])
if redis.call('SREM', key, ARGV[2]) == 0 or redis.call('SCARD', key) > 0 then return 0 end
local sid = redis.call('GET', bkey('bs', ARGV[1]))
if sid then setPresence(sid, false, tonumber(ARGV[3])) end
return 1
