-- Keeps the shop's context hook answer (JSON) on a session, if it still exists: the hook
-- answers asynchronously and must never bring back a session that expired meanwhile.
-- A VIP level in the answer overrides the token's ('cvip'); a session already in line moves
-- to the place that level gives it (its prio shifted by the difference × vipBoostMs).
-- In:  {sessionId, json, vipBoostMs}
-- Out: {}
local A = cjson.decode(ARGV[1])
local sid = A.sessionId
if redis.call('EXISTS', K.session(sid)) == 0 then return cjson.encode({}) end
redis.call('HSET', K.session(sid), 'ctx', A.json)
local vip = cjson.decode(A.json).vip
if type(vip) ~= 'number' then return cjson.encode({}) end
local s = redis.call('HMGET', K.session(sid), 'state', 'role', 'cvip', 'vip', 'prio', 'boost')
local old = tonumber(s[3] or s[4] or '0')
redis.call('HSET', K.session(sid), 'cvip', vip)
-- Not in line yet: entering the queue reads 'cvip'.
if vip == old or not s[5] then return cjson.encode({}) end
local delta = (vip - old) * (A.vipBoostMs or 0)
redis.call('HSET', K.session(sid), 'prio', int(tonumber(s[5]) - delta), 'boost', int(tonumber(s[6] or '0') + delta))
if s[1] == 'queued' then redis.call('ZADD', K.queue(s[2]), 'XX', qscore(sid), sid) end
return cjson.encode({})
