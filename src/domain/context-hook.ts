import { createHmac } from 'node:crypto';
import { resolveShop } from '../config/shop-config.ts';
import type { ContextConfig } from '../config/context-schema.ts';
import { buyerContext, describeIssues, type BuyerContext } from '../protocol/frames.ts';
import type { Deps } from './deps.ts';

/** `X-Peakdesk-Signature` of a body: what webhooks and the context hook send. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Larger answers are malformed: a buyer's context is a few lines. */
const MAX_ANSWER_BYTES = 65_536;
/** Buyers remembered at once; the oldest go first. */
const MAX_CACHED = 10_000;

type Outcome = 'ok' | 'timeout' | 'error' | 'malformed';

class HookFailure extends Error {
  constructor(
    readonly outcome: Exclude<Outcome, 'ok'>,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Asks the shop's systems who a buyer is when a session opens, without ever making the buyer
 * wait: the call runs beside the greeting and routing, and its answer lands on the session
 * when it comes (within `timeoutMs`) or not at all.
 */
export class ContextHook {
  /** Per shop and buyer: the answer (null: the hook failed) and when it was fetched. */
  private readonly cache = new Map<string, { at: number; ctx: BuyerContext | null }>();
  private readonly inFlight = new Map<string, Promise<BuyerContext | null>>();
  /** Shops whose hook is failing: one log line when a burst starts, one when it ends. */
  private readonly failing = new Map<string, number>();

  constructor(private readonly d: Deps) {}

  /** Fire and forget: a session of this buyer has just opened. */
  opened(shop: string, buyerId: string, sessionId: string): void {
    const hook = resolveShop(this.d.config(), shop).context;
    if (!hook) return;
    void this.lookup(shop, buyerId, hook)
      .then((ctx) => (ctx ? this.d.store.setBuyerContext(shop, sessionId, ctx, this.d.config().routing.vipBoostMs) : undefined))
      .catch((err) => this.d.logger.warn({ err, shop, sessionId }, 'keeping the buyer context failed'));
  }

  /** The buyer's context, from the cache or the hook; null when the hook did not answer well. */
  lookup(shop: string, buyerId: string, hook: ContextConfig): Promise<BuyerContext | null> {
    const key = `${shop}\u0000${buyerId}`;
    const now = this.d.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < hook.cacheMs) return Promise.resolve(hit.ctx);
    let call = this.inFlight.get(key);
    if (!call) {
      call = this.call(shop, buyerId, hook).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, call);
      void call.then((ctx) => this.remember(key, ctx));
    }
    return call;
  }

  private remember(key: string, ctx: BuyerContext | null): void {
    this.cache.delete(key);
    this.cache.set(key, { at: this.d.now(), ctx });
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
  }

  private async call(shop: string, buyerId: string, hook: ContextConfig): Promise<BuyerContext | null> {
    try {
      const ctx = await this.post(shop, buyerId, hook);
      this.count(shop, 'ok');
      const failures = this.failing.get(shop);
      if (failures !== undefined) {
        this.failing.delete(shop);
        this.d.logger.info({ shop, failures }, 'context hook answers again');
      }
      return ctx;
    } catch (err) {
      const outcome = err instanceof HookFailure ? err.outcome : 'error';
      this.count(shop, outcome);
      const failures = this.failing.get(shop);
      if (failures === undefined) this.d.logger.warn({ shop, outcome, url: hook.url, reason: (err as Error).message }, 'context hook failing; sessions go on without it');
      this.failing.set(shop, (failures ?? 0) + 1);
      return null;
    }
  }

  private async post(shop: string, buyerId: string, hook: ContextConfig): Promise<BuyerContext> {
    const body = JSON.stringify({ shop, buyerId });
    let res: Response;
    let text: string;
    try {
      const signal = AbortSignal.timeout(hook.timeoutMs);
      res = await fetch(hook.url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'x-peakdesk-signature': signature(hook.secret, body) },
        signal,
        redirect: 'error',
      });
      if (Number(res.headers.get('content-length') ?? 0) > MAX_ANSWER_BYTES) throw new HookFailure('malformed', 'answer too large');
      text = await res.text();
    } catch (err) {
      if (err instanceof HookFailure) throw err;
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new HookFailure('timeout', `no answer within ${hook.timeoutMs} ms`);
      throw new HookFailure('error', (err as Error).message);
    }
    if (!res.ok) throw new HookFailure('error', `HTTP ${res.status}`);
    if (text.length > MAX_ANSWER_BYTES) throw new HookFailure('malformed', 'answer too large');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new HookFailure('malformed', 'answer is not JSON');
    }
    const parsed = buyerContext.safeParse(json);
    if (!parsed.success) throw new HookFailure('malformed', describeIssues(parsed.error));
    return parsed.data;
  }

  private count(shop: string, outcome: Outcome): void {
    this.d.metrics.contextHook.inc({ shop, outcome });
  }
}
