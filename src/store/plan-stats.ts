import { PLAN_COUNTERS, type PlanBucket, type PlanCounter, type PlanRecord } from './types.ts';

/**
 * What both stores share of the staffing-plan stats: bucket arithmetic, how long a bucket
 * and an assignment mark live, and the field layout `<role>|<counter>` of a bucket hash.
 */

export const bucketStartOf = (at: number, bucketMs: number) => Math.floor(at / bucketMs) * bucketMs;

/** A bucket is kept `retentionMs` after it ends (an absolute time, so both stores agree). */
export const bucketExpiresAt = (bucketStart: number, bucketMs: number, retentionMs: number) => bucketStart + bucketMs + retentionMs;

/** An assignment whose chat never ends normally (idle close, ops) is forgotten after this. */
export const ASSIGNED_MARK_TTL_MS = 24 * 3_600_000;

/** Bucket starts in [from, to), at most `max` of them. */
export function bucketStarts(from: number, to: number, bucketMs: number, max = 20_000): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(from / bucketMs) * bucketMs; t < to && out.length < max; t += bucketMs) out.push(t);
  return out;
}

export function emptyCounts(): Record<PlanCounter, number> {
  return Object.fromEntries(PLAN_COUNTERS.map((c) => [c, 0])) as Record<PlanCounter, number>;
}

/** The increments of a record as whole numbers (Redis HINCRBY takes integers), zeros left out. */
export function increments(rec: PlanRecord): [PlanCounter, number][] {
  return Object.entries(rec.counts ?? {})
    .map(([k, v]) => [k as PlanCounter, Math.round(v ?? 0)] as [PlanCounter, number])
    .filter(([k, v]) => v !== 0 && (PLAN_COUNTERS as readonly string[]).includes(k));
}

/** One bucket hash (`<role>|<counter>` → count) as rows per role. */
export function bucketRows(bucketStart: number, fields: Record<string, string | number>): PlanBucket[] {
  const byRole = new Map<string, PlanBucket>();
  for (const [field, value] of Object.entries(fields)) {
    const bar = field.lastIndexOf('|');
    if (bar < 0) continue;
    const role = field.slice(0, bar);
    const counter = field.slice(bar + 1) as PlanCounter;
    if (!(PLAN_COUNTERS as readonly string[]).includes(counter)) continue;
    let row = byRole.get(role);
    if (!row) byRole.set(role, (row = { role, bucketStart, counts: emptyCounts() }));
    row.counts[counter] += Number(value);
  }
  return [...byRole.values()].sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
}
