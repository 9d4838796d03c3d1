import { ASSIGNED_MARK_TTL_MS, bucketExpiresAt, bucketRows, bucketStartOf, bucketStarts, increments } from '../plan-stats.ts';
import type { PlanBucket, PlanRecord, PlanStatsOptions } from '../types.ts';

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

/** The staffing-plan stats of one shop in memory, as planRecord.lua keeps them in Redis. */
export class MemoryPlanStats {
  /** `<bucketMs>:<start>` → `<role>|<counter>` → count. */
  private readonly buckets = new Map<string, Expiring<Map<string, number>>>();
  /** Session → when its agent took it. */
  private readonly marks = new Map<string, Expiring<number>>();

  constructor(private readonly clock: () => number) {}

  record(role: string, at: number, rec: PlanRecord, opts: PlanStatsOptions, agent: (id: string) => { sessions: number; capacity: number } | undefined): void {
    const now = Math.round(at);
    const start = bucketStartOf(at, opts.bucketMs);
    const key = `${opts.bucketMs}:${start}`;
    const fields = this.live(this.buckets, key)?.value ?? new Map<string, number>();
    const add = (counter: string, by: number) => {
      if (by !== 0) fields.set(`${role}|${counter}`, (fields.get(`${role}|${counter}`) ?? 0) + by);
    };
    for (const [counter, by] of increments(rec)) add(counter, by);
    if (rec.handled) {
      const mark = this.live(this.marks, rec.handled.sessionId);
      if (mark) {
        this.marks.delete(rec.handled.sessionId);
        add('handled', 1);
        add('handleMs', Math.max(0, now - mark.value));
      }
    }
    if (rec.assigned) {
      this.marks.set(rec.assigned.sessionId, { value: now, expiresAt: this.clock() + Math.min(ASSIGNED_MARK_TTL_MS, opts.retentionMs) });
      const a = agent(rec.assigned.agentId);
      add('concurrencySum', a?.sessions ?? 0);
      add('capacitySum', a?.capacity ?? 0);
    }
    const expiresAt = bucketExpiresAt(start, opts.bucketMs, opts.retentionMs);
    // Like PEXPIREAT with a time gone by: the bucket is gone at once.
    if (fields.size && expiresAt > this.clock()) this.buckets.set(key, { value: fields, expiresAt });
    else this.buckets.delete(key);
  }

  read(from: number, to: number, bucketMs: number): PlanBucket[] {
    return bucketStarts(from, to, bucketMs).flatMap((t) => {
      const b = this.live(this.buckets, `${bucketMs}:${t}`);
      return b ? bucketRows(t, Object.fromEntries(b.value)) : [];
    });
  }

  /** Drops whatever has expired (called from the store's periodic sweep). */
  sweep(): void {
    for (const m of [this.buckets, this.marks] as Map<string, Expiring<unknown>>[]) {
      for (const [k, v] of m) if (v.expiresAt <= this.clock()) m.delete(k);
    }
  }

  private live<T>(m: Map<string, Expiring<T>>, key: string): Expiring<T> | undefined {
    const e = m.get(key);
    if (e && e.expiresAt <= this.clock()) {
      m.delete(key);
      return undefined;
    }
    return e;
  }
}
