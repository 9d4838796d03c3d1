-- ARGV: agentId, connId, now, allowedRolesCsv ('*' = every role: the token names none)
-- Returns {status, rolesCsv, capacity, load, {sessions}, {offers}, ratingSum, ratingCount, replyMisses}.
local aid, conn, now, allowed = ARGV[1], ARGV[2], ARGV[3], ARGV[4] or '*'
local key = akey(aid)
redis.call('SADD', key .. ':c', conn)
redis.call('SADD', P .. 'agents', aid)
local status = redis.call('HGET', key, 'status')
if not status then
  redis.call('HSET', key, 'status', 'away', 'want', 'away', 'roles', '', 'capacity', 0, 'load', 0, 'idle', now)
elseif status == 'offline' then
  -- Back within (or after) grace: the agent did not choose to leave, so it gets its
  -- previous readiness back along with whatever sessions it still holds.
  local want = redis.call('HGET', key, 'want') or 'away'
  redis.call('HSET', key, 'status', want)
  redis.call('HDEL', key, 'graceUntil')
  redis.call('ZREM', P .. 'grace', aid)
  refreshAvail(aid)
end
-- The token decides what the agent may serve, on every connect: roles it no longer allows
-- are dropped from the readiness the agent comes back to (none left: away).
if allowed ~= '*' then
  local ok, keep, dropped = {}, {}, false
  for role in string.gmatch(allowed, '[^,]+') do ok[role] = true end
  for role in string.gmatch(redis.call('HGET', key, 'roles') or '', '[^,]+') do
    if ok[role] then keep[#keep + 1] = role else dropped = true; redis.call('ZREM', P .. 'av:' .. role, aid) end
  end
  if dropped then
    redis.call('HSET', key, 'roles', table.concat(keep, ','))
    if #keep == 0 then redis.call('HSET', key, 'status', 'away', 'want', 'away') end
    refreshAvail(aid)
  end
end
local a = redis.call('HMGET', key, 'status', 'roles', 'capacity', 'load', 'ratingSum', 'ratingCount', 'replyMisses')
return {
  a[1], a[2], tonumber(a[3]), tonumber(a[4]), redis.call('SMEMBERS', key .. ':s'), redis.call('SMEMBERS', key .. ':o'),
  tonumber(a[5] or '0'), tonumber(a[6] or '0'), tonumber(a[7] or '0'),
}
