-- One of an agent's connections arrives: back from offline within grace, readiness kept;
-- roles its token no longer allows dropped.
-- In:  {agentId, connId, now, allowedRoles? (absent: every role: the token names none)}
-- Out: {status, roles (csv), capacity, load, sessions, offers, ratingSum, ratingCount, replyMisses}
local A = cjson.decode(ARGV[1])
local aid, conn, now, allowed = A.agentId, A.connId, A.now, A.allowedRoles
local key = K.agent(aid)
redis.call('SADD', K.agentConns(aid), conn)
redis.call('SADD', K.agents(), aid)
local status = redis.call('HGET', key, 'status')
if not status then
  redis.call('HSET', key, 'status', 'away', 'want', 'away', 'roles', '', 'capacity', 0, 'load', 0, 'idle', now)
elseif status == 'offline' then
  -- Back within (or after) grace: the agent did not choose to leave, so it gets its
  -- previous readiness back along with whatever sessions it still holds.
  local want = redis.call('HGET', key, 'want') or 'away'
  redis.call('HSET', key, 'status', want)
  redis.call('HDEL', key, 'graceUntil')
  redis.call('ZREM', K.grace(), aid)
  refreshAvail(aid)
end
-- The token decides what the agent may serve, on every connect: roles it no longer allows
-- are dropped from the readiness the agent comes back to (none left: away).
if allowed then
  local ok, keep, dropped = {}, {}, false
  for _, role in ipairs(allowed) do ok[role] = true end
  for role in string.gmatch(redis.call('HGET', key, 'roles') or '', '[^,]+') do
    if ok[role] then keep[#keep + 1] = role else dropped = true; redis.call('ZREM', K.avail(role), aid) end
  end
  if dropped then
    redis.call('HSET', key, 'roles', table.concat(keep, ','))
    if #keep == 0 then redis.call('HSET', key, 'status', 'away', 'want', 'away') end
    refreshAvail(aid)
  end
end
local a = redis.call('HMGET', key, 'status', 'roles', 'capacity', 'load', 'ratingSum', 'ratingCount', 'replyMisses')
return cjson.encode({
  status = a[1], roles = a[2], capacity = tonumber(a[3]), load = tonumber(a[4]),
  sessions = redis.call('SMEMBERS', K.agentSessions(aid)), offers = redis.call('SMEMBERS', K.agentOffers(aid)),
  ratingSum = tonumber(a[5] or '0'), ratingCount = tonumber(a[6] or '0'), replyMisses = tonumber(a[7] or '0'),
})
