-- ARGV: sessionId, agentId, toRole, note ('' = none), now, excludeMs
-- Returns {fromRole, buyerId}.
local sid, aid, toRole, note, now, exclude = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'role', 'buyer', 'roles')
if not s[1] then fail('unknown_session', 'no session ' .. sid) end
if s[1] == 'closed' then fail('bad_state', 'session ' .. sid .. ' is closed') end
if s[1] ~= 'assigned' or s[2] ~= aid then fail('not_assigned', 'session ' .. sid .. ' is not assigned to you') end
redis.call('HSET', key, 'role', toRole, 'roles', (s[5] or s[3]) .. ',' .. toRole)
if note ~= '' then redis.call('HSET', key, 'note', note) else redis.call('HDEL', key, 'note') end
requeue(sid)
redis.call('SREM', akey(aid) .. ':s', sid)
releaseLoad(aid, now, true)
if exclude > 0 then redis.call('HSET', key, 'x:' .. aid, int(now + exclude)) end
return { s[3], s[4] }
