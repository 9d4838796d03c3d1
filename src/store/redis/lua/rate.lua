-- ARGV: sessionId, buyerId, score, comment, now
local sid, buyer, score, comment, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local s = redis.call('HMGET', skey(sid), 'state', 'buyer', 'lastAgent', 'rating')
if not s[1] or s[2] ~= buyer then fail('unknown_session', 'no session ' .. sid) end
transition('rate', sid, s[1])
if s[4] then fail('bad_state', 'session ' .. sid .. ' is already rated') end
redis.call('HSET', skey(sid), 'rating', score, 'ratingComment', comment, 'ratedAt', now)
redis.call('HINCRBY', akey(s[3]), 'ratingSum', score)
redis.call('HINCRBY', akey(s[3]), 'ratingCount', 1)
emitEvent('session.rated', sid, now, { buyerId = buyer, agentId = s[3], score = tonumber(score), comment = comment ~= '' and comment or nil })
return 1
