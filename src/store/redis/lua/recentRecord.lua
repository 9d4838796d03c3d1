-- Ops dashboard stats (src/store/recent-stats.ts): adds to one role's counters in one short
-- bucket and raises its maxima, so every instance reads the same last half hour.
-- In:  {bucket, bucketMs, expireAt, role, add = {field = n}, max = {field = n}}
-- Out: {}
local a = cjson.decode(ARGV[1])
local key = K.recentBucket(int(a.bucketMs) .. ':' .. int(a.bucket))
for f, by in pairs(a.add) do redis.call('HINCRBY', key, a.role .. '|' .. f, int(by)) end
for f, v in pairs(a.max) do
  local field = a.role .. '|' .. f
  local cur = tonumber(redis.call('HGET', key, field))
  if not cur or v > cur then redis.call('HSET', key, field, int(v)) end
end
redis.call('PEXPIREAT', key, int(a.expireAt))
return cjson.encode({})
