-- The buyer's open session, or a new one (state `bot`) that expires unless the buyer writes.
-- In:  {buyerId, newSessionId, now, idleTtlMs, name ('' = none), vip, historyMax}
--   name and vip come from the buyer's token on every connect, so a resumed session sees the latest.
--   historyMax: the buyer's history index ('bh') keeps this many newest sessions (0 = no index).
-- Out: {sessionId, lastSeq, created}
local A = cjson.decode(ARGV[1])
local buyer, newSid, now, ttl = A.buyerId, A.newSessionId, A.now, A.idleTtlMs
local name, vip = A.name or '', A.vip or 0
local historyMax = A.historyMax or 0
local function identify(sid)
  redis.call('HSET', K.session(sid), 'vip', vip)
  if name ~= '' then redis.call('HSET', K.session(sid), 'bname', name) else redis.call('HDEL', K.session(sid), 'bname') end
end
if redis.call('EXISTS', K.block(buyer)) == 1 then
  fail('blocked', 'you are blocked from chatting with this shop')
end
local bskey = K.buyerSession(buyer)
local sid = redis.call('GET', bskey)
if sid then
  local s = redis.call('HMGET', K.session(sid), 'state', 'seq')
  if s[1] and s[1] ~= 'closed' then
    identify(sid)
    return cjson.encode({ sessionId = sid, lastSeq = tonumber(s[2]), created = false })
  end
end
-- A session nobody wrote in yet expires by itself; the first buyer message makes it persist.
redis.call('HSET', K.session(newSid), 'buyer', buyer, 'state', 'bot', 'role', '', 'arrived', 0, 'created', now, 'seq', 0)
identify(newSid)
redis.call('PEXPIRE', K.session(newSid), ttl)
redis.call('SET', bskey, newSid, 'PX', ttl)
if historyMax > 0 then
  local hk = K.buyerHistory(buyer)
  redis.call('ZADD', hk, now, newSid)
  redis.call('ZREMRANGEBYRANK', hk, 0, -(historyMax + 1))
  keepHistory(buyer, ttl)
end
emitEvent('session.opened', newSid, now, { buyerId = buyer })
return cjson.encode({ sessionId = newSid, lastSeq = 0, created = true })
