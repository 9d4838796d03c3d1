/**
 * Mints a token for trying the gateway by hand:
 *   PEAKDESK_AUTH_SECRET=... npm run token -- buyer <buyerId> <shop>
 *   PEAKDESK_AUTH_SECRET=... npm run token -- agent <agentId> <shop> [role,role]
 *   PEAKDESK_AUTH_SECRET=... npm run token -- admin <opsId> <shop> [platform]
 * An admin token acts on its own shop only; with `platform` (claim `scope: "platform"`) on every shop.
 */
import { Auth, claimsSchema } from '../transport/auth.ts';
import { PLATFORM_SCOPE } from '../transport/admin-scope.ts';

const USAGE = 'usage: npm run token -- buyer <id> <shop> | agent <id> <shop> [roles] | admin <id> <shop> [platform]\n';

const [kind, sub, shop, extra] = process.argv.slice(2);
const secret = process.env.PEAKDESK_AUTH_SECRET;
if (!secret || secret.length < 16) {
  process.stderr.write('set PEAKDESK_AUTH_SECRET (16+ characters) to the gateway\'s secret\n');
  process.exit(2);
}
if (extra && kind === 'admin' && extra !== PLATFORM_SCOPE) {
  process.stderr.write(`an admin token's only scope is "${PLATFORM_SCOPE}"\n${USAGE}`);
  process.exit(2);
}
const claims = claimsSchema.safeParse({
  kind,
  sub,
  shop,
  ...(extra && kind === 'agent' ? { roles: extra.split(',') } : {}),
  ...(extra && kind === 'admin' ? { scope: extra } : {}),
});
if (!claims.success || (extra && kind === 'buyer')) {
  process.stderr.write(USAGE);
  process.exit(2);
}
process.stdout.write(`${await new Auth(secret).sign(claims.data, '24h')}\n`);
