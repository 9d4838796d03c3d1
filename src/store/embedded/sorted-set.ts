/**
 * A Redis sorted set: members ordered by score, ties by member, which is what ZRANGE, ZRANK
 * and ZRANGEBYSCORE see. A sorted array with binary search: reads are O(log n), writes a
 * splice, plenty for the queue and timer sizes of one process.
 */
export class SortedSet {
  private readonly scores = new Map<string, number>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /** Inserts or moves `member` to `score`. */
  add(member: string, score: number): void {
    if (this.scores.get(member) === score) return;
    this.remove(member);
    this.scores.set(member, score);
    this.order.splice(this.lowerBound(score, member), 0, member);
  }

  remove(member: string): boolean {
    const score = this.scores.get(member);
    if (score === undefined) return false;
    this.order.splice(this.lowerBound(score, member), 1);
    this.scores.delete(member);
    return true;
  }

  /** 0-based, or null when absent. */
  rank(member: string): number | null {
    const score = this.scores.get(member);
    return score === undefined ? null : this.lowerBound(score, member);
  }

  /** Members at ranks from..to inclusive (already clamped by the caller). */
  slice(from: number, to: number): string[] {
    return this.order.slice(from, to + 1);
  }

  /** The rank range of scores within [min, max] (exclusive ends when flagged): [first, end). */
  scoreRange(min: number, minEx: boolean, max: number, maxEx: boolean): [number, number] {
    const first = this.firstWhere((s) => (minEx ? s > min : s >= min));
    const end = this.firstWhere((s) => (maxEx ? s >= max : s > max));
    return [first, Math.max(first, end)];
  }

  /** The first rank whose score satisfies a predicate that is monotone along the order. */
  private firstWhere(pred: (score: number) => boolean): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pred(this.scores.get(this.order[mid]!)!)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Index of the first entry not ordered before (score, member). */
  private lowerBound(score: number, member: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.order[mid]!;
      const s = this.scores.get(m)!;
      if (s < score || (s === score && m < member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
