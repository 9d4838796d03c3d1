-- Ends a session.
-- In:  {sessionId, mode, agentId, reason, now, retentionMs, blockMs, rateWindowMs, line,
--       lineKind, goodbye, idleBefore, queuedBefore, offlineBefore} (absent: 0, '' or -1)
--   mode 'close': its agent ends the chat. With rateWindowMs > 0 the session goes `closing`
--                 and the buyer gets `line` (the rating invite); else `goodbye`, then closed.
--   mode 'block': its agent ends the chat and blocks the buyer for blockMs.
--   mode 'end':   the system ends it from any unfinished state, saying `line` if given.
--                 With idleBefore >= 0 only a `bot` or `assigned` session whose buyer has
--                 been silent since before idleBefore (else returns false).
--                 With queuedBefore >= 0 only a `queued` session that has waited without an
--                 agent since at or before queuedBefore (else returns false).
--                 With offlineBefore >= 0 only a `queued` session whose buyer has been
--                 offline since at or before offlineBefore (abandoned; else returns false).
-- Out: {buyerId, agentId ('' = none), state (after), role}, or false (see idleBefore...).
local A = cjson.decode(ARGV[1])
local sid, mode, aid, reason, now = A.sessionId, A.mode, A.agentId or '', A.reason, A.now
local retention, blockMs, window = A.retentionMs, A.blockMs or 0, A.rateWindowMs or 0
local line, lineKind, goodbye, idleBefore = A.line or '', A.lineKind or '', A.goodbye or '', A.idleBefore or -1
local queuedBefore = A.queuedBefore or -1
local offlineBefore = A.offlineBefore or -1
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'agent', 'buyer', 'role')
local state, holder, buyer, role = s[1], s[2], s[3], s[4]

if idleBefore >= 0 then
  local since = redis.call('ZSCORE', K.idle(), sid)
  if not state or (state ~= 'bot' and state ~= 'assigned') then
    redis.call('ZREM', K.idle(), sid)
    return false
  end
  if not since or tonumber(since) > idleBefore then return false end
end
if queuedBefore >= 0 then
  local since = redis.call('ZSCORE', K.queuedSince(), sid)
  if state ~= 'queued' then
    redis.call('ZREM', K.queuedSince(), sid)
    return false
  end
  if not since or tonumber(since) > queuedBefore then return false end
end
if offlineBefore >= 0 then
  local off = redis.call('HGET', key, 'off')
  if state ~= 'queued' or not off then
    redis.call('ZREM', K.abandon(), sid)
    return false
  end
  if tonumber(off) > offlineBefore then return false end
end
if not state then fail('unknown_session', 'no session ' .. sid) end
local nxt = transition(mode, sid, state, holder, aid)
if mode == 'close' and window <= 0 then nxt = 'closed' end

local listener = nil
if state == 'assigned' then listener = holder end
if mode == 'end' and line ~= '' then
  pushEvent(sid, { from = 'bot', text = line, ts = now, kind = lineKind }, buyer, listener)
end
detach(sid, state, role, holder, now)

if nxt == 'closing' then
  local untilMs = now + window
  redis.call('HSET', key, 'state', 'closing', 'closingUntil', int(untilMs), 'closeReason', reason)
  redis.call('ZADD', K.closing(), int(untilMs), sid)
  pushEvent(sid, { from = 'bot', text = line, ts = now, kind = 'rating_invite' }, buyer, nil)
else
  if mode == 'close' and goodbye ~= '' then
    pushEvent(sid, { from = 'bot', text = goodbye, ts = now, kind = 'goodbye' }, buyer, nil)
  end
  finalClose(sid, buyer, reason, now, retention)
  if mode == 'block' then
    redis.call('SET', K.block(buyer), reason, 'PX', int(blockMs))
    emitEvent('buyer.blocked', sid, now, { buyerId = buyer, agentId = aid, reason = reason, untilTs = now + blockMs })
  end
end
return cjson.encode({ buyerId = buyer, agentId = holder or '', state = nxt, role = role })
