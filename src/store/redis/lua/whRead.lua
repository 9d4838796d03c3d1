-- One delivery round of the shop's webhook outbox for one gateway instance (`consumer` of
-- the group 'd' every instance shares): entries another instance read and left pending past
-- minIdleMs (it died mid-delivery), then new entries, then retries that are due, each leased
-- for leaseMs (moved that far ahead) so a dead instance's retry comes back to the others.
-- ARGV: consumer, minIdleMs, count, now, leaseMs
-- Returns {entries {id, type, sessionId, ts, data, ...}, retries {job, body, ...}, backlog, retryHead}
--   backlog: outbox entries not settled yet (read or not); retryHead: the next retry's time, -1 = none.
local consumer, minIdle, count, now, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out, retryKey, jobKey = P .. 'wh:out', P .. 'wh:retry', P .. 'wh:job'
local entries = {}
local function take(list)
  for _, e in ipairs(list) do
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    for _, v in ipairs({ e[1], f.t or '', f.s or '', f.ts or '0', f.d or '{}' }) do entries[#entries + 1] = v end
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
  retries[#retries + 1] = job
  retries[#retries + 1] = redis.call('HGET', jobKey, job) or ''
end
local head = redis.call('ZRANGE', retryKey, 0, 0, 'WITHSCORES')
return { entries, retries, redis.call('XLEN', out), head[2] and int(head[2]) or -1 }
