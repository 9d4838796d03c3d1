-- Keeps the shop's context hook answer (JSON) on a session, if it still exists: the hook
-- answers asynchronously and must never bring back a session that expired meanwhile.
-- A VIP level in the answer overrides the token's ('cvip'); a session already in line moves
-- to the place that level gives it (its prio shifted by the difference × vipBoostMs).
-- ARGV: sessionId, json, vipBoostMs
local sid = ARGV[1]
if redis.call('EXISTS', skey(sid)) == 0 then return 0 end
redis.call('HSET', skey(sid), 'ctx', ARGV[2])
local vip = cjson.decode(ARGV[2]).vip
if type(vip) ~= 'number' then return 1 end
local s = redis.call('HMGET', skey(sid), 'state', 'role', 'cvip', 'vip', 'prio', 'boost')
local old = tonumber(s[3] or s[4] or '0')
redis.call('HSET', skey(sid), 'cvip', vip)
-- Not in line yet: entering the queue reads 'cvip'.
if vip == old or not s[5] then return 1 end
local delta = (vip - old) * tonumber(ARGV[3] or '0')
redis.call('HSET', skey(sid), 'prio', int(tonumber(s[5]) - delta), 'boost', int(tonumber(s[6] or '0') + delta))
if s[1] == 'queued' then redis.call('ZADD', P .. 'q:' .. s[2], 'XX', qscore(sid), sid) end
return 1
