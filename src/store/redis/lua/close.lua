-- Ends a session from any open state; with blockMs > 0 also blocks its buyer.
-- ARGV: sessionId, agentId ('' = the system), reason, now, retentionMs, blockMs
-- Returns {buyerId, agentId or ''}.
local sid, aid, reason, now, retention, blockMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'buyer', 'role')
local state, holder, buyer = s[1], s[2], s[3]
if not state then fail('unknown_session', 'no session ' .. sid) end
if state == 'closed' then fail('bad_state', 'session ' .. sid .. ' is already closed') end
if aid ~= '' and (state ~= 'assigned' or holder ~= aid) then
  fail('not_assigned', 'session ' .. sid .. ' is not assigned to you')
end
if state == 'queued' then
  redis.call('ZREM', P .. 'q:' .. s[4], sid)
elseif state == 'offered' then
  redis.call('ZREM', P .. 'offers', sid)
  redis.call('SREM', akey(holder) .. ':o', sid)
  releaseLoad(holder, now, false)
elseif state == 'assigned' then
  redis.call('SREM', akey(holder) .. ':s', sid)
  releaseLoad(holder, now, true)
end
redis.call('HSET', key, 'state', 'closed', 'closedReason', reason, 'closedAt', int(now))
redis.call('HDEL', key, 'agent', 'offerExp')
if redis.call('GET', P .. 'bs:' .. buyer) == sid then redis.call('DEL', P .. 'bs:' .. buyer) end
for _, k in ipairs({ key, P .. 't:' .. sid, P .. 'm:' .. sid }) do redis.call('PEXPIRE', k, retention) end
if blockMs > 0 then redis.call('SET', P .. 'blk:' .. buyer, reason, 'PX', int(blockMs)) end
return { buyer, holder or '' }
