-- Pairs the oldest waiting sessions of one role with the best available agents of that role;
-- when its own queue has nothing for them, with sessions of the roles that overflow into it
-- (routing.overflow) that have waited without an agent longer than their afterMs. Such a
-- session never leaves its own queue for another: it is offered from where it waits, in this
-- one step, so it is offered once however many instances dispatch at once.
-- In:  {role, now, offerTimeoutMs, max, overflowFrom: [{role, afterMs}]}
-- Out: {offers: [{sessionId, agentId, expiresAt, role (the session's), overflow, sticky}]}
--   sticky: 0 no known agent, 1 offered to the buyer's known agent, 2 known agent missed.
local A = cjson.decode(ARGV[1])
local role, now, timeout, max = A.role, A.now, A.offerTimeoutMs, A.max
local avkey = K.avail(role)
-- How far down the queue and the agent list to look past exclusions (declines, transfers).
local SCAN = 20
local out = {}
local sources = {}
for _, o in ipairs(A.overflowFrom or {}) do
  if o.role ~= role then sources[#sources + 1] = { o.role, o.afterMs } end
end

local function eligible(sid, aid)
  local until_ = redis.call('HGET', K.session(sid), 'x:' .. aid)
  return not until_ or tonumber(until_) <= now
end

-- One offer from the queue of `qrole` to one of `agents`; cutoff (overflow only): the session
-- must have been waiting since at or before it. Returns matched, pruned.
local function offerFrom(qrole, agents, cutoff)
  local qkey = K.queue(qrole)
  local pruned = false
  for _, sid in ipairs(redis.call('ZRANGE', qkey, 0, SCAN - 1)) do
    local s = redis.call('HMGET', K.session(sid), 'state', 'role')
    if not LIFECYCLE.offer[s[1]] or s[2] ~= qrole then
      -- A leftover entry (closed or moved meanwhile) must not block the queue.
      redis.call('ZREM', qkey, sid)
      pruned = true
    else
      local since = cutoff and redis.call('ZSCORE', K.queuedSince(), sid)
      -- A session held for its buyer's known agent goes to that agent only, while the agent
      -- is ready for the role (busy: it waits, at most until stickyUntil; away, offline: no hold).
      local st = redis.call('HMGET', K.session(sid), 'sticky', 'stickyUntil')
      local candidates, stk = agents, 0
      if st[1] then
        stk = 2
        local a = redis.call('HMGET', K.agent(st[1]), 'status', 'roles')
        local serves = a[1] == 'ready' and string.find(',' .. (a[2] or '') .. ',', ',' .. qrole .. ',', 1, true)
        if not serves or tonumber(st[2]) <= now then
          redis.call('HDEL', K.session(sid), 'sticky', 'stickyUntil')
        elseif redis.call('ZSCORE', avkey, st[1]) then
          candidates, stk = { st[1] }, 1
        else
          candidates = {}
        end
      end
      if not cutoff or (since and tonumber(since) <= cutoff) then
        for _, aid in ipairs(candidates) do
          if eligible(sid, aid) then
            local expires = now + timeout
            redis.call('ZREM', qkey, sid)
            redis.call('HSET', K.session(sid), 'state', LIFECYCLE.offer[s[1]], 'agent', aid, 'offerExp', int(expires))
            if cutoff then redis.call('HSET', K.session(sid), 'ovf', role) else redis.call('HDEL', K.session(sid), 'ovf') end
            redis.call('HDEL', K.session(sid), 'sticky', 'stickyUntil')
            redis.call('ZADD', K.offers(), int(expires), sid)
            redis.call('SADD', K.agentOffers(aid), sid)
            redis.call('HINCRBY', K.agent(aid), 'load', 1)
            refreshAvail(aid)
            out[#out + 1] = { sessionId = sid, agentId = aid, expiresAt = expires, role = qrole, overflow = cutoff ~= nil, sticky = stk }
            return true, pruned
          end
        end
      end
    end
  end
  return false, pruned
end

while #out < max do
  local agents = redis.call('ZRANGE', avkey, 0, SCAN - 1)
  if #agents == 0 then break end
  local matched, pruned = offerFrom(role, agents, nil)
  -- The role's own buyers first; overflow only fills agents its own queue leaves idle.
  if not matched and not pruned then
    for _, src in ipairs(sources) do
      matched, pruned = offerFrom(src[1], agents, now - src[2])
      if matched or pruned then break end
    end
  end
  if not matched and not pruned then break end
end
return cjson.encode({ offers = out })
