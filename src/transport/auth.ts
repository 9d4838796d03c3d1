import { SignJWT } from 'jose';
import { z } from 'zod';
import type { FastifyRequest } from 'fastify';
import { verifyHs256 } from './hs256.ts';

/**
 * Buyer and agent ids name Redis keys and channels, travel in CSV lists and log lines: letters
 * and digits of any script and `_ . @ + = -` only, no separators (`:`, `,`, `{`, spaces).
 */
export const SAFE_ID = /^[\p{L}\p{N}_.@+=-]+$/u;

export const claimsSchema = z.object({
  sub: z.string().min(1).max(64).regex(SAFE_ID, 'letters, digits and _ . @ + = - only'),
  shop: z.string().min(1).max(64),
  kind: z.enum(['buyer', 'agent', 'admin']),
  roles: z.array(z.string().min(1).max(64)).optional(),
  /** Admin tokens: `platform` may act on every shop; without it, only on `shop`. */
  scope: z.string().min(1).max(64).optional(),
  /** Buyers only: display name and VIP level (PROTOCOL v1.1 "Buyer identity and presence"). */
  name: z.string().min(1).max(64).optional(),
  vip: z.number().int().min(0).max(9).optional(),
});
export type Claims = z.infer<typeof claimsSchema>;
export type TokenKind = Claims['kind'];

export class AuthError extends Error {
  override name = 'AuthError';
}

/** HS256 tokens as PROTOCOL.md describes them: a header bearer token or `?token=`. */
export class Auth {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = new TextEncoder().encode(secret);
  }

  async verify(token: string): Promise<Claims> {
    let payload: unknown;
    try {
      payload = verifyHs256(token, this.key, Math.floor(Date.now() / 1000));
    } catch (err) {
      throw new AuthError(`invalid token: ${(err as Error).message}`);
    }
    const parsed = claimsSchema.safeParse(payload);
    if (!parsed.success) throw new AuthError(`invalid token claims: ${parsed.error.issues.map((i) => `${i.path.join('.')} (${i.message})`).join(', ')}`);
    return parsed.data;
  }

  /** For tests, the load test and operators' tooling. */
  async sign(claims: Claims, expiresIn?: string): Promise<string> {
    const jwt = new SignJWT({
      shop: claims.shop,
      kind: claims.kind,
      ...(claims.roles ? { roles: claims.roles } : {}),
      ...(claims.scope ? { scope: claims.scope } : {}),
      ...(claims.name ? { name: claims.name } : {}),
      ...(claims.vip !== undefined ? { vip: claims.vip } : {}),
    })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub)
      .setIssuedAt();
    if (expiresIn) jwt.setExpirationTime(expiresIn);
    return jwt.sign(this.key);
  }

  /** Verifies the request's token and that it is of `kind`; throws AuthError otherwise. */
  async fromRequest(req: FastifyRequest, kind: TokenKind): Promise<Claims> {
    const token = tokenOf(req);
    if (!token) throw new AuthError('missing token');
    const claims = await this.verify(token);
    if (claims.kind !== kind) throw new AuthError(`a ${claims.kind} token cannot be used here`);
    return claims;
  }
}

/** The request's token: `Authorization: Bearer …`, else `?token=` (browsers). */
export function tokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const q = (req.query as Record<string, unknown> | undefined)?.token;
  return typeof q === 'string' ? q : undefined;
}
