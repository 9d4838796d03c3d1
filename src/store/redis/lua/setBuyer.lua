-- Keeps the shop's context hook answer (JSON) on a session, if it still exists: the hook
-- answers asynchronously and must never bring back a session that expired meanwhile.
-- ARGV: sessionId, json
if redis.call('EXISTS', skey(ARGV[1])) == 1 then redis.call('HSET', skey(ARGV[1]), 'ctx', ARGV[2]) end
return 1
