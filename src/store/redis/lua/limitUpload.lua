-- Counts one upload against its sender's bucket (K.uploadBucket), shared by every instance
-- like the buyer's frame buckets (see the prelude's takeTokens).
-- In:  {sender ('buyer:<id>' or 'agent:<id>'), now, rate, burst}; a rate of 0 turns it off.
-- Out: {}; fails rate_limited when the bucket is empty (and takes no token then).
local A = cjson.decode(ARGV[1])
if A.rate > 0 and not takeTokens({ { K.uploadBucket(A.sender), A.rate, A.burst } }, A.now) then
  fail('rate_limited', 'too many uploads; slow down')
end
return cjson.encode({})
