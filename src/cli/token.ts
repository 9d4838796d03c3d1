/**
 * Mints a token for trying the gateway by hand (see `--help`). It runs compiled
 * (`npm run token` → dist/cli/token.js), so it answers in well under a second.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../config/load.ts';
import { Auth, claimsSchema } from '../transport/auth.ts';
import { PLATFORM_SCOPE } from '../transport/admin-scope.ts';

const KINDS = ['buyer', 'agent', 'admin'] as const;
const DEFAULT_ROLES = ['pre-sale', 'order-edit', 'after-sale', 'bargaining'];

/** The roles of the config the gateway would load (PEAKDESK_CONFIG), so --roles is checked against the same list. */
function configuredRoles(): string[] {
  try {
    const doc = JSON.parse(readFileSync(process.env.PEAKDESK_CONFIG || DEFAULT_CONFIG_PATH, 'utf8'));
    const roles = doc?.routing?.roles;
    return Array.isArray(roles) && roles.every((r) => typeof r === 'string') ? roles : DEFAULT_ROLES;
  } catch {
    return DEFAULT_ROLES;
  }
}

const USAGE = `usage: npm run -s token -- <kind> <id> <shop> [options]

  kind            buyer | agent | admin
  id              the buyer's or agent's id (1..64 characters)
  shop            the shop id (1..64 characters)

options:
  --roles a,b     agents only: the roles this agent may serve (default: all roles);
                  checked against routing.roles of PEAKDESK_CONFIG (default config/default.json)
  --scope platform  admins only: act on every shop (claim scope: "platform"); without it an
                  admin token acts on its own shop only
  --ttl 24h       lifetime: a number with s, m, h or d (default 24h)
  -h, --help      this text

The secret comes from PEAKDESK_AUTH_SECRET (16+ characters, the gateway's).
Example: PEAKDESK_AUTH_SECRET=… npm run -s token -- agent agent-1 shop-1 --roles pre-sale,after-sale
         PEAKDESK_AUTH_SECRET=… npm run -s token -- admin ops-1 shop-1 --scope platform
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      roles: { type: 'string' },
      scope: { type: 'string' },
      ttl: { type: 'string', default: '24h' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (err) {
  fail((err as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
// The old form took roles (agents) or the scope (admins) as a fourth positional argument; it still does.
const [kind, sub, shop, legacyExtra, ...extra] = positionals;
if (extra.length) fail(`unexpected arguments: ${extra.join(' ')}`);
if (!kind || !sub || !shop) fail('kind, id and shop are required');
if (!(KINDS as readonly string[]).includes(kind)) fail(`unknown kind "${kind}": expected one of ${KINDS.join(', ')}`);
const tooLong = [sub, shop].find((v) => v.length > 64);
if (tooLong) fail(`"${tooLong}" is longer than 64 characters`);
if (!/^\d+[smhd]$/.test(values.ttl)) fail(`--ttl ${values.ttl}: expected a number with s, m, h or d, e.g. 30m or 24h`);
const rolesArg = values.roles ?? (kind === 'agent' ? legacyExtra : undefined);
const scope = values.scope ?? (kind === 'admin' ? legacyExtra : undefined);
if (legacyExtra !== undefined && kind === 'buyer') fail(`unexpected argument: ${legacyExtra}`);
if (scope !== undefined && kind !== 'admin') fail('--scope is for admin tokens only');
if (scope !== undefined && scope !== PLATFORM_SCOPE) fail(`--scope ${scope}: an admin token's only scope is "${PLATFORM_SCOPE}"`);
let roles: string[] | undefined;
if (rolesArg !== undefined) {
  if (kind !== 'agent') fail('--roles is for agent tokens only');
  roles = rolesArg.split(',').map((r) => r.trim()).filter(Boolean);
  const known = configuredRoles();
  const unknown = roles.filter((r) => !known.includes(r));
  if (unknown.length) fail(`unknown role${unknown.length > 1 ? 's' : ''} ${unknown.map((r) => `"${r}"`).join(', ')}: expected some of ${known.join(', ')} (routing.roles of the config)`);
  if (!roles.length) fail('--roles needs at least one role');
}
const secret = process.env.PEAKDESK_AUTH_SECRET;
if (!secret || secret.length < 16) fail('PEAKDESK_AUTH_SECRET: set it to the gateway\'s secret (16+ characters)');

const claims = claimsSchema.safeParse({ kind, sub, shop, ...(roles ? { roles } : {}), ...(scope ? { scope } : {}) });
if (!claims.success) fail(claims.error.issues.map((i) => `${i.path.join('.') || 'token'}: ${i.message}`).join('; '));
const token = await new Auth(secret).sign(claims.data, values.ttl);
process.stdout.write(`${token}\n`);
