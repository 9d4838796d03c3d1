-- Prepended to every script by src/store/redis/scripts.ts.
-- KEYS[1] is the shop's key prefix ("pd:{shop}:"). Every key a script touches starts with it,
-- so all keys of one shop share a hash slot and the scripts run unchanged on Redis Cluster.
local P = KEYS[1]

local function fail(code, message)
  error({ err = 'PEAK ' .. code .. ' ' .. message })
end

local function skey(sid) return P .. 's:' .. sid end
local function akey(aid) return P .. 'a:' .. aid end

-- Scores must stay exact integers; Lua's default number formatting would round them.
local function int(n) return string.format('%.0f', n) end

-- An agent is offered work in a role while it is ready and below capacity. The score orders
-- candidates by load first, then by how long they have been idle (oldest idle first).
local LOAD_WEIGHT = 1e13
local function refreshAvail(aid)
  local a = redis.call('HMGET', akey(aid), 'status', 'roles', 'capacity', 'load', 'idle')
  if not a[1] then return end
  local load = tonumber(a[4] or '0')
  local open = a[1] == 'ready' and load < tonumber(a[3] or '0')
  local score = int(load * LOAD_WEIGHT + tonumber(a[5] or '0'))
  for role in string.gmatch(a[2] or '', '[^,]+') do
    if open then
      redis.call('ZADD', P .. 'av:' .. role, score, aid)
    else
      redis.call('ZREM', P .. 'av:' .. role, aid)
    end
  end
end

-- Frees one unit of an agent's load. Ending real work (not an unanswered offer) restarts
-- the agent's idle clock, which is what "longest idle" ranks by.
local function releaseLoad(aid, now, endsWork)
  local load = redis.call('HINCRBY', akey(aid), 'load', -1)
  if load < 0 then redis.call('HSET', akey(aid), 'load', 0) end
  if endsWork then redis.call('HSET', akey(aid), 'idle', now) end
  refreshAvail(aid)
end

-- Back into its role's queue with its original arrival time, which puts it ahead of
-- everyone who arrived later.
local function requeue(sid)
  local s = redis.call('HMGET', skey(sid), 'role', 'arrived', 'buyer')
  redis.call('HSET', skey(sid), 'state', 'queued')
  redis.call('HDEL', skey(sid), 'agent', 'offerExp')
  redis.call('ZREM', P .. 'offers', sid)
  redis.call('ZADD', P .. 'q:' .. s[1], s[2], sid)
  return s
end

-- Re-queues the sessions of an agent's set (its offers ':o' or sessions ':s') that are still
-- in `state` with that agent, and deletes the set. Returns {sessionId, buyerId, role, ...}.
local function requeueHeld(aid, suffix, state)
  local out = {}
  for _, sid in ipairs(redis.call('SMEMBERS', akey(aid) .. suffix)) do
    local st = redis.call('HMGET', skey(sid), 'state', 'agent')
    if st[1] == state and st[2] == aid then
      local s = requeue(sid)
      out[#out + 1] = sid
      out[#out + 1] = s[3]
      out[#out + 1] = s[1]
    end
  end
  redis.call('DEL', akey(aid) .. suffix)
  return out
end
