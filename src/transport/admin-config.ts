import jsonMergePatch from 'json-merge-patch';
import { versionOf } from '../config/live-config.ts';
import { PeakError } from '../protocol/errors.ts';
import type { Claims } from './auth.ts';
import { isPlatform } from './admin-scope.ts';

/**
 * The shared config as an admin token may see and change it. A platform token: all of it. A
 * shop's admin token: everything but the other shops' overrides (`shops.<other>` is theirs),
 * and it may change only `shops.<its shop>`; the rest of the document is the platform's.
 */

type Doc = Record<string, unknown>;

const isObject = (v: unknown): v is Doc => !!v && typeof v === 'object' && !Array.isArray(v);

function withoutShops(doc: Doc): Doc {
  const { shops: _shops, ...rest } = doc;
  return rest;
}

function forbidden(claims: Claims, what: string): never {
  throw new PeakError('forbidden', `${what}: this admin token may change only shops.${claims.shop} (the rest takes scope "platform")`);
}

/** A strong ETag of a config version (RFC 9110: quoted). */
export function etagOf(version: string): string {
  return `"${version}"`;
}

/** True when an `If-Match` header names `version` (a list is allowed; weak tags never match). */
export function ifMatches(header: string, version: string): boolean {
  return header
    .split(',')
    .map((t) => t.trim())
    .includes(etagOf(version));
}

export function configFor(claims: Claims, doc: Doc): Doc {
  if (isPlatform(claims)) return doc;
  const shops = isObject(doc.shops) ? doc.shops : {};
  const own = shops[claims.shop];
  return { ...withoutShops(doc), ...(own !== undefined ? { shops: { [claims.shop]: own } } : {}) };
}

/** The whole document a PUT of `body` (the token's view, changed) stands for. */
export function replacedBy(claims: Claims, current: Doc, body: Doc): Doc {
  if (isPlatform(claims)) return body;
  if (versionOf(withoutShops(body)) !== versionOf(withoutShops(current))) forbidden(claims, 'the document changes more than shops');
  if (body.shops !== undefined && !isObject(body.shops)) forbidden(claims, 'shops');
  const given = (body.shops ?? {}) as Doc;
  const other = Object.keys(given).find((k) => k !== claims.shop);
  if (other !== undefined) forbidden(claims, `shops.${other}`);
  const shops: Doc = { ...(isObject(current.shops) ? current.shops : {}) };
  delete shops[claims.shop];
  if (given[claims.shop] !== undefined) shops[claims.shop] = given[claims.shop];
  return { ...withoutShops(current), ...(Object.keys(shops).length || current.shops !== undefined ? { shops } : {}) };
}

/** The whole document after an RFC 7396 merge patch. */
export function patchedBy(claims: Claims, current: Doc, patch: unknown): unknown {
  if (!isPlatform(claims)) {
    if (!isObject(patch)) forbidden(claims, 'a patch of the whole document');
    const other = Object.keys(patch).find((k) => k !== 'shops');
    if (other !== undefined) forbidden(claims, other);
    if (patch.shops !== undefined) {
      if (!isObject(patch.shops)) forbidden(claims, 'shops');
      const otherShop = Object.keys(patch.shops).find((k) => k !== claims.shop);
      if (otherShop !== undefined) forbidden(claims, `shops.${otherShop}`);
    }
  }
  // apply() changes its target in place: work on a copy.
  return jsonMergePatch.apply(structuredClone(current), patch);
}
