-- Keeps the shop's context hook answer (JSON) on a session, if it still exists: the hook
-- answers asynchronously and must never bring back a session that expired meanwhile.
-- In:  {sessionId, json}
-- Out: {}
local A = cjson.decode(ARGV[1])
if redis.call('EXISTS', skey(A.sessionId)) == 1 then redis.call('HSET', skey(A.sessionId), 'ctx', A.json) end
return cjson.encode({})
