import { resolveShop } from '../../config/shop-config.ts';
import { WEBHOOK_EVENTS } from '../../config/webhooks-schema.ts';
import type { SettleOp } from '../../store/types.ts';
import type { Deps } from '../deps.ts';
import { Periodic } from '../periodic.ts';
import { EndpointBusy, EndpointPool } from './endpoints.ts';
import { backoffMs, newJob, parseJob, type Job } from './jobs.ts';
import { sendEvent } from './sender.ts';

/** Outbox entries and due retries taken per shop and round. */
const BATCH = 200;
/** Shops with work handled per tick; the rest stay due for the next one. */
const SHOPS_PER_TICK = 500;
/** Rounds (shops) run at once per tick. */
const PARALLEL_SHOPS = 16;
/** A delivery whose endpoint's queue is full waits about this long in the store. */
const DEFER_MS = 1_000;
/** After a step of a shop with webhooks on this instance, its outbox is read this soon (steps close together share one read). */
const KICK_DELAY_MS = 2;
/** Outcomes of one shop's attempts within this long are written in one step. */
const SETTLE_BATCH_MS = 5;

/** Dead letters as ops see them. */
export interface DeadLetterView {
  id: string;
  eventId: string;
  type: string;
  sessionId: string;
  url: string;
  attempts: number;
  firstAt: number;
  lastError?: string;
  event: unknown;
}

/**
 * Delivers the shops' webhook events, at least once, from every instance at the same time:
 * each round of a shop takes its new outbox entries (and those a dead instance left pending),
 * turns each into one durable, leased job per subscriber, and sends them through the endpoint
 * pool without waiting; every attempt's outcome is written back on its own (delivered, retry
 * with backoff, or parked as a dead letter once it has failed for retryForMs). A job whose
 * instance died comes back to the others when its lease runs out.
 */
export class WebhookDeliverer {
  private readonly periodic: Periodic;
  private readonly pool: EndpointPool;
  private readonly inFlight = new Set<string>();
  private readonly stopping = new AbortController();
  private readonly random: () => number;
  /** Outcomes waiting to be written, per shop: written together a moment later (one script per shop, not per delivery). */
  private readonly outcomes = new Map<string, SettleOp[]>();
  /** Shops whose outbox this instance is about to read after a local step ('again': once more after the read under way). */
  private readonly kicked = new Map<string, 'scheduled' | 'running' | 'again'>();

  constructor(
    private readonly d: Deps,
    opts: { random?: () => number } = {},
  ) {
    const conf = () => d.config().webhookDelivery;
    this.random = opts.random ?? Math.random;
    this.pool = new EndpointPool(() => conf().perEndpoint, () => conf().queuePerEndpoint);
    this.periodic = new Periodic(() => conf().pollIntervalMs, () => this.tick());
    d.store.webhooks.setSubscriptions((shop) => resolveShop(d.config(), shop).webhookEvents, WEBHOOK_EVENTS, (shop) => this.kick(shop));
  }

  start(): void {
    this.periodic.start();
  }

  /** Stops polling and abandons attempts in flight: their jobs come back when their leases end. */
  stop(): void {
    this.periodic.stop();
    this.stopping.abort();
  }

  /** One poll now (tests). */
  runOnce(): Promise<void> {
    return this.periodic.runOnce();
  }

  /** Deliveries in flight on this instance. */
  get busy(): number {
    return this.inFlight.size;
  }

  /**
   * How long a taken job is this instance's: long enough for its wait in a full endpoint
   * queue and its attempt, so a live instance's job is not sent twice.
   */
  private leaseMs(): number {
    const c = this.d.config().webhookDelivery;
    return c.timeoutMs * (1 + Math.ceil(c.queuePerEndpoint / c.perEndpoint)) + 1_000;
  }

