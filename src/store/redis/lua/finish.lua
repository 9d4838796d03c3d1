-- The end of a rating window: the goodbye, then closed.
-- ARGV: sessionId, now, retentionMs, goodbye, onlyDue ('1': only if the window is over,
--       and false instead of an error when there is nothing to finish)
-- Returns {buyerId, reason} or false.
local sid, now, retention, goodbye, onlyDue = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5] == '1'
local key = skey(sid)
local s = redis.call('HMGET', key, 'state', 'buyer', 'closingUntil', 'closeReason')
if onlyDue and (s[1] ~= 'closing' or tonumber(s[3]) > now) then
  if s[1] ~= 'closing' then redis.call('ZREM', P .. 'closing', sid) end
  return false
end
if not s[1] then fail('unknown_session', 'no session ' .. sid) end
transition('finish', sid, s[1])
if goodbye ~= '' then pushEvent(sid, { from = 'bot', text = goodbye, ts = ARGV[2], kind = 'goodbye' }, s[2], nil) end
local reason = s[4] or 'agent_closed'
finalClose(sid, s[2], reason, now, retention)
return { s[2], reason }
