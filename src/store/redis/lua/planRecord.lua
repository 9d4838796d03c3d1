-- Staffing-plan stats (src/plan): adds to one role's counters in one time bucket, and keeps
-- when an agent took a session so its handle time is counted when the agent is done with it.
-- In:  {bucketStart, bucketMs, expireAtMs, role, now, assignedSid, agentId, handledSid,
--       markTtlMs, increments: {counter = by}}
-- Out: {}
local A = cjson.decode(ARGV[1])
local bucket = K.planBucket(int(A.bucketMs) .. ':' .. int(A.bucketStart))
local role, now = A.role, A.now
local function add(counter, by)
  if by ~= 0 then redis.call('HINCRBY', bucket, role .. '|' .. counter, by) end
end
for counter, by in pairs(A.increments or {}) do add(counter, by) end
local asid, aid, hsid = A.assignedSid or '', A.agentId or '', A.handledSid or ''
if hsid ~= '' then
  local mark = K.pickedAt(hsid)
  local at = redis.call('GET', mark)
  if at then
    redis.call('DEL', mark)
    add('handled', 1)
    add('handleMs', math.max(0, now - tonumber(at)))
  end
end
if asid ~= '' then
  redis.call('SET', K.pickedAt(asid), int(now), 'PX', A.markTtlMs)
  add('concurrencySum', redis.call('SCARD', K.agentSessions(aid)))
  add('capacitySum', tonumber(redis.call('HGET', K.agent(aid), 'capacity')) or 0)
end
if redis.call('EXISTS', bucket) == 1 then redis.call('PEXPIREAT', bucket, A.expireAtMs) end
return cjson.encode({})
