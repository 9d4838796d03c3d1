-- ARGV: agentId, status (ready|away), rolesCsv, capacity, now
local aid, status, roles, capacity, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = akey(aid)
local prev = redis.call('HMGET', key, 'status', 'roles')
if not prev[1] then fail('bad_state', 'agent ' .. aid .. ' is not connected') end
if status == 'ready' then
  local keep = {}
  for role in string.gmatch(roles, '[^,]+') do keep[role] = true end
  for role in string.gmatch(prev[2] or '', '[^,]+') do
    if not keep[role] then redis.call('ZREM', P .. 'av:' .. role, aid) end
  end
  redis.call('HSET', key, 'status', 'ready', 'want', 'ready', 'roles', roles, 'capacity', capacity)
  if prev[1] ~= 'ready' then redis.call('HSET', key, 'idle', now) end
else
  redis.call('HSET', key, 'status', 'away', 'want', 'away')
end
refreshAvail(aid)
return 1
