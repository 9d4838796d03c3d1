-- Moves a shop in the index of active shops (KEYS[1] is that index, outside any shop) to its
-- next due time, or drops it when nothing is pending; only while its score is still the one
-- the sweep read, so a step that marked the shop active meanwhile is never overwritten.
-- In:  {shop, mark, nextDue (absent = drop)}
-- Out: {moved}
local A = cjson.decode(ARGV[1])
local index, shop, mark, nextDue = KEYS[1], A.shop, A.mark, A.nextDue
local current = redis.call('ZSCORE', index, shop)
if not current or tonumber(current) ~= tonumber(mark) then return cjson.encode({ moved = false }) end
if not nextDue then
  redis.call('ZREM', index, shop)
else
  redis.call('ZADD', index, int(nextDue), shop)
end
return cjson.encode({ moved = true })
