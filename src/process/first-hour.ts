import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Auth } from '../transport/auth.ts';

export const DEV_SHOP = 'demo-shop';

/**
 * Without PEAKDESK_AUTH_SECRET outside production, one secret for this run (shared by all
 * workers through their environment), so the links below work; nothing signed before a
 * restart is accepted after it.
 */
export function devSecret(logger: Logger): string {
  logger.warn(
    { dev: true },
    'PEAKDESK_AUTH_SECRET is not set: using a random secret for this run only (set PEAKDESK_AUTH_SECRET, 16+ characters, for tokens that outlive a restart; NODE_ENV=production refuses to start without it)',
  );
  return randomBytes(32).toString('base64url');
}

/** Ready-to-click links to the three pages, with tokens of this run's secret (valid 12 h). */
export async function devLinks(secret: string, host: string, port: number): Promise<Record<'agent' | 'buyer' | 'ops', string>> {
  const auth = new Auth(secret);
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const base = `http://${shown}:${port}`;
  const link = async (page: string, kind: 'agent' | 'buyer' | 'admin', sub: string) =>
    `${base}/${page}/?token=${await auth.sign({ kind, sub, shop: DEV_SHOP }, '12h')}`;
  return {
    agent: await link('agent', 'agent', 'agent-1'),
    buyer: await link('buyer', 'buyer', 'buyer-1'),
    ops: await link('ops', 'admin', 'ops-1'),
  };
}

/** Logs the links (JSON, for tools) and prints them for people on stderr. */
export async function announceDevLinks(logger: Logger, secret: string, host: string, port: number): Promise<void> {
  const links = await devLinks(secret, host, port);
  logger.info({ links, shop: DEV_SHOP }, 'development links (tokens of this run\'s random secret)');
  process.stderr.write(
    `\npeakdesk is running with a development secret. Open (shop "${DEV_SHOP}", tokens valid 12 h):\n` +
      `  agent workbench  ${links.agent}\n` +
      `  buyer chat       ${links.buyer}\n` +
      `  ops dashboard    ${links.ops}\n\n`,
  );
}
