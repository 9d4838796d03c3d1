-- Ops dashboard gauges (src/store/recent-stats.ts): per role, the queue (waiting, of them
-- offline, the head's wait) and the agents (ready, their capacity, sessions in use), sampled
-- once per bucket: the first instance to get there writes it, the others answer sampled = false.
-- An agent of several roles counts in each. The work is one pass over the shop's agents.
-- In:  {bucket, bucketMs, expireAt, now, roles = {role, ...}}
-- Out: {sampled}: false when another instance sampled this bucket first
local a = cjson.decode(ARGV[1])
local key = K.recentBucket(int(a.bucketMs) .. ':' .. int(a.bucket))
if redis.call('HSETNX', key, '_sampled', int(a.now)) == 0 then return cjson.encode({ sampled = false }) end
local ready, cap, used = {}, {}, {}
for _, role in ipairs(a.roles) do ready[role], cap[role], used[role] = 0, 0, 0 end
for _, aid in ipairs(redis.call('SMEMBERS', K.agents())) do
  local h = redis.call('HMGET', K.agent(aid), 'status', 'roles', 'capacity', 'load')
  if h[1] == 'ready' or h[1] == 'away' then
    for role in string.gmatch(h[2] or '', '[^,]+') do
      if ready[role] then
        used[role] = used[role] + (tonumber(h[4]) or 0)
        if h[1] == 'ready' then
          ready[role] = ready[role] + 1
          cap[role] = cap[role] + (tonumber(h[3]) or 0)
        end
      end
    end
  end
end
for _, role in ipairs(a.roles) do
  local q = K.queue(role)
  local head = redis.call('ZRANGE', q, 0, 0)[1]
  local arrived = head and tonumber(redis.call('HGET', K.session(head), 'arrived'))
  redis.call('HSET', key,
    role .. '|waiting', redis.call('ZCARD', q),
    role .. '|offline', redis.call('ZCOUNT', q, int(OFFLINE_SHIFT), '+inf'),
    role .. '|oldestWaitMs', arrived and int(math.max(0, a.now - arrived)) or 0,
    role .. '|agentsReady', ready[role],
    role .. '|capacity', cap[role],
    role .. '|inUse', used[role])
end
redis.call('PEXPIREAT', key, int(a.expireAt))
return cjson.encode({ sampled = true })
