-- One delivery round of the shop's webhook outbox for one gateway instance (`consumer` of
-- the group 'd' every instance shares): entries another instance read and left pending past
-- minIdleMs (it died mid-delivery), then new entries, then retries that are due, each leased
-- for leaseMs (moved that far ahead) so a dead instance's retry comes back to the others.
-- In:  {consumer, minIdleMs, count, now, leaseMs}
-- Out: {entries: [{id, type, sessionId, ts, data}], retries: [{job, body}], backlog, retryHead}
--   backlog: outbox entries not settled yet (read or not); retryHead: the next retry's time, -1 = none.
-- Guarantees: an entry is handed to one consumer at a time; a retry read is leased, not lost.
local A = cjson.decode(ARGV[1])
local consumer, minIdle, count, now, lease = A.consumer, int(A.minIdleMs), A.count, A.now, A.leaseMs
local out, retryKey, jobKey = K.webhookOutbox(), K.webhookRetries(), K.webhookJobs()
local entries = {}
local function take(list)
  for _, e in ipairs(list) do
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    entries[#entries + 1] = { id = e[1], type = f.t or '', sessionId = f.s or '', ts = tonumber(f.ts or '0'), data = f.d or '{}' }
  end
end
if redis.call('EXISTS', out) == 1 then
  take(redis.call('XAUTOCLAIM', out, 'd', consumer, minIdle, '0-0', 'COUNT', count)[2])
  local fresh = redis.call('XREADGROUP', 'GROUP', 'd', consumer, 'COUNT', count, 'STREAMS', out, '>')
  if fresh then take(fresh[1][2]) end
end
local retries = {}
for _, job in ipairs(redis.call('ZRANGEBYSCORE', retryKey, '-inf', int(now), 'LIMIT', 0, count)) do
  redis.call('ZADD', retryKey, int(now + lease), job)
  retries[#retries + 1] = { job = job, body = redis.call('HGET', jobKey, job) or '' }
end
local head = redis.call('ZRANGE', retryKey, 0, 0, 'WITHSCORES')
return cjson.encode({ entries = entries, retries = retries, backlog = redis.call('XLEN', out), retryHead = head[2] and tonumber(head[2]) or -1 })
