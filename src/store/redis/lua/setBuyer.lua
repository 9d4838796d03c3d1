-- Keeps the shop's context hook answer (JSON) on a session, if it still exists: the hook
-- answers asynchronously and must never bring back a session that expired meanwhile.
-- In:  {sessionId, json}
-- Out: {}
local A = cjson.decode(ARGV[1])
if redis.call('EXISTS', K.session(A.sessionId)) == 1 then redis.call('HSET', K.session(A.sessionId), 'ctx', A.json) end
return cjson.encode({})
