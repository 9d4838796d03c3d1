/**
 * The gateway's synchronous HS256 check (src/transport/hs256.ts) accepts what jose signs and
 * refuses what jose's jwtVerify refuses: a bad signature, another or no algorithm, `crit`,
 * time claims passed or not reached or not numbers, and anything that is not a compact JWS.
 */
import { createHmac } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { verifyHs256 } from '../src/transport/hs256.ts';

const key = new TextEncoder().encode('hs256-test-secret-0123456789abcdef');
const now = Math.floor(Date.now() / 1000);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'HS256' }) =>
  new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key);

/** A token with any header, signed by hand (jose will not sign some of them). */
const raw = (header: Record<string, unknown>, claims: Record<string, unknown>) => {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
};

/** Both verifiers agree: accepted by both, or refused by both. */
async function agree(token: string): Promise<boolean> {
  const ours = (() => {
    try {
      verifyHs256(token, key, now);
      return true;
    } catch {
      return false;
    }
  })();
  const jose = await jwtVerify(token, key, { algorithms: ['HS256'] }).then(
    () => true,
    () => false,
  );
  expect(ours, token).toBe(jose);
  return ours;
}

describe('verifyHs256', () => {
  it('accepts what jose signs, with its claims', async () => {
    const t = await new SignJWT({ shop: 's', kind: 'buyer', vip: 2 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('b1').setIssuedAt().setExpirationTime('1h').sign(key);
    expect(await agree(t)).toBe(true);
    expect(verifyHs256(t, key, now)).toMatchObject({ shop: 's', kind: 'buyer', vip: 2, sub: 'b1' });
  });

  it('refuses what jose refuses', async () => {
    const good = await sign({ sub: 'b' });
    const [h, p, s] = good.split('.') as [string, string, string];
    const cases = [
      `${h}.${p}.${s.slice(0, -2)}AA`, // signature changed
      `${h}.${b64({ sub: 'admin' })}.${s}`, // payload changed
      await new SignJWT({ sub: 'b' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-0123456789abcdef')),
      await sign({ sub: 'b' }, { alg: 'HS512' }),
      `${b64({ alg: 'none' })}.${p}.`,
      raw({ alg: 'HS256', crit: ['x'], x: 1 }, { sub: 'b' }),
      raw({ typ: 'JWT' }, { sub: 'b' }),
      raw({ alg: 'HS256' }, [1, 2] as unknown as Record<string, unknown>),
      await sign({ sub: 'b', exp: now - 1 }),
      await sign({ sub: 'b', exp: now }),
      await sign({ sub: 'b', nbf: now + 60 }),
      await sign({ sub: 'b', exp: 'tomorrow' }),
      await sign({ sub: 'b', iat: 'today' }),
      'not-a-jwt',
      `${h}.${p}`,
      `${h}.${p}.${s}.x`,
      `${h}.${p}.${s}!`,
    ];
    for (const t of cases) expect(await agree(t), t).toBe(false);
    expect(await agree(await sign({ sub: 'b', exp: now + 60, nbf: now }))).toBe(true);
  });
});
