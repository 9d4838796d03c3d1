import { PeakError } from '../protocol/errors.ts';
import type { Claims } from './auth.ts';

/**
 * Which shops an admin token may act on: its own `shop`, or every shop with the claim
 * `scope: "platform"`. Every admin route asks here; nothing else decides it.
 */
export const PLATFORM_SCOPE = 'platform';

export function isPlatform(claims: Claims): boolean {
  return claims.scope === PLATFORM_SCOPE;
}

function refuse(claims: Claims, shop: string): never {
  throw new PeakError('forbidden', `this admin token acts on shop "${claims.shop}" only, not "${shop}" (that takes scope "platform")`);
}

/** The one shop a request acts on: `?shop=` when allowed, else the token's. */
export function shopFor(claims: Claims, requested: string | undefined): string {
  const shop = requested ?? claims.shop;
  if (shop === '*') throw new PeakError('bad_frame', 'shop: "*" is only for listing queues');
  if (shop !== claims.shop && !isPlatform(claims)) refuse(claims, shop);
  return shop;
}

/** The shops a listing covers: `*` is every shop (platform tokens only). */
export function shopsFor(claims: Claims, requested: string | undefined): { all: true } | { all: false; shop: string } {
  if (requested === '*') {
    if (!isPlatform(claims)) refuse(claims, '*');
    return { all: true };
  }
  return { all: false, shop: shopFor(claims, requested) };
}
