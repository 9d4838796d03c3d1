-- Counts one buyer frame against the buyer's and the shop's buckets (see the prelude).
-- ARGV: buyerId, now, buyerRate, buyerBurst, shopRate, shopBurst
limitBuyer(ARGV[1], { ARGV[3], ARGV[4], ARGV[5], ARGV[6] }, tonumber(ARGV[2]))
return 1
