-- Prepended to every script by src/store/redis/scripts.ts, after the lifecycle table
-- (LIFECYCLE, AGENT_ACTIONS, ENDED) rendered from src/store/lifecycle.ts.
-- Every script's boundary is one JSON object in (ARGV[1], cjson.decode) and one out (cjson.encode,
-- or false where its header says so); src/store/redis/script-io.ts types and checks both sides.
-- P is KEYS[1], the shop's key prefix ("pd:{shop}:"), set by scripts.ts before this runs.
-- Every key a script touches starts with it, so all keys of one shop share a hash slot and
-- the scripts run unchanged on Redis Cluster.

local function fail(code, message)
  error({ err = 'PEAK ' .. code .. ' ' .. message })
end

-- Keys come from K (rendered from keys.ts in front of this): ids go into key names
-- percent-encoded (':' and '%'), so an id like 'x:o' can never name another key.

-- Scores must stay exact integers; Lua's default number formatting would round them.
local function int(n) return string.format('%.0f', n) end

-- The state `action` leads to from `state`, or the client's error (see lifecycle.ts).
local function transition(action, sid, state, holder, actor)
  local nxt = LIFECYCLE[action][state]
  if AGENT_ACTIONS[action] and not ENDED[state] and (not nxt or holder ~= actor) then
    fail('not_assigned', 'session ' .. sid .. ' is not assigned to you')
  end
  if not nxt then fail('bad_state', 'cannot ' .. action .. ' session ' .. sid .. ': it is ' .. tostring(state)) end
  return nxt
end

