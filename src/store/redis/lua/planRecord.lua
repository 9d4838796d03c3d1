-- Staffing-plan stats (src/plan): adds to one role's counters in one time bucket, and keeps
-- when an agent took a session so its handle time is counted when the agent is done with it.
-- ARGV: bucketStart, bucketMs, expireAtMs, role, now, assignedSid, agentId, handledSid,
--       markTtlMs, then counter/increment pairs.
local bucket = P .. 'ps:' .. ARGV[2] .. ':' .. ARGV[1]
local role, now = ARGV[4], tonumber(ARGV[5])
local function add(counter, by)
  if by ~= 0 then redis.call('HINCRBY', bucket, role .. '|' .. counter, by) end
end
for i = 10, #ARGV, 2 do add(ARGV[i], tonumber(ARGV[i + 1])) end
local asid, aid, hsid = ARGV[6], ARGV[7], ARGV[8]
if hsid ~= '' then
  local mark = P .. 'pa:' .. hsid
  local at = redis.call('GET', mark)
  if at then
    redis.call('DEL', mark)
    add('handled', 1)
    add('handleMs', math.max(0, now - tonumber(at)))
  end
end
if asid ~= '' then
  redis.call('SET', P .. 'pa:' .. asid, int(now), 'PX', ARGV[9])
  add('concurrencySum', redis.call('SCARD', akey(aid) .. ':s'))
  add('capacitySum', tonumber(redis.call('HGET', akey(aid), 'capacity')) or 0)
end
if redis.call('EXISTS', bucket) == 1 then redis.call('PEXPIREAT', bucket, ARGV[3]) end
return 1
