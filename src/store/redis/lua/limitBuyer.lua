-- Counts one buyer frame against the buyer's and the shop's buckets (see the prelude).
-- In:  {buyerId, now, limits: {buyerRate, buyerBurst, shopRate, shopBurst}}
-- Out: {}; rate_limited when a bucket is empty (then no token is taken).
local A = cjson.decode(ARGV[1])
limitBuyer(A.buyerId, A.limits, A.now)
return cjson.encode({})
