-- A buyer's live connections, across instances, capped (one buyer must not hold hundreds).
-- The first one brings the buyer (and its open session) back online.
-- ARGV: buyerId, connId, max, now
local key = bkey('bc', ARGV[1])
if redis.call('SISMEMBER', key, ARGV[2]) == 1 then return 1 end
local live = redis.call('SCARD', key)
if live >= tonumber(ARGV[3]) then
  fail('rate_limited', 'too many connections for this buyer (at most ' .. ARGV[3] .. ')')
end
redis.call('SADD', key, ARGV[2])
if live == 0 then
  local sid = redis.call('GET', bkey('bs', ARGV[1]))
  if sid then setPresence(sid, true, tonumber(ARGV[4] or '0')) end
end
return 1
