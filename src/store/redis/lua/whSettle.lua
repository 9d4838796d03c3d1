-- Settles webhook deliveries in one step: per delivery job 'done' (delivered: forgotten),
-- 'retry' (kept, due at `at`) or 'park' (into the dead-letter stream, at most deadMax kept);
-- then the outbox entries they came from are acknowledged and deleted (each became one job per
-- subscriber), and a replayed dead letter, if any, leaves the dead letters.
-- ARGV: entryIds (comma-separated, '' = none), ops (JSON [{job, op, at?, body?}]), deadMax,
--       replayedId ('' = none). Returns 1, or with a replayedId whether it was still there.
local entry, ops, deadMax, replayed = ARGV[1], cjson.decode(ARGV[2]), ARGV[3], ARGV[4] or ''
local retryKey, jobKey, dead = P .. 'wh:retry', P .. 'wh:job', P .. 'wh:dead'
for _, o in ipairs(ops) do
  if o.op == 'retry' then
    redis.call('HSET', jobKey, o.job, o.body)
    redis.call('ZADD', retryKey, int(o.at), o.job)
  else
    redis.call('ZREM', retryKey, o.job)
    redis.call('HDEL', jobKey, o.job)
    if o.op == 'park' then redis.call('XADD', dead, 'MAXLEN', '~', deadMax, '*', 'job', o.body) end
  end
end
for id in string.gmatch(entry, '[^,]+') do
  redis.call('XACK', P .. 'wh:out', 'd', id)
  redis.call('XDEL', P .. 'wh:out', id)
end
if replayed ~= '' then return redis.call('XDEL', dead, replayed) end
return 1