  private async tick(): Promise<void> {
    try {
      const due = await this.d.store.webhooks.dueShops(this.d.now(), SHOPS_PER_TICK);
      for (let i = 0; i < due.length; i += PARALLEL_SHOPS) {
        await Promise.all(due.slice(i, i + PARALLEL_SHOPS).map(({ shop, mark }) => this.round(shop, mark)));
      }
    } catch (err) {
      this.d.logger.warn({ err }, 'webhook poll failed');
    }
  }

  /**
   * A step of the shop ran here: read its outbox now rather than at the next poll, so an
   * event usually leaves from the instance that wrote it, milliseconds later. The poll stays
   * for everything else (other instances' leftovers, retries, a kick that failed).
   */
  private kick(shop: string): void {
    if (this.stopping.signal.aborted) return;
    const state = this.kicked.get(shop);
    if (state === 'running') this.kicked.set(shop, 'again');
    if (state) return;
    this.kicked.set(shop, 'scheduled');
    setTimeout(() => {
      this.kicked.set(shop, 'running');
      void this.round(shop, null).finally(() => {
        const again = this.kicked.get(shop) === 'again';
        this.kicked.delete(shop);
        if (again) this.kick(shop);
      });
    }, KICK_DELAY_MS);
  }

  /** One read of the shop's outbox and due retries; `mark` (from the index) moves the shop in it afterwards. */
  private async round(shop: string, mark: number | null): Promise<void> {
    try {
      const now = this.d.now();
      const c = this.d.config().webhookDelivery;
      const lease = this.leaseMs();
      const store = this.d.store.webhooks;
      const r = await store.read(shop, this.d.instanceId, now, { minIdleMs: c.claimIdleMs, count: BATCH, leaseMs: lease });
      const subs = resolveShop(this.d.config(), shop).webhooks;
      const fresh: Job[] = [];
      for (const e of r.entries) for (const s of subs) if ((s.events as readonly string[]).includes(e.type)) fresh.push(newJob(shop, e, s.url, now));
      if (r.entries.length) {
        // One job per subscriber, leased to this instance, before the entries leave the outbox.
        const ops: SettleOp[] = fresh.map((j) => ({ job: j.id, op: 'retry', at: now + lease, body: JSON.stringify(j) }));
        await store.settle(shop, r.entries.map((e) => e.entry), ops, { deadMax: c.deadLetterMax });
      }
      for (const j of fresh) this.dispatch(shop, j);
      for (const { job, body } of r.retries) {
        const j = parseJob(body);
        if (j) this.dispatch(shop, j);
        else this.settle(shop, { job, op: 'done' });
      }
      let next: number | null = r.retryHead;
      const other = r.backlog - r.entries.length; // read by another instance, still pending there
      if (r.entries.length >= BATCH || r.retries.length >= BATCH) next = now;
      else if (other > 0) next = Math.min(next ?? Infinity, now + Math.ceil(c.claimIdleMs / 2));
      if (mark !== null) await store.reschedule(shop, mark, next);
    } catch (err) {
      this.d.logger.warn({ err, shop }, 'webhook round failed');
    }
  }

  private dispatch(shop: string, job: Job): void {
    if (this.inFlight.has(job.id)) return; // still under way here (its lease was renewed by the read)
    this.inFlight.add(job.id);
    void this.attempt(shop, job)
      .then((op) => this.settle(shop, op))
      .catch((err) => {
        if (!this.stopping.signal.aborted) this.d.logger.warn({ err, shop, job: job.id }, 'webhook delivery failed');
      })
      .finally(() => this.inFlight.delete(job.id));
  }

