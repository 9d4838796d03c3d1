-- Counts one upload against its sender's bucket (key 'rlu:<kind:id>'), shared by every
-- instance like the buyer's frame buckets (see the prelude's takeTokens).
-- ARGV: sender ('buyer:<id>' or 'agent:<id>'), now, rate, burst; a rate of 0 turns it off.
if tonumber(ARGV[3]) > 0 and not takeTokens({ { bkey('rlu', ARGV[1]), ARGV[3], ARGV[4] } }, tonumber(ARGV[2])) then
  fail('rate_limited', 'too many uploads; slow down')
end
return 1
