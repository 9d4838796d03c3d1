-- The end of a rating window: the goodbye, then closed.
-- In:  {sessionId, now, retentionMs, goodbye ('' = none), onlyDue (only if the window is over,
--       and false instead of an error when there is nothing to finish)}
-- Out: {buyerId, reason} or false.
local A = cjson.decode(ARGV[1])
local sid, now, retention, goodbye, onlyDue = A.sessionId, A.now, A.retentionMs, A.goodbye or '', A.onlyDue == true
local key = K.session(sid)
local s = redis.call('HMGET', key, 'state', 'buyer', 'closingUntil', 'closeReason')
if onlyDue and (s[1] ~= 'closing' or tonumber(s[3]) > now) then
  if s[1] ~= 'closing' then redis.call('ZREM', K.closing(), sid) end
  return false
end
if not s[1] then fail('unknown_session', 'no session ' .. sid) end
transition('finish', sid, s[1])
if goodbye ~= '' then pushEvent(sid, { from = 'bot', text = goodbye, ts = now, kind = 'goodbye' }, s[2], nil) end
local reason = s[4] or 'agent_closed'
finalClose(sid, s[2], reason, now, retention)
return cjson.encode({ buyerId = s[2], reason = reason })
