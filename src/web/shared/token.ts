/**
 * Tokens in the browser: `?token=` in the address wins and is kept in sessionStorage (then
 * removed from the address bar, so it does not end up in history or screenshots); otherwise
 * the one kept for this tab. Claims are only decoded for display; the gateway verifies.
 */
import { t } from './i18n/index.ts';

export interface Claims {
  sub: string;
  shop: string;
  kind: 'buyer' | 'agent' | 'admin';
  roles?: string[];
  /** Admin tokens: `platform` acts on every shop. */
  scope?: string;
  exp?: number;
}

export function decodeClaims(token: string): Claims | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const c = JSON.parse(json) as Partial<Claims>;
    if (typeof c.sub !== 'string' || typeof c.shop !== 'string' || typeof c.kind !== 'string') return null;
    return c as Claims;
  } catch {
    return null;
  }
}

export function isExpired(c: Claims, now = Date.now()): boolean {
  return typeof c.exp === 'number' && c.exp * 1000 <= now;
}

export class TokenStore {
  constructor(private readonly key: string) {}

  /** The token for this tab, taking `?token=` from the address when present. */
  load(): string | null {
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get('token');
    if (fromUrl) {
      this.save(fromUrl);
      url.searchParams.delete('token');
      history.replaceState(history.state, '', url.pathname + url.search + url.hash);
      return fromUrl;
    }
    try {
      return sessionStorage.getItem(this.key);
    } catch {
      return null;
    }
  }

  save(token: string): void {
    try {
      sessionStorage.setItem(this.key, token);
    } catch {
      /* private mode: the token lives for this page only */
    }
  }

  clear(): void {
    try {
      sessionStorage.removeItem(this.key);
    } catch {
      /* ignore */
    }
  }
}

const kindName = (k: string) => (k === 'buyer' || k === 'agent' || k === 'admin' ? t(`common.kind.${k}`) : k);

/** Checks a pasted or stored token before connecting; returns a reason it cannot be used. */
export function tokenProblem(token: string, kind: Claims['kind']): string | null {
  const c = decodeClaims(token);
  if (!c) return t('token.notJwt');
  if (c.kind !== kind) return t('token.wrongKind', { have: kindName(c.kind), want: kindName(kind) });
  if (isExpired(c)) return t('token.expired');
  return null;
}
