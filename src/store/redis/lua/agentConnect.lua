-- ARGV: agentId, connId, now
-- Returns {status, rolesCsv, capacity, load, {sessions}, {offers}, ratingSum, ratingCount, replyMisses}.
local aid, conn, now = ARGV[1], ARGV[2], ARGV[3]
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
local a = redis.call('HMGET', key, 'status', 'roles', 'capacity', 'load', 'ratingSum', 'ratingCount', 'replyMisses')
return {
  a[1], a[2], tonumber(a[3]), tonumber(a[4]), redis.call('SMEMBERS', key .. ':s'), redis.call('SMEMBERS', key .. ':o'),
  tonumber(a[5] or '0'), tonumber(a[6] or '0'), tonumber(a[7] or '0'),
}
