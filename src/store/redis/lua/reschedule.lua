-- Moves a shop in the index of active shops (KEYS[1] is that index, outside any shop) to its
-- next due time, or drops it when nothing is pending; only while its score is still the one
-- the sweep read, so a step that marked the shop active meanwhile is never overwritten.
-- ARGV: shop, mark, nextDue ('' = drop)
local index, shop, mark, nextDue = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local current = redis.call('ZSCORE', index, shop)
if not current or tonumber(current) ~= tonumber(mark) then return 0 end
if nextDue == '' then
  redis.call('ZREM', index, shop)
else
  redis.call('ZADD', index, nextDue, shop)
end
return 1
