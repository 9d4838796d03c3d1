-- ARGV: buyerId, newSessionId, now, idleTtlMs, name ('' = none), vip, historyMax
--   name and vip come from the buyer's token on every connect, so a resumed session sees the latest.
--   historyMax: the buyer's history index ('bh') keeps this many newest sessions (0 = no index).
-- Returns {sessionId, lastSeq, created(0|1)}.
local buyer, newSid, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local name, vip = ARGV[5] or '', ARGV[6] or '0'
local historyMax = tonumber(ARGV[7] or '0')
local function identify(sid)
  redis.call('HSET', skey(sid), 'vip', vip)
  if name ~= '' then redis.call('HSET', skey(sid), 'bname', name) else redis.call('HDEL', skey(sid), 'bname') end
end
if redis.call('EXISTS', bkey('blk', buyer)) == 1 then
  fail('blocked', 'you are blocked from chatting with this shop')
end
local bkey = bkey('bs', buyer)
local sid = redis.call('GET', bkey)
if sid then
  local s = redis.call('HMGET', skey(sid), 'state', 'seq')
  if s[1] and s[1] ~= 'closed' then
    identify(sid)
    return { sid, tonumber(s[2]), 0 }
  end
end
-- A session nobody wrote in yet expires by itself; the first buyer message makes it persist.
redis.call('HSET', skey(newSid), 'buyer', buyer, 'state', 'bot', 'role', '', 'arrived', 0, 'created', now, 'seq', 0)
identify(newSid)
redis.call('PEXPIRE', skey(newSid), ttl)
redis.call('SET', bkey, newSid, 'PX', ttl)
if historyMax > 0 then
  local hk = historyKey(buyer)
  redis.call('ZADD', hk, now, newSid)
  redis.call('ZREMRANGEBYRANK', hk, 0, -(historyMax + 1))
  keepHistory(buyer, ttl)
end
emitEvent('session.opened', newSid, now, { buyerId = buyer })
return { newSid, 0, 1 }
