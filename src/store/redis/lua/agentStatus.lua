-- An agent goes ready (for roles, up to capacity) or away; its availability follows.
-- In:  {agentId, status (ready|away), roles, capacity, now}
-- Out: {}
local A = cjson.decode(ARGV[1])
local aid, status, roles, capacity, now = A.agentId, A.status, A.roles or {}, A.capacity or 0, A.now
local key = K.agent(aid)
local prev = redis.call('HMGET', key, 'status', 'roles')
if not prev[1] then fail('bad_state', 'agent ' .. aid .. ' is not connected') end
if status == 'ready' then
  local keep = {}
  for _, role in ipairs(roles) do keep[role] = true end
  for role in string.gmatch(prev[2] or '', '[^,]+') do
    if not keep[role] then redis.call('ZREM', K.avail(role), aid) end
  end
  redis.call('HSET', key, 'status', 'ready', 'want', 'ready', 'roles', table.concat(roles, ','), 'capacity', capacity)
  if prev[1] ~= 'ready' then redis.call('HSET', key, 'idle', now) end
else
  redis.call('HSET', key, 'status', 'away', 'want', 'away')
end
refreshAvail(aid)
return cjson.encode({})
