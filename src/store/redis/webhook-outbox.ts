import type { Redis, Cluster } from 'ioredis';
import { ACTIVE_HOLD_MS, MARK_EVERY_MS, MAX_DEFER_MS } from '../active.ts';
import type { DeadLetter, DueShop, SettleOp, WebhookRound, WebhookStore } from '../types.ts';
import { shopPrefix, webhookDeadKey, webhookIndexKey, webhookSubKey } from './keys.ts';
import type { ScriptName } from './scripts.ts';
import { IndexMarker } from './index-marker.ts';
import { InFlight } from './in-flight.ts';
import type { ScriptArgs, ScriptReply } from './script-io.ts';

type Client = Redis | Cluster;
type Guard = <T>(p: Promise<T>) => Promise<T>;
/** The store's typed script call with its KEYS[1] given. */
type Script = <N extends ScriptName>(name: N, key: string, args: ScriptArgs[N]) => Promise<ScriptReply<N>>;

/** Stream IDs as ioredis returns them: `[id, [field, value, ...]]`. */
type RawEntry = [string, string[]];

/**
 * The webhook side of the store. The scripts write events into a shop's outbox only when its
 * `wh:sub` hash names the type; this keeps that hash as the config says (once per shop and
 * config, per instance) before the shop's first step, and keeps the index of shops with
 * webhook work the way src/store/active.ts keeps the active one: marked before every step of a
 * shop with subscribers, moved or dropped by the deliverer, so polling costs O(shops with work).
 */
export class WebhookOutbox implements WebhookStore {
  private eventsOf: (shop: string) => readonly string[] = () => [];
  private allTypes: readonly string[] = [];
  private onStep: (shop: string) => void = () => {};
  /** Per shop: the event types last written to its `wh:sub` by this instance. */
  private readonly synced = new Map<string, string>();
  /** Per shop: the write of its `wh:sub` on its way, tagged with the event types it writes. */
  private readonly syncing = new InFlight();
  private readonly due: IndexMarker;

  constructor(
    private readonly client: Client,
    private readonly script: Script,
    private readonly prefix: string,
    private readonly guard: Guard,
    private readonly activeHold: number = ACTIVE_HOLD_MS,
  ) {
    this.due = new IndexMarker((shop, wall) => this.guard(this.client.zadd(webhookIndexKey(this.prefix), wall, shop)), Math.min(MARK_EVERY_MS, activeHold / 5));
  }

  /** The data was lost (a new epoch): subscriptions and marks are written again at each shop's next step. */
  forget(): void {
    this.synced.clear();
    this.syncing.clear();
    this.due.clear();
  }

  setSubscriptions(eventsOf: (shop: string) => readonly string[], allTypes: readonly string[], onStep?: (shop: string) => void): void {
    this.eventsOf = eventsOf;
    this.allTypes = allTypes;
    if (onStep) this.onStep = onStep;
  }

  /** After a scripted step of `shop`: when it has subscribers, the step may have written an event this instance can send at once. */
  afterStep(shop: string): void {
    if (this.synced.get(shop)) this.onStep(shop);
  }

  /**
   * Before every scripted step of `shop`: its subscriptions in place, and the shop indexed if it
   * has any. `undefined` when both are so already (nearly every step): nothing to wait for.
   */
  beforeStep(shop: string): Promise<void> | undefined {
    const events = this.eventsOf(shop);
    const joined = events.join(',');
    if (this.synced.get(shop) === joined) return events.length ? this.due.mark(shop) : undefined;
    // The steps that come while the shop's subscriptions are written wait for that one write.
    return this.syncing.run(shop, joined, () => this.sync(shop, events));
  }

  private async sync(shop: string, events: readonly string[]): Promise<void> {
    const key = webhookSubKey(shopPrefix(this.prefix, shop));
    // Each command is atomic on its own; no step ever sees a type it is not subscribed to now or before.
    const off = this.allTypes.filter((t) => !events.includes(t));
    if (events.length) await this.guard(this.client.hset(key, ...events.flatMap((e) => [e, '1'])));
    if (off.length) await this.guard(this.client.hdel(key, ...off));
    if (this.synced.size > 100_000) this.synced.clear();
    this.synced.set(shop, events.join(','));
    if (events.length) await this.due.mark(shop);
  }

  async markDue(shop: string): Promise<void> {
    await this.due.mark(shop, true);
  }

  async dueShops(now: number, limit: number): Promise<DueShop[]> {
    const flat = await this.guard(this.client.zrangebyscore(webhookIndexKey(this.prefix), '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit));
    const out: DueShop[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ shop: flat[i]!, mark: Number(flat[i + 1]) });
    return out;
  }

  async read(shop: string, consumer: string, now: number, o: { minIdleMs: number; count: number; leaseMs: number }): Promise<WebhookRound> {
    const r = await this.script('whRead', shopPrefix(this.prefix, shop), { consumer, minIdleMs: o.minIdleMs, count: o.count, now, leaseMs: o.leaseMs });
    const entries = r.entries.map(({ id, ...e }) => ({ entry: id, ...e }));
    return { entries, retries: r.retries, backlog: r.backlog, retryHead: r.retryHead < 0 ? null : r.retryHead };
  }

  async settle(shop: string, entries: readonly string[], ops: SettleOp[], o: { deadMax: number; replayed?: string }): Promise<boolean> {
    const r = await this.script('whSettle', shopPrefix(this.prefix, shop), { entryIds: entries, ops, deadMax: o.deadMax, replayedId: o.replayed ?? '' });
    return r.found;
  }

  async reschedule(shop: string, mark: number, nextDue: number | null): Promise<void> {
    // A mark this fresh may belong to a step that had not written yet when the outbox was read.
    if (mark >= Date.now() - this.activeHold) return;
    await this.script('reschedule', webhookIndexKey(this.prefix), { shop, mark, ...(nextDue === null ? {} : { nextDue: Math.min(nextDue, Date.now() + MAX_DEFER_MS) }) });
  }

  async deadLetters(shop: string, limit: number): Promise<DeadLetter[]> {
    const raw = (await this.guard(this.client.xrevrange(webhookDeadKey(shopPrefix(this.prefix, shop)), '+', '-', 'COUNT', limit))) as RawEntry[];
    return raw.map(toDead);
  }

  async deadLetter(shop: string, id: string): Promise<DeadLetter | null> {
    const raw = (await this.guard(this.client.xrange(webhookDeadKey(shopPrefix(this.prefix, shop)), id, id))) as RawEntry[];
    return raw.length ? toDead(raw[0]!) : null;
  }
}

function toDead([id, fields]: RawEntry): DeadLetter {
  const i = fields.indexOf('job');
  return { id, body: i >= 0 ? (fields[i + 1] ?? '') : '' };
}