  private async attempt(shop: string, job: Job): Promise<SettleOp> {
    const c = this.d.config().webhookDelivery;
    const m = this.d.metrics.webhookDeliveries;
    const sub = resolveShop(this.d.config(), shop).webhooks.find((s) => s.url === job.url);
    if (!sub) {
      m.inc({ outcome: 'dropped' });
      this.d.logger.info({ shop, url: job.url, eventId: job.eventId }, 'webhook delivery dropped: its subscriber is no longer configured');
      return { job: job.id, op: 'done' };
    }
    let result;
    try {
      result = await this.pool.run(job.url, () => sendEvent(job.url, sub.secret, job.eventId, job.body, c.timeoutMs, this.stopping.signal));
    } catch (err) {
      if (!(err instanceof EndpointBusy)) throw err;
      m.inc({ outcome: 'deferred' });
      return { job: job.id, op: 'retry', at: this.d.now() + DEFER_MS + Math.round(this.random() * DEFER_MS), body: JSON.stringify(job) };
    }
    const now = this.d.now();
    if (result.ok) {
      m.inc({ outcome: 'delivered' });
      this.d.metrics.webhookLatency.observe(Math.max(0, now - job.eventTs) / 1000);
      return { job: job.id, op: 'done' };
    }
    if (this.stopping.signal.aborted) throw new Error('stopping'); // not a failure of the endpoint: the lease brings it back
    const failed: Job = { ...job, attempts: job.attempts + 1, last: result.reason };
    if (now - job.firstAt >= c.retryForMs) {
      m.inc({ outcome: 'parked' });
      this.d.logger.warn({ shop, url: job.url, eventId: job.eventId, attempts: failed.attempts, reason: result.reason }, 'webhook delivery parked as a dead letter');
      return { job: job.id, op: 'park', body: JSON.stringify(failed) };
    }
    m.inc({ outcome: 'retried' });
    return { job: job.id, op: 'retry', at: now + backoffMs(failed.attempts, c.backoffBaseMs, c.backoffMaxMs, this.random), body: JSON.stringify(failed) };
  }

  /** Writes an attempt's outcome, batched with the shop's others of the next few milliseconds. */
  private settle(shop: string, op: SettleOp): void {
    let ops = this.outcomes.get(shop);
    if (!ops) {
      ops = [];
      this.outcomes.set(shop, ops);
      setTimeout(() => void this.flush(shop), SETTLE_BATCH_MS);
    }
    ops.push(op);
  }

  private async flush(shop: string): Promise<void> {
    const ops = this.outcomes.get(shop) ?? [];
    this.outcomes.delete(shop);
    if (!ops.length) return;
    try {
      await this.d.store.webhooks.settle(shop, [], ops, { deadMax: this.d.config().webhookDelivery.deadLetterMax });
    } catch (err) {
      // The jobs stay leased in the store: they are tried again when their leases end.
      this.d.logger.warn({ err, shop, jobs: ops.length }, 'settling webhook deliveries failed');
    }
  }

  async deadLetters(shop: string, limit: number): Promise<DeadLetterView[]> {
    const list = await this.d.store.webhooks.deadLetters(shop, limit);
    return list.flatMap(({ id, body }) => {
      const j = parseJob(body);
      if (!j) return [];
      let event: unknown = null;
      try {
        event = JSON.parse(j.body);
      } catch {
        // shown as null
      }
      return [{ id, eventId: j.eventId, type: j.type, sessionId: j.sessionId, url: j.url, attempts: j.attempts, firstAt: j.firstAt, ...(j.last ? { lastError: j.last } : {}), event }];
    });
  }

  /** Sends a dead letter again, with a fresh retry budget; null when there is no such dead letter. */
  async replay(shop: string, id: string): Promise<{ eventId: string } | null> {
    const store = this.d.store.webhooks;
    const dl = await store.deadLetter(shop, id);
    const j = dl && parseJob(dl.body);
    if (!j) return null;
    const now = this.d.now();
    const again: Job = { ...j, attempts: 0, firstAt: now };
    const found = await store.settle(shop, [], [{ job: j.id, op: 'retry', at: now, body: JSON.stringify(again) }], {
      deadMax: this.d.config().webhookDelivery.deadLetterMax,
      replayed: id,
    });
    if (!found) return null;
    await store.markDue(shop);
    return { eventId: j.eventId };
  }
}
