-- The buyer's rating of a closing session, once; added to its agent's rating sums.
-- In:  {sessionId, buyerId, score, comment, now}
-- Out: {}
local A = cjson.decode(ARGV[1])
local sid, buyer, score, comment, now = A.sessionId, A.buyerId, A.score, A.comment, A.now
local s = redis.call('HMGET', K.session(sid), 'state', 'buyer', 'lastAgent', 'rating')
if not s[1] or s[2] ~= buyer then fail('unknown_session', 'no session ' .. sid) end
transition('rate', sid, s[1])
if s[4] then fail('bad_state', 'session ' .. sid .. ' is already rated') end
redis.call('HSET', K.session(sid), 'rating', score, 'ratingComment', comment, 'ratedAt', now)
redis.call('HINCRBY', K.agent(s[3]), 'ratingSum', score)
redis.call('HINCRBY', K.agent(s[3]), 'ratingCount', 1)
emitEvent('session.rated', sid, now, { buyerId = buyer, agentId = s[3], score = tonumber(score), comment = comment ~= '' and comment or nil })
return cjson.encode({})
