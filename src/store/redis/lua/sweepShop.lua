-- One sweep of one shop: everything due now, and when the shop next needs a sweep.
-- In:  {now, silentSince (-1 = idle close off), replyCutoff, queuedBefore (-1 = no queue
--       limit), idleCloseMs, replyWindowMs, maxQueuedMs, batch, roles, abandonMs (-1 = off)}
-- Out: {offers, grace, closing, idle, replies, queueExpired, abandoned (due ids, at most batch
--       each), queued (count), nextDue}
--   nextDue: the earliest time anything of the shop falls due (now while sessions wait in a
--            queue: dispatch is retried every sweep); -1 when nothing is pending at all.
local A = cjson.decode(ARGV[1])
local now, silentSince, replyCutoff, queuedBefore = A.now, A.silentSince, A.replyCutoff, A.queuedBefore
local idleMs, replyMs, maxQueuedMs, batch, roles = A.idleCloseMs, A.replyWindowMs, A.maxQueuedMs, A.batch, A.roles
local abandonMs = A.abandonMs or -1

local function due(name, upTo)
  if upTo < 0 then return {} end
  return redis.call('ZRANGEBYSCORE', K[name](), '-inf', int(upTo), 'LIMIT', 0, batch)
end
local nextDue = nil
local function soonest(name, after)
  if after < 0 then return end
  local head = redis.call('ZRANGE', K[name](), 0, 0, 'WITHSCORES')
  if head[2] then
    local t = tonumber(head[2]) + after
    if not nextDue or t < nextDue then nextDue = t end
  end
end

local queued = 0
for _, role in ipairs(roles) do queued = queued + redis.call('ZCARD', K.queue(role)) end
soonest('offers', 0)
soonest('grace', 0)
soonest('closing', 0)
soonest('idle', silentSince >= 0 and idleMs or -1)
soonest('reply', replyMs)
soonest('queuedSince', queuedBefore >= 0 and maxQueuedMs or -1)
soonest('abandon', abandonMs)
if queued > 0 and (not nextDue or now < nextDue) then nextDue = now end
return cjson.encode({
  offers = due('offers', now), grace = due('grace', now), closing = due('closing', now), idle = due('idle', silentSince),
  replies = due('reply', replyCutoff), queueExpired = due('queuedSince', queuedBefore), queued = queued,
  nextDue = nextDue and tonumber(int(nextDue)) or -1,
  abandoned = due('abandon', abandonMs >= 0 and now - abandonMs or -1),
})
