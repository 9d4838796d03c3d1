-- A buyer's live connections, across instances, capped (one buyer must not hold hundreds).
-- ARGV: buyerId, connId, max
local key = bkey('bc', ARGV[1])
if redis.call('SISMEMBER', key, ARGV[2]) == 1 then return 1 end
if redis.call('SCARD', key) >= tonumber(ARGV[3]) then
  fail('rate_limited', 'too many connections for this buyer (at most ' .. ARGV[3] .. ')')
end
redis.call('SADD', key, ARGV[2])
return 1
