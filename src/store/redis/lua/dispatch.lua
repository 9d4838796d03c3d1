-- Pairs the oldest waiting sessions of one role with the best available agents.
-- ARGV: role, now, offerTimeoutMs, max
-- Returns {sessionId, agentId, expiresAt, ...}.
local role, now, timeout, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local qkey, avkey = P .. 'q:' .. role, P .. 'av:' .. role
-- How far down the queue and the agent list to look past exclusions (declines, transfers).
local SCAN = 20
local out = {}

local function eligible(sid, aid)
  local until_ = redis.call('HGET', skey(sid), 'x:' .. aid)
  return not until_ or tonumber(until_) <= now
end

while #out < max * 3 do
  local agents = redis.call('ZRANGE', avkey, 0, SCAN - 1)
  if #agents == 0 then break end
  local sessions = redis.call('ZRANGE', qkey, 0, SCAN - 1)
  if #sessions == 0 then break end
  local matched, pruned = false, false
  for _, sid in ipairs(sessions) do
    local s = redis.call('HMGET', skey(sid), 'state', 'role')
    if not LIFECYCLE.offer[s[1]] or s[2] ~= role then
      -- A leftover entry (closed or moved meanwhile) must not block the queue.
      redis.call('ZREM', qkey, sid)
      pruned = true
    else
      for _, aid in ipairs(agents) do
        if eligible(sid, aid) then
          local expires = now + timeout
          redis.call('ZREM', qkey, sid)
          redis.call('HSET', skey(sid), 'state', LIFECYCLE.offer[s[1]], 'agent', aid, 'offerExp', int(expires))
          redis.call('ZADD', P .. 'offers', int(expires), sid)
          redis.call('SADD', akey(aid) .. ':o', sid)
          redis.call('HINCRBY', akey(aid), 'load', 1)
          refreshAvail(aid)
          out[#out + 1] = sid
          out[#out + 1] = aid
          out[#out + 1] = expires
          matched = true
          break
        end
      end
    end
    if matched then break end
  end
  if not matched and not pruned then break end
end
return out
