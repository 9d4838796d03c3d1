/**
 * Mints a token for trying the gateway by hand:
 *   PEAKDESK_AUTH_SECRET=... npm run token -- buyer <buyerId> <shop>
 *   PEAKDESK_AUTH_SECRET=... npm run token -- agent <agentId> <shop> [role,role]
 */
import { Auth, claimsSchema } from '../transport/auth.ts';

const [kind, sub, shop, roles] = process.argv.slice(2);
const secret = process.env.PEAKDESK_AUTH_SECRET;
if (!secret || secret.length < 16) {
  process.stderr.write('set PEAKDESK_AUTH_SECRET (16+ characters) to the gateway\'s secret\n');
  process.exit(2);
}
const claims = claimsSchema.safeParse({ kind, sub, shop, ...(roles ? { roles: roles.split(',') } : {}) });
if (!claims.success) {
  process.stderr.write('usage: npm run token -- buyer|agent|admin <id> <shop> [roles]\n');
  process.exit(2);
}
process.stdout.write(`${await new Auth(secret).sign(claims.data, '24h')}\n`);
