/**
 * A small Redis-ZSET look-alike: members ordered by score, ties by member (lexicographic),
 * which is what ZRANGE / ZRANK / ZRANGEBYSCORE see. A sorted array with binary search is
 * plenty for one process: reads are O(log n), writes a splice.
 */
export class SortedSet {
  private readonly scores = new Map<string, number>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  has(member: string): boolean {
    return this.scores.has(member);
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /** ZADD: inserts or moves `member` to `score`. */
  add(member: string, score: number): void {
    if (this.scores.get(member) === score) return;
    this.remove(member);
    this.scores.set(member, score);
    this.order.splice(this.lowerBound(score, member), 0, member);
  }

  /** ZREM. */
  remove(member: string): boolean {
    const score = this.scores.get(member);
    if (score === undefined) return false;
    this.order.splice(this.lowerBound(score, member), 1);
    this.scores.delete(member);
    return true;
  }

  /** ZRANK: 0-based, or null when absent. */
  rank(member: string): number | null {
    const score = this.scores.get(member);
    return score === undefined ? null : this.lowerBound(score, member);
  }

  /** ZRANGE 0 count-1. A copy, safe to hold while the set changes. */
  first(count: number): string[] {
    return this.order.slice(0, Math.max(0, count));
  }

  /** ZRANGEBYSCORE -inf max. */
  upTo(max: number): string[] {
    const out: string[] = [];
    for (const m of this.order) {
      if (this.scores.get(m)! > max) break;
      out.push(m);
    }
    return out;
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
