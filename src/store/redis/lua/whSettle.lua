-- Settles webhook deliveries in one step: per delivery job 'done' (delivered: forgotten),
-- 'retry' (kept, due at `at`) or 'park' (into the dead-letter stream, at most deadMax kept);
-- then the outbox entries they came from are acknowledged and deleted (each became one job per
-- subscriber), and a replayed dead letter, if any, leaves the dead letters.
-- In:  {entryIds: [id, ...], ops: [{job, op, at?, body?}], deadMax, replayedId ('' = none)}
-- Out: {found}: with a replayedId, whether that dead letter was still there; else true.
local A = cjson.decode(ARGV[1])
local ops, deadMax, replayed = A.ops, A.deadMax, A.replayedId or ''
local retryKey, jobKey, dead = K.webhookRetries(), K.webhookJobs(), K.webhookDead()
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
for _, id in ipairs(A.entryIds) do
  redis.call('XACK', K.webhookOutbox(), 'd', id)
  redis.call('XDEL', K.webhookOutbox(), id)
end
if replayed ~= '' then return cjson.encode({ found = redis.call('XDEL', dead, replayed) == 1 }) end
return cjson.encode({ found = true })
