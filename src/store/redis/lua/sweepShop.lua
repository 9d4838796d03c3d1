-- One sweep of one shop: everything due now, and when the shop next needs a sweep.
-- ARGV: now, silentSince (-1 = idle close off), replyCutoff, queuedBefore (-1 = no queue
--       limit), idleCloseMs, replyWindowMs, maxQueuedMs, batch, rolesCsv
-- Returns {offers, grace, closing, idle, replies, queueExpired, queuedCount, nextDue}
--   nextDue: the earliest time anything of the shop falls due (now while sessions wait in a
--            queue: dispatch is retried every sweep); -1 when nothing is pending at all.
local now, silentSince, replyCutoff, queuedBefore = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local idleMs, replyMs, maxQueuedMs, batch, roles = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local abandonMs = tonumber(ARGV[10] or '-1')

local function due(name, upTo)
  if upTo < 0 then return {} end
  return redis.call('ZRANGEBYSCORE', P .. name, '-inf', int(upTo), 'LIMIT', 0, batch)
end
local nextDue = nil
local function soonest(name, after)
  if after < 0 then return end
  local head = redis.call('ZRANGE', P .. name, 0, 0, 'WITHSCORES')
  if head[2] then
    local t = tonumber(head[2]) + after
    if not nextDue or t < nextDue then nextDue = t end
  end
end

local queued = 0
for role in string.gmatch(roles, '[^,]+') do queued = queued + redis.call('ZCARD', P .. 'q:' .. role) end
soonest('offers', 0)
soonest('grace', 0)
soonest('closing', 0)
soonest('idle', silentSince >= 0 and idleMs or -1)
soonest('reply', replyMs)
soonest('qt', queuedBefore >= 0 and maxQueuedMs or -1)
soonest('ab', abandonMs)
if queued > 0 and (not nextDue or now < nextDue) then nextDue = now end
return {
  due('offers', now), due('grace', now), due('closing', now), due('idle', silentSince),
  due('reply', replyCutoff), due('qt', queuedBefore), queued, nextDue and int(nextDue) or -1,
  due('ab', abandonMs >= 0 and now - abandonMs or -1),
}