-- Stores one transcript event and publishes it, in the same step, so seq order is delivery
-- order. ev: {from, text, ts, agent?, role?, kind?, x?}; x: the JSON of {card?, attachments?},
-- stored as one field and merged into the frame. The buyer hears everything but its own
-- lines; `agent` (the session's holder, or nil) everything but its own.
local function pushEvent(sid, ev, buyer, agent)
  local seq = redis.call('HINCRBY', K.session(sid), 'seq', 1)
  local fields = { 'f', ev.from, 't', ev.text, 'ts', ev.ts }
  local msg = { type = 'message', sessionId = sid, seq = seq, from = ev.from, text = ev.text, ts = tonumber(ev.ts) }
  if ev.agent then fields[#fields + 1] = 'a'; fields[#fields + 1] = ev.agent end
  if ev.role then fields[#fields + 1] = 'r'; fields[#fields + 1] = ev.role; msg.role = ev.role end
  if ev.kind then fields[#fields + 1] = 'k'; fields[#fields + 1] = ev.kind; msg.kind = ev.kind end
  local bytes = #ev.text
  if ev.x and ev.x ~= '' then
    fields[#fields + 1] = 'x'; fields[#fields + 1] = ev.x
    for k, v in pairs(cjson.decode(ev.x)) do msg[k] = v end
    bytes = bytes + #ev.x
  end
  redis.call('XADD', K.transcript(sid), seq .. '-0', unpack(fields))
  redis.call('HINCRBY', K.session(sid), 'bytes', bytes)
  local frame = cjson.encode(msg)
  if ev.from ~= 'buyer' and buyer then redis.call(PUBLISH, K.buyerChannel(buyer), frame) end
  if ev.from ~= 'agent' and agent then redis.call(PUBLISH, K.agentChannel(agent), frame) end
  return seq
end

-- An agent is offered work in a role while it is ready and below capacity. The score orders
-- candidates by load first, then by how long they have been idle (oldest idle first).
local LOAD_WEIGHT = 1e13
local function refreshAvail(aid)
  local a = redis.call('HMGET', K.agent(aid), 'status', 'roles', 'capacity', 'load', 'idle')
  if not a[1] then return end
  local load = tonumber(a[4] or '0')
  local open = a[1] == 'ready' and load < tonumber(a[3] or '0')
  local score = int(load * LOAD_WEIGHT + tonumber(a[5] or '0'))
  for role in string.gmatch(a[2] or '', '[^,]+') do
    if open then
      redis.call('ZADD', K.avail(role), score, aid)
    else
      redis.call('ZREM', K.avail(role), aid)
    end
  end
end

-- Frees one unit of an agent's load. Ending real work (not an unanswered offer) restarts
-- the agent's idle clock, which is what "longest idle" ranks by.
local function releaseLoad(aid, now, endsWork)
  local load = redis.call('HINCRBY', K.agent(aid), 'load', -1)
  if load < 0 then redis.call('HSET', K.agent(aid), 'load', 0) end
  if endsWork then redis.call('HSET', K.agent(aid), 'idle', now) end
  refreshAvail(aid)
end

-- The clocks that only run while an agent has the chat (idle close, reply window).
local function stopChatClocks(sid)
  redis.call('ZREM', K.idle(), sid)
  redis.call('ZREM', K.reply(), sid)
end

-- Since when a session has waited without an agent (sessions.maxQueuedMs counts from it):
-- kept while offers come back unanswered, restarted once an agent has had the chat.
-- A left message ('lm', queued outside its role's business hours) waits for the morning.
local function markQueued(sid, now)
  if redis.call('HEXISTS', K.session(sid), 'lm') == 0 then redis.call('ZADD', K.queuedSince(), 'NX', int(now), sid) end
end

-- While its buyer is offline ('off': since when) a queued session sorts after every online
-- one of its role: its score is shifted by OFFLINE_SHIFT (rendered from scripts.ts, far more
-- than any real wait), and back on return.
local function qscore(sid)
  local h = redis.call('HMGET', K.session(sid), 'prio', 'arrived', 'off')
  local score = tonumber(h[1] or h[2] or '0')
  if h[3] then score = score + OFFLINE_SHIFT end
  return int(score)
end

-- A session's buyer went offline (last connection gone) or came back. The abandonment clock
-- ('ab', by offline-since) runs while the buyer is away; the agent holding or offered the
-- session hears of it in the same step.
local function setPresence(sid, online, now)
  local s = redis.call('HMGET', K.session(sid), 'state', 'role', 'agent', 'off', 'lm')
  if not s[1] or ENDED[s[1]] or online == (not s[4]) then return end
  if online then
    redis.call('HDEL', K.session(sid), 'off')
    redis.call('ZREM', K.abandon(), sid)
  else
    redis.call('HSET', K.session(sid), 'off', int(now))
    -- A left message is not abandoned: its buyer is expected to be gone.
    if not s[5] then redis.call('ZADD', K.abandon(), int(now), sid) end
  end
  if s[1] == 'queued' then redis.call('ZADD', K.queue(s[2]), 'XX', qscore(sid), sid) end
  if (s[1] == 'offered' or s[1] == 'assigned') and s[3] then
    redis.call(PUBLISH, K.agentChannel(s[3]), cjson.encode({ type = 'buyer_status', sessionId = sid, online = online, since = tonumber(int(now)) }))
  end
end

-- Back into its role's queue at its priority: its original arrival time, less any VIP,
-- role and transfer boost, which puts it ahead of everyone who arrived later.
local function requeue(sid, now)
  local s = redis.call('HMGET', K.session(sid), 'role', 'arrived', 'buyer', 'prio', 'off', 'lm')
  redis.call('HSET', K.session(sid), 'state', 'queued')
  redis.call('HDEL', K.session(sid), 'agent', 'offerExp', 'ovf')
  redis.call('ZREM', K.offers(), sid)
  redis.call('ZADD', K.queue(s[1]), qscore(sid), sid)
  if s[5] and not s[6] then redis.call('ZADD', K.abandon(), 'NX', s[5], sid) end
  markQueued(sid, now)
  stopChatClocks(sid)
  return s
end

-- Re-queues the sessions of an agent's set (setKey: its offers or its sessions) that are still
-- in `state` with that agent, and deletes the set. Returns a list of {sessionId, buyerId, role}.
local function requeueHeld(aid, setKey, state, now)
  local out = {}
  for _, sid in ipairs(redis.call('SMEMBERS', setKey)) do
    local st = redis.call('HMGET', K.session(sid), 'state', 'agent')
    if st[1] == state and st[2] == aid then
      transition('requeue', sid, st[1])
      local s = requeue(sid, now)
      out[#out + 1] = { sessionId = sid, buyerId = s[3], role = s[1] }
    end
  end
  redis.call('DEL', setKey)
  return out
end

-- Takes a session away from whoever holds or awaits it (queue, offer, agent).
local function detach(sid, state, role, holder, now)
  if state == 'queued' then
    redis.call('ZREM', K.queue(role), sid)
  elseif state == 'offered' then
    redis.call('ZREM', K.offers(), sid)
    redis.call('SREM', K.agentOffers(holder), sid)
    releaseLoad(holder, now, false)
  elseif state == 'assigned' then
    redis.call('SREM', K.agentSessions(holder), sid)
    releaseLoad(holder, now, true)
  end
  redis.call('HDEL', K.session(sid), 'agent', 'offerExp')
  stopChatClocks(sid)
end

-- A buyer's history index ('bh', sessions by creation time) lives as long as the longest-lived
-- session it lists: its expiry is only ever extended ('0' = as long as an open session that
-- does not expire). Entries whose session is gone are dropped when read.
local function keepHistory(buyer, ttl)
  local k = K.buyerHistory(buyer)
  ttl = tonumber(ttl)
  if ttl <= 0 then redis.call('PERSIST', k); return end
  local left = redis.call('PTTL', k)
  if left == -1 or left < ttl then redis.call('PEXPIRE', k, int(ttl)) end
end

-- An open session's keys (hash, transcript, message ids, the buyer's session pointer) and the
-- buyer's history index live `life` past the session's last event. Renewing them is 6 or 7
-- commands, so a line renews them only when the last renewal ('renewedAt' in the session hash,
-- by the callers' clock) is slack = min(life / 10, 60 s) old or more, and then to life + slack:
-- the keys expire between life and life + slack after the last event (with instances whose
-- clocks are d apart, from life - d). 'renewedAt' is written only once the message-id hash
-- exists, so until then every line renews (and gives that hash its expiry once it is made).
local function renewLife(sid, buyer, life, now, renewedAt)
  local slack = math.min(math.floor(life / 10), 60000)
  if renewedAt and math.abs(now - tonumber(renewedAt)) < slack then return end
  local ttl = life + slack
  redis.call('PEXPIRE', K.session(sid), ttl)
  redis.call('PEXPIRE', K.transcript(sid), ttl)
  redis.call('PEXPIRE', K.buyerSession(buyer), ttl)
  keepHistory(buyer, ttl)
  if redis.call('PEXPIRE', K.msgIds(sid), ttl) == 1 then redis.call('HSET', K.session(sid), 'renewedAt', int(now)) end
end

-- A webhook event (src/domain/webhooks) into the shop's outbox, in the step that makes the
-- change it describes, so it is never lost or told of a change that did not happen. Only when
-- the shop has a subscriber for it: 'wh:sub' (event type -> 1) is kept from the config by the
-- store; a shop without webhooks pays one HEXISTS. data: a table, the event's `data`.
local function emitEvent(ev, sid, now, data)
  if redis.call('HEXISTS', K.webhookSubscribed(), ev) == 0 then return end
  local out = K.webhookOutbox()
  if redis.call('EXISTS', out) == 0 then redis.call('XGROUP', 'CREATE', out, 'd', '0', 'MKSTREAM') end
  redis.call('XADD', out, '*', 't', ev, 's', sid, 'ts', int(now), 'd', cjson.encode(data))
end

-- The last step of every ending: closed, readable for `retention` ms, then gone.
local function finalClose(sid, buyer, reason, now, retention)
  emitEvent('session.closed', sid, now, { buyerId = buyer, reason = reason })
  redis.call('HSET', K.session(sid), 'state', 'closed', 'closedReason', reason, 'closedAt', int(now))
  redis.call('HDEL', K.session(sid), 'closingUntil')
  redis.call('ZREM', K.closing(), sid)
  redis.call('ZREM', K.queuedSince(), sid)
  redis.call('ZREM', K.abandon(), sid)
  if redis.call('GET', K.buyerSession(buyer)) == sid then redis.call('DEL', K.buyerSession(buyer)) end
  for _, k in ipairs({ K.session(sid), K.transcript(sid), K.msgIds(sid) }) do redis.call('PEXPIRE', k, retention) end
  keepHistory(buyer, retention)
end

-- Token buckets shared by every instance (src/store/limits.ts mirrors the rule for the local
-- pre-check; test/rate-rule.test.ts keeps the two equal): each bucket is
-- a string "<tokens> <at ms>" (one GET and one SET a line; the keys' names are new since they
-- were hashes, so no instance of either kind meets the other's type), refilled at `rate` per
-- second up to `burst`. Takes one token from every bucket of `buckets` ({key, rate, burst})
-- or, when one is empty, from none.
local function takeTokens(buckets, now)
  local left = {}
  for i, b in ipairs(buckets) do
    local rate, burst = tonumber(b[2]), tonumber(b[3])
    local tokens, at = burst, now
    local v = redis.call('GET', b[1])
    if v then
      local t, a = string.match(v, '^(%S+) (%S+)$')
      tokens, at = tonumber(t), tonumber(a)
    end
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
    if tokens < 1 then return false end
    left[i] = tokens - 1
  end
  for i, b in ipairs(buckets) do
    -- A full bucket is the same as none: the key lives only while it is refilling.
    redis.call('SET', b[1], tostring(left[i]) .. ' ' .. int(now), 'PX', math.ceil(tonumber(b[3]) / tonumber(b[2]) * 1000) + 1000)
  end
  return true
end

-- A buyer's frames are limited per buyer and per shop, across all connections and instances.
-- limits: {buyerRate, buyerBurst, shopRate, shopBurst} or nil (none); a rate of 0 turns that
-- bucket off.
local function limitBuyer(buyer, limits, now)
  if not limits then return end
  local buckets = {}
  if limits.buyerRate > 0 then buckets[#buckets + 1] = { K.buyerBucket(buyer), limits.buyerRate, limits.buyerBurst } end
  if limits.shopRate > 0 then buckets[#buckets + 1] = { K.shopBucket(), limits.shopRate, limits.shopBurst } end
  if not takeTokens(buckets, now) then
    fail('rate_limited', 'too many messages from this buyer or shop; slow down')
  end
end
