/**
 * The Store contract (src/store/types.ts), run unchanged against RedisStore over a private
 * redis-server and over the embedded engine (the same scripts, in process). Both must behave
 * the same in every case below.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeakError } from '../src/protocol/errors.ts';
import type { EmbeddedClient } from '../src/store/embedded/client.ts';
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.ts';
import { RedisStore } from '../src/store/redis/redis-store.ts';
import type { Address, Store } from '../src/store/types.ts';
import { binQuantile } from '../src/store/recent-stats.ts';
import { recentBucketKey, shopKey, shopPrefix } from '../src/store/redis/keys.ts';
import { startRedis, type RedisHandle } from './support/redis-server.ts';

interface StoreOptions {
  idleSessionTtlMs?: number;
  activeHoldMs?: number;
}

interface Impl {
  name: string;
  make(opts?: StoreOptions): Promise<Store>;
}

let redis: Promise<RedisHandle> | undefined;
let prefixes = 0;

afterAll(async () => {
  if (redis) await (await redis).stop();
});

const impls: Impl[] = [
  {
    name: 'RedisStore',
    async make(opts = {}) {
      redis ??= startRedis();
      const { url } = await redis;
      return RedisStore.connect({ url, keyPrefix: `pdtest${++prefixes}`, ...opts });
    },
  },
  {
    name: 'embedded',
    async make(opts = {}) {
      return createEmbeddedStore(opts);
    },
  },
];

const SHOP = 'shop-1';
const T0 = 1_700_000_000_000;
const OFFER_MS = 30_000;
const GRACE_MS = 60_000;
const EXCLUDE_MS = 10_000;
const RETENTION_MS = 3_600_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The PeakError code a promise rejects with (fails the test if it resolves or throws anything else). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PeakError);
    expect((err as PeakError).message).not.toBe('');
    return (err as PeakError).code;
  }
  throw new Error('expected a PeakError, but the call succeeded');
}

const sorted = (xs: string[]) => [...xs].sort();

/** An agent's close without a rating window: straight to closed. */
const closeAt = (retentionMs: number) => ({ retentionMs, rateWindowMs: 0, invite: '', goodbye: '' });
const xfer = (excludeMs: number, boostMs = 0, line = '') => ({ excludeMs, boostMs, line });

describe.each(impls)('Store contract: $name', (impl) => {
  let store: Store;
  const extra: Store[] = [];

  beforeEach(async () => {
    store = await impl.make();
  });

  afterEach(async () => {
    await store.shutdown();
    await Promise.all(extra.splice(0).map((s) => s.shutdown()));
  });

  async function makeStore(opts: StoreOptions): Promise<Store> {
    const s = await impl.make(opts);
    extra.push(s);
    return s;
  }

  /** A buyer's session, queued in `role` by a first message at `ts`. */
  async function queued(buyer: string, role: string, ts: number, s: Store = store, shop = SHOP): Promise<string> {
    const { sessionId } = await s.openSession(shop, buyer, ts);
    const r = await s.postBuyerMessage(shop, sessionId, buyer, { clientMsgId: `first-${buyer}`, text: `hi from ${buyer}`, ts, role, enqueue: true, reclassify: false });
    expect(r.enqueued?.role).toBe(role);
    return sessionId;
  }

  async function ready(agent: string, roles: string[], capacity: number, now: number, conn = `${agent}-c1`): Promise<void> {
    await store.agentConnect(SHOP, agent, conn, now);
    await store.agentReady(SHOP, agent, roles, capacity, now);
  }

  /** Queues a session and gets it assigned to `agent` (which must be the only candidate). */
  async function assigned(buyer: string, role: string, ts: number, agent: string): Promise<string> {
    const sid = await queued(buyer, role, ts);
    const offers = await store.dispatch(SHOP, role, ts, OFFER_MS, 1);
    expect(offers).toEqual([{ sessionId: sid, agentId: agent, role, expiresAt: ts + OFFER_MS }]);
    await store.accept(SHOP, sid, agent, ts);
    return sid;
  }

  // ---------------------------------------------------------------- bus helpers

  let sentinels = 0;
  interface Inbox {
    address: Address;
    raw: string[];
  }

  async function listen(address: Address): Promise<Inbox> {
    const inbox: Inbox = { address, raw: [] };
    await store.bus.subscribe(address, (p) => inbox.raw.push(p));
    return inbox;
  }

  /**
   * Waits until everything published so far reached the inboxes: a sentinel published after
   * it arrives after it (pub/sub keeps order), then the sentinels are dropped again.
   */
  async function settle(...inboxes: Inbox[]): Promise<void> {
    const marks = inboxes.map(() => `sentinel-${++sentinels}`);
    await Promise.all(inboxes.map((ib, i) => store.bus.publish(ib.address, marks[i]!)));
    await vi.waitFor(
      () => {
        inboxes.forEach((ib, i) => expect(ib.raw).toContain(marks[i]));
      },
      { timeout: 3_000, interval: 5 },
    );
    inboxes.forEach((ib, i) => ib.raw.splice(ib.raw.indexOf(marks[i]!), 1));
  }

  const frames = (ib: Inbox) => ib.raw.map((p) => JSON.parse(p) as Record<string, unknown>);

  // ---------------------------------------------------------------- basics

  it('answers ping and reports its kind', async () => {
    expect(await store.ping()).toBe(true);
    expect(store.kind).toBe(impl.name === 'RedisStore' ? 'redis' : 'memory');
  });

  it('opens a bot session and reopens the same one', async () => {
    const first = await store.openSession(SHOP, 'b1', T0);
    expect(first).toEqual({ sessionId: expect.any(String), lastSeq: 0, created: true });
    expect(await store.getSession(SHOP, first.sessionId)).toEqual({
      id: first.sessionId,
      shop: SHOP,
      buyerId: 'b1',
      state: 'bot',
      role: '',
      arrivedAt: 0,
      createdAt: T0,
      lastSeq: 0,
      roleHistory: [],
      handovers: [],
      replyMisses: 0,
      vip: 0,
      buyerOnline: true,
    });

    const again = await store.openSession(SHOP, 'b1', T0 + 5);
    expect(again).toEqual({ sessionId: first.sessionId, lastSeq: 0, created: false });

    await store.postBotMessage(SHOP, first.sessionId, { text: 'welcome', ts: T0 + 6, perMinute: 100 });
    await store.postBuyerMessage(SHOP, first.sessionId, 'b1', { clientMsgId: 'm1', text: 'hello', ts: T0 + 7, role: 'presale', enqueue: true, reclassify: false });
    expect(await store.openSession(SHOP, 'b1', T0 + 8)).toEqual({ sessionId: first.sessionId, lastSeq: 2, created: false });

    const other = await store.openSession(SHOP, 'b2', T0);
    expect(other.created).toBe(true);
    expect(other.sessionId).not.toBe(first.sessionId);
    // The same buyer id in another shop is another buyer.
    const elsewhere = await store.openSession('shop-2', 'b1', T0);
    expect(elsewhere.created).toBe(true);
    expect(elsewhere.sessionId).not.toBe(first.sessionId);
    expect(await store.getSession('shop-2', first.sessionId)).toBeNull();
  });

  it('queues a session on the first buyer message, with its position', async () => {
    const s3 = await queued('b3', 'presale', T0 + 3);
    const { sessionId: s1 } = await store.openSession(SHOP, 'b1', T0);
    const r1 = await store.postBuyerMessage(SHOP, s1, 'b1', { clientMsgId: 'a', text: 'first', ts: T0 + 1, role: 'presale', enqueue: true, reclassify: false });
    // Ordered by arrival time, not by when the message was stored.
    expect(r1).toEqual({ seq: 1, duplicate: false, enqueued: { role: 'presale', position: 1 }, state: 'queued' });
    const { sessionId: s2 } = await store.openSession(SHOP, 'b2', T0);
    const r2 = await store.postBuyerMessage(SHOP, s2, 'b2', { clientMsgId: 'a', text: 'second', ts: T0 + 2, role: 'presale', enqueue: true, reclassify: false });
    expect(r2.enqueued).toEqual({ role: 'presale', position: 2 });
    const other = await store.openSession(SHOP, 'b4', T0);
    const r4 = await store.postBuyerMessage(SHOP, other.sessionId, 'b4', { clientMsgId: 'a', text: 'x', ts: T0 + 9, role: 'aftersales', enqueue: true, reclassify: false });
    expect(r4.enqueued).toEqual({ role: 'aftersales', position: 1 });

    expect(await store.queueLength(SHOP, 'presale')).toBe(3);
    expect(await store.queueLength(SHOP, 'aftersales')).toBe(1);
    expect(await store.queueLength(SHOP, 'nobody')).toBe(0);
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', s2)).toBe(2);
    expect(await store.queuePosition(SHOP, 'presale', s3)).toBe(3);
    expect(await store.queuePosition(SHOP, 'aftersales', s1)).toBeNull();

    // Later messages do not re-classify or re-queue.
    const more = await store.postBuyerMessage(SHOP, s1, 'b1', { clientMsgId: 'b', text: 'again', ts: T0 + 50, role: 'aftersales', enqueue: true, reclassify: false });
    expect(more).toEqual({ seq: 2, duplicate: false, state: 'queued' });
    const view = await store.getSession(SHOP, s1);
    expect(view).toMatchObject({ state: 'queued', role: 'presale', arrivedAt: T0 + 1, lastSeq: 2, roleHistory: ['presale'] });
    expect(view?.agentId).toBeUndefined();
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBe(1);
  });

  it('orders sessions that arrived at the same time by session id', async () => {
    const a = await queued('b1', 'presale', T0);
    const b = await queued('b2', 'presale', T0);
    const [lo, hi] = [a, b].sort();
    expect(await store.queuePosition(SHOP, 'presale', lo!)).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', hi!)).toBe(2);
    await ready('a1', ['presale'], 5, T0);
    const offers = await store.dispatch(SHOP, 'presale', T0 + 1, OFFER_MS, 5);
    expect(offers.map((o) => o.sessionId)).toEqual([lo, hi]);
  });

  describe('priority', () => {
    const PRIO = { vipBoostMs: 60_000, boostMs: 0 };
    async function arrive(buyer: string, role: string, ts: number, vip: number, priority = PRIO): Promise<string> {
      const { sessionId } = await store.openSession(SHOP, buyer, ts, { vip, ...(vip ? { name: `VIP ${buyer}` } : {}) });
      const r = await store.postBuyerMessage(SHOP, sessionId, buyer, { clientMsgId: 'a', text: 'hi', ts, role, enqueue: true, reclassify: false, priority });
      expect(r.enqueued?.role).toBe(role);
      return sessionId;
    }

    it('offers a VIP arriving after three regular buyers first', async () => {
      const regular = [await arrive('r1', 'presale', T0, 0), await arrive('r2', 'presale', T0 + 10_000, 0), await arrive('r3', 'presale', T0 + 20_000, 0)];
      const vip = await arrive('v1', 'presale', T0 + 30_000, 1);
      expect(await store.getSession(SHOP, vip)).toMatchObject({ vip: 1, buyerName: 'VIP v1', arrivedAt: T0 + 30_000 });
      expect((await store.getSession(SHOP, regular[0]!))?.vip).toBe(0);
      expect(await store.queuePosition(SHOP, 'presale', vip)).toBe(1);
      await ready('a1', ['presale'], 1, T0 + 31_000);
      const offers = await store.dispatch(SHOP, 'presale', T0 + 31_000, OFFER_MS, 4);
      expect(offers.map((o) => o.sessionId)).toEqual([vip]);
      // One level is worth vipBoostMs, no more: a regular buyer who waited longer than that stays ahead.
      const late = await arrive('v2', 'presale', T0 + 61_000, 1);
      expect(await store.queuePosition(SHOP, 'presale', late)).toBe(2);
      const vip9 = await arrive('v9', 'presale', T0 + 62_000, 9);
      expect(await store.queuePosition(SHOP, 'presale', vip9)).toBe(1);
    });

    it('adds the role boost, keeps the priority across a decline and adds a transfer boost to it', async () => {
      const plain = await arrive('p1', 'aftersales', T0, 0);
      const boosted = await arrive('p2', 'aftersales', T0 + 100_000, 0, { vipBoostMs: 60_000, boostMs: 120_000 });
      expect(await store.queuePosition(SHOP, 'aftersales', boosted)).toBe(1);
      await ready('A', ['aftersales'], 1, T0 + 100_000);
      await store.dispatch(SHOP, 'aftersales', T0 + 100_000, OFFER_MS, 1);
      await store.decline(SHOP, boosted, 'A', T0 + 101_000, 0);
      expect(await store.queuePosition(SHOP, 'aftersales', boosted)).toBe(1);
      expect(await store.queuePosition(SHOP, 'aftersales', plain)).toBe(2);

      // Transfer: a VIP keeps its VIP boost and gains the transfer boost on top.
      const vip = await arrive('v1', 'presale', T0 + 200_000, 2);
      await ready('B', ['presale'], 1, T0 + 200_000);
      await store.dispatch(SHOP, 'presale', T0 + 200_000, OFFER_MS, 1);
      await store.accept(SHOP, vip, 'B', T0 + 200_000);
      // Arrived 130 s before the VIP: ahead of it by the transfer boost (60 s) alone, behind it with the VIP boost (120 s) too.
      const other = await arrive('o1', 'billing', T0 + 70_000, 0);
      await store.transfer(SHOP, vip, 'B', 'billing', undefined, T0 + 210_000, xfer(0, 60_000));
      expect(await store.queuePosition(SHOP, 'billing', vip)).toBe(1);
      expect(await store.queuePosition(SHOP, 'billing', other)).toBe(2);
    });
  });

  it('overflow: a session waiting past afterMs goes to an idle agent of the target role, from its own queue, after that role\'s own buyers', async () => {
    const from = [{ role: 'presale', afterMs: 2_000 }];
    const pre = await queued('of-1', 'presale', T0);
    await ready('bar', ['bargain'], 2, T0);
    expect(await store.dispatch(SHOP, 'bargain', T0 + 1_999, OFFER_MS, 5, from)).toEqual([]);
    // Without the overflow rule nothing crosses over, whatever the wait.
    expect(await store.dispatch(SHOP, 'bargain', T0 + 60_000, OFFER_MS, 5)).toEqual([]);
    // The target role's own buyer first, even one who arrived later.
    const own = await queued('of-2', 'bargain', T0 + 2_500);
    const offers = await store.dispatch(SHOP, 'bargain', T0 + 3_000, OFFER_MS, 1, from);
    expect(offers).toEqual([{ sessionId: own, agentId: 'bar', role: 'bargain', expiresAt: T0 + 3_000 + OFFER_MS }]);
    const over = await store.dispatch(SHOP, 'bargain', T0 + 3_000, OFFER_MS, 5, from);
    expect(over).toEqual([{ sessionId: pre, agentId: 'bar', role: 'presale', expiresAt: T0 + 3_000 + OFFER_MS, overflow: true }]);
    expect(await store.getSession(SHOP, pre)).toMatchObject({ state: 'offered', role: 'presale', agentId: 'bar', overflowTo: 'bargain' });
    expect(await store.queueLength(SHOP, 'presale')).toBe(0);
    expect(await store.queueLength(SHOP, 'bargain')).toBe(0);
    // Declined: back in its own queue only, and no longer marked as overflowed.
    await store.decline(SHOP, pre, 'bar', T0 + 4_000, 0);
    expect(await store.queuePosition(SHOP, 'presale', pre)).toBe(1);
    expect(await store.queueLength(SHOP, 'bargain')).toBe(0);
    expect((await store.getSession(SHOP, pre))?.overflowTo).toBeUndefined();
    // A presale agent gets it as a plain offer; accepted through overflow it says so.
    await store.dispatch(SHOP, 'bargain', T0 + 5_000, OFFER_MS, 5, from);
    expect(await store.accept(SHOP, pre, 'bar', T0 + 5_000)).toEqual({ role: 'presale', alreadyAssigned: false, overflow: true });
    const plain = await queued('of-3', 'presale', T0 + 6_000);
    await ready('pre-a', ['presale'], 1, T0 + 6_000);
    expect(await store.dispatch(SHOP, 'presale', T0 + 6_000, OFFER_MS, 5)).toEqual([{ sessionId: plain, agentId: 'pre-a', role: 'presale', expiresAt: T0 + 6_000 + OFFER_MS }]);
    expect((await store.accept(SHOP, plain, 'pre-a', T0 + 6_000)).overflow).toBeUndefined();
  });

  describe('sticky (known agent)', () => {
    const WINDOW = { stickyWindowMs: 3_600_000 };
    const HOLD_MS = 20_000;
    /** The buyer's first session, served and closed by `agent`. */
    async function servedBy(buyer: string, agent: string, ts: number): Promise<void> {
      const { sessionId } = await store.openSession(SHOP, buyer, ts);
      await store.postBuyerMessage(SHOP, sessionId, buyer, { clientMsgId: 'a', text: 'hi', ts, role: 'presale', enqueue: true, reclassify: false });
      const offers = await store.dispatch(SHOP, 'presale', ts, OFFER_MS, 1);
      expect(offers[0]).toMatchObject({ sessionId, agentId: agent });
      await store.accept(SHOP, sessionId, agent, ts, WINDOW);
      await store.close(SHOP, sessionId, agent, 'agent_closed', ts + 1, closeAt(RETENTION_MS));
    }
    async function back(buyer: string, ts: number): Promise<string> {
      const { sessionId } = await store.openSession(SHOP, buyer, ts);
      await store.postBuyerMessage(SHOP, sessionId, buyer, { clientMsgId: 'b', text: 'again', ts, role: 'presale', enqueue: true, reclassify: false, stickyHoldMs: HOLD_MS });
      return sessionId;
    }

    it('offers a returning buyer to their last agent when free, even over a longer idle one', async () => {
      await ready('X', ['presale'], 2, T0);
      await servedBy('st-1', 'X', T0);
      await ready('Y', ['presale'], 2, T0 - 1_000);
      // Y has been idle longer than X (X just finished): without stickiness Y would get it.
      const sid = await back('st-1', T0 + 10_000);
      expect(await store.dispatch(SHOP, 'presale', T0 + 10_000, OFFER_MS, 5)).toEqual([
        { sessionId: sid, agentId: 'X', role: 'presale', expiresAt: T0 + 10_000 + OFFER_MS, sticky: 'hit' },
      ]);
    });

    it('waits at most holdMs while the last agent is busy, then anyone may get it', async () => {
      await ready('X', ['presale'], 1, T0);
      await servedBy('st-2', 'X', T0);
      await assigned('busy-1', 'presale', T0 + 100, 'X');
      await ready('Y', ['presale'], 1, T0 + 200);
      const sid = await back('st-2', T0 + 1_000);
      expect(await store.dispatch(SHOP, 'presale', T0 + 1_000, OFFER_MS, 5)).toEqual([]);
      expect(await store.dispatch(SHOP, 'presale', T0 + 1_000 + HOLD_MS - 1, OFFER_MS, 5)).toEqual([]);
      expect(await store.dispatch(SHOP, 'presale', T0 + 1_000 + HOLD_MS, OFFER_MS, 5)).toEqual([
        { sessionId: sid, agentId: 'Y', role: 'presale', expiresAt: T0 + 1_000 + HOLD_MS + OFFER_MS, sticky: 'miss' },
      ]);
    });

    it('goes straight to anyone when the last agent is away or offline; no known agent outside the window', async () => {
      await ready('X', ['presale'], 2, T0);
      await servedBy('st-3', 'X', T0);
      await store.agentAway(SHOP, 'X', T0 + 50);
      await ready('Y', ['presale'], 2, T0 + 100);
      const sid = await back('st-3', T0 + 1_000);
      expect(await store.dispatch(SHOP, 'presale', T0 + 1_000, OFFER_MS, 5)).toEqual([
        { sessionId: sid, agentId: 'Y', role: 'presale', expiresAt: T0 + 1_000 + OFFER_MS },
      ]);
      // Without a window, nothing is remembered.
      const { sessionId: first } = await store.openSession(SHOP, 'st-4', T0 + 2_000);
      await store.postBuyerMessage(SHOP, first, 'st-4', { clientMsgId: 'a', text: 'hi', ts: T0 + 2_000, role: 'presale', enqueue: true, reclassify: false });
      await store.dispatch(SHOP, 'presale', T0 + 2_000, OFFER_MS, 1);
      await store.accept(SHOP, first, 'Y', T0 + 2_000);
      await store.close(SHOP, first, 'Y', 'agent_closed', T0 + 2_001, closeAt(RETENTION_MS));
      const next = await back('st-4', T0 + 3_000);
      expect((await store.dispatch(SHOP, 'presale', T0 + 3_000, OFFER_MS, 5))[0]).toEqual({ sessionId: next, agentId: 'Y', role: 'presale', expiresAt: T0 + 3_000 + OFFER_MS });
    });
  });

  it('refuses a blocked buyer and anything about unknown sessions', async () => {
    await ready('a1', ['presale'], 1, T0);
    const sid = await assigned('b1', 'presale', T0, 'a1');
    expect(await store.block(SHOP, sid, 'a1', 'abuse', T0 + 1, 3_600_000, RETENTION_MS)).toEqual({ buyerId: 'b1' });
    expect(await codeOf(store.openSession(SHOP, 'b1', T0 + 2))).toBe('blocked');
    expect((await store.openSession(SHOP, 'b2', T0 + 2)).created).toBe(true);
    expect((await store.openSession('shop-2', 'b1', T0 + 2)).created).toBe(true);

    const nope = 'no-such-session';
    expect(await codeOf(store.postBuyerMessage(SHOP, nope, 'b1', { clientMsgId: 'x', text: 't', ts: T0, role: 'presale', enqueue: true, reclassify: false }))).toBe('unknown_session');
    expect(await codeOf(store.postAgentMessage(SHOP, nope, 'a1', { clientMsgId: 'x', text: 't', ts: T0 }))).toBe('unknown_session');
    expect(await codeOf(store.postBotMessage(SHOP, nope, { text: 't', ts: T0, perMinute: 100 }))).toBe('unknown_session');
    expect(await codeOf(store.accept(SHOP, nope, 'a1', T0))).toBe('unknown_session');
    expect(await codeOf(store.decline(SHOP, nope, 'a1', T0, EXCLUDE_MS))).toBe('unknown_session');
    expect(await codeOf(store.transfer(SHOP, nope, 'a1', 'x', undefined, T0, xfer(EXCLUDE_MS)))).toBe('unknown_session');
    expect(await codeOf(store.endSession(SHOP, nope, 'r', T0, { retentionMs: RETENTION_MS }))).toBe('unknown_session');
    expect(await codeOf(store.block(SHOP, nope, 'a1', 'r', T0, 1000, RETENTION_MS))).toBe('unknown_session');
    expect(await codeOf(store.rate(SHOP, nope, 'b1', 5, undefined, T0))).toBe('unknown_session');
    expect(await store.expireOffer(SHOP, nope, T0, EXCLUDE_MS)).toBeNull();
    expect(await store.getSession(SHOP, nope)).toBeNull();
    expect(await store.readEvents(SHOP, nope, 0)).toEqual([]);
    expect(await store.lastEvents(SHOP, nope, 5)).toEqual([]);
    expect(await store.getAgent(SHOP, 'nobody')).toBeNull();
    expect(await codeOf(store.agentReady(SHOP, 'nobody', ['presale'], 1, T0))).toBe('bad_state');
    expect(await codeOf(store.agentAway(SHOP, 'nobody', T0))).toBe('bad_state');

    // Someone else's session is unknown to a buyer.
    const { sessionId: theirs } = await store.openSession(SHOP, 'b3', T0);
    expect(await codeOf(store.postBuyerMessage(SHOP, theirs, 'b2', { clientMsgId: 'x', text: 't', ts: T0, role: 'presale', enqueue: true, reclassify: false }))).toBe('unknown_session');
  });

  it('blocks only for blockMs', async () => {
    await ready('a1', ['presale'], 1, T0);
    const sid = await assigned('b1', 'presale', T0, 'a1');
    await store.block(SHOP, sid, 'a1', 'spam', T0 + 1, 300, RETENTION_MS);
    expect(await codeOf(store.openSession(SHOP, 'b1', T0 + 2))).toBe('blocked');
    await sleep(450);
    const again = await store.openSession(SHOP, 'b1', T0 + 3);
    expect(again.created).toBe(true);
    expect(again.sessionId).not.toBe(sid);
  });

  // ---------------------------------------------------------------- messages

  it('makes resends idempotent by clientMsgId, separately per sender kind', async () => {
    await ready('a1', ['presale'], 1, T0);
    const { sessionId: sid } = await store.openSession(SHOP, 'b1', T0);
    const first = await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'x', text: 'original', ts: T0 + 1, role: 'presale', enqueue: true, reclassify: false });
    expect(first).toEqual({ seq: 1, duplicate: false, enqueued: { role: 'presale', position: 1 }, state: 'queued' });
    const resent = await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'x', text: 'changed', ts: T0 + 2, role: 'presale', enqueue: true, reclassify: false });
    expect(resent).toEqual({ seq: 1, duplicate: true, state: 'queued' });
    expect(await store.queueLength(SHOP, 'presale')).toBe(1);

    await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 1);
    await store.accept(SHOP, sid, 'a1', T0 + 4);
    // The same id from the agent is another message.
    expect(await store.postAgentMessage(SHOP, sid, 'a1', { clientMsgId: 'x', text: 'agent says', ts: T0 + 5 })).toEqual({ seq: 2, duplicate: false, role: 'presale', firstResponseMs: 4, replyMs: 1 });
    expect(await store.postAgentMessage(SHOP, sid, 'a1', { clientMsgId: 'x', text: 'agent again', ts: T0 + 6 })).toEqual({ seq: 2, duplicate: true, role: 'presale' });
    expect(await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'x', text: 'dup', ts: T0 + 7, role: 'presale', enqueue: true, reclassify: false })).toEqual({ seq: 1, duplicate: true, state: 'assigned' });
    expect(await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'y', text: 'new', ts: T0 + 8, role: 'presale', enqueue: true, reclassify: false })).toEqual({ seq: 3, duplicate: false, state: 'assigned' });
    // Bot messages carry no id and are never duplicates.
    expect(await store.postBotMessage(SHOP, sid, { text: 'bot', ts: T0 + 9, perMinute: 100 })).toEqual({ seq: 4, duplicate: false });
    expect(await store.postBotMessage(SHOP, sid, { text: 'bot 2', ts: T0 + 9, perMinute: 100 })).toEqual({ seq: 5, duplicate: false });

    expect(await store.readEvents(SHOP, sid, 0)).toEqual([
      { seq: 1, from: 'buyer', text: 'original', ts: T0 + 1 },
      { seq: 2, from: 'agent', text: 'agent says', ts: T0 + 5, agentId: 'a1' },
      { seq: 3, from: 'buyer', text: 'new', ts: T0 + 8 },
      { seq: 4, from: 'bot', text: 'bot', ts: T0 + 9 },
      { seq: 5, from: 'bot', text: 'bot 2', ts: T0 + 9 },
    ]);
    expect((await store.getSession(SHOP, sid))?.lastSeq).toBe(5);
  });

  it('stores a lone surrogate of a client\'s text as U+FFFD (it reaches the scripts as well-formed JSON)', async () => {
    const { sessionId } = await store.openSession(SHOP, 'sur-b', T0);
    await store.postBuyerMessage(SHOP, sessionId, 'sur-b', { clientMsgId: 'x\ud800', text: 'a\ud800b\udc00 😀', ts: T0, role: 'presale', enqueue: false, reclassify: false });
    expect((await store.readEvents(SHOP, sessionId, 0)).map((e) => e.text)).toEqual(['a\ufffdb\ufffd 😀']);
  });

  it('reads events after a seq and the last n events', async () => {
    const { sessionId: sid } = await store.openSession(SHOP, 'b1', T0);
    await store.postBotMessage(SHOP, sid, { text: 'welcome', ts: T0 + 1, role: 'greeter', perMinute: 100 });
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm1', text: 'one', ts: T0 + 2, role: 'presale', enqueue: true, reclassify: false });
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm2', text: 'two', ts: T0 + 3, role: 'presale', enqueue: true, reclassify: false });
    await store.postBotMessage(SHOP, sid, { text: 'please wait', ts: T0 + 4, perMinute: 100 });
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm3', text: 'three', ts: T0 + 5, role: 'presale', enqueue: true, reclassify: false });

    const all = [
      { seq: 1, from: 'bot', text: 'welcome', ts: T0 + 1, role: 'greeter' },
      { seq: 2, from: 'buyer', text: 'one', ts: T0 + 2 },
      { seq: 3, from: 'buyer', text: 'two', ts: T0 + 3 },
      { seq: 4, from: 'bot', text: 'please wait', ts: T0 + 4 },
      { seq: 5, from: 'buyer', text: 'three', ts: T0 + 5 },
    ];
    expect(await store.readEvents(SHOP, sid, 0)).toEqual(all);
    expect(await store.readEvents(SHOP, sid, 2)).toEqual(all.slice(2));
    expect(await store.readEvents(SHOP, sid, 4)).toEqual(all.slice(4));
    expect(await store.readEvents(SHOP, sid, 5)).toEqual([]);
    expect(await store.readEvents(SHOP, sid, 99)).toEqual([]);
    expect(await store.lastEvents(SHOP, sid, 2)).toEqual(all.slice(3));
    expect(await store.lastEvents(SHOP, sid, 1)).toEqual(all.slice(4));
    expect(await store.lastEvents(SHOP, sid, 50)).toEqual(all);
    expect(await store.lastEvents(SHOP, sid, 0)).toEqual([]);
  });

  it('publishes message frames to the other side only, in seq order', async () => {
    await ready('a1', ['presale'], 2, T0);
    await ready('a2', ['billing'], 2, T0);
    const buyer = await listen({ kind: 'buyer', shop: SHOP, id: 'b1' });
    const otherBuyer = await listen({ kind: 'buyer', shop: SHOP, id: 'b2' });
    const sameIdOtherShop = await listen({ kind: 'buyer', shop: 'shop-2', id: 'b1' });
    const agent = await listen({ kind: 'agent', shop: SHOP, id: 'a1' });
    const otherAgent = await listen({ kind: 'agent', shop: SHOP, id: 'a2' });
    const all = [buyer, otherBuyer, sameIdOtherShop, agent, otherAgent];

    const { sessionId: sid } = await store.openSession(SHOP, 'b1', T0);
    await store.openSession(SHOP, 'b2', T0);
    await store.postBotMessage(SHOP, sid, { text: 'welcome', ts: T0 + 1, role: 'greeter', perMinute: 100 });
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm1', text: 'I need help', ts: T0 + 2, role: 'presale', enqueue: true, reclassify: false });
    await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 1);
    // Offered is not assigned: the agent gets nothing yet.
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm2', text: 'anyone?', ts: T0 + 4, role: 'presale', enqueue: true, reclassify: false });
    await settle(...all);
    expect(frames(buyer)).toEqual([{ type: 'message', sessionId: sid, seq: 1, from: 'bot', text: 'welcome', ts: T0 + 1, role: 'greeter' }]);
    expect(agent.raw).toEqual([]);

    await store.accept(SHOP, sid, 'a1', T0 + 5);
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm3', text: 'hello agent', ts: T0 + 6, role: 'presale', enqueue: true, reclassify: false });
    await store.postAgentMessage(SHOP, sid, 'a1', { clientMsgId: 'm1', text: 'hello buyer', ts: T0 + 7 });
    await store.postBotMessage(SHOP, sid, { text: 'note from bot', ts: T0 + 8, perMinute: 100 });
    // A duplicate is not published again.
    await store.postAgentMessage(SHOP, sid, 'a1', { clientMsgId: 'm1', text: 'hello buyer', ts: T0 + 7 });
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm4', text: 'thanks', ts: T0 + 9, role: 'presale', enqueue: true, reclassify: false });
    await settle(...all);

    expect(frames(buyer)).toEqual([
      { type: 'message', sessionId: sid, seq: 1, from: 'bot', text: 'welcome', ts: T0 + 1, role: 'greeter' },
      { type: 'message', sessionId: sid, seq: 5, from: 'agent', text: 'hello buyer', ts: T0 + 7 },
      { type: 'message', sessionId: sid, seq: 6, from: 'bot', text: 'note from bot', ts: T0 + 8 },
    ]);
    expect(frames(agent)).toEqual([
      { type: 'message', sessionId: sid, seq: 4, from: 'buyer', text: 'hello agent', ts: T0 + 6 },
      { type: 'message', sessionId: sid, seq: 6, from: 'bot', text: 'note from bot', ts: T0 + 8 },
      { type: 'message', sessionId: sid, seq: 7, from: 'buyer', text: 'thanks', ts: T0 + 9 },
    ]);
    expect(otherBuyer.raw).toEqual([]);
    expect(sameIdOtherShop.raw).toEqual([]);
    expect(otherAgent.raw).toEqual([]);

    // Unsubscribed addresses get nothing more; plain publish reaches subscribers as is.
    await store.bus.unsubscribe(agent.address);
    await store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm5', text: 'still there?', ts: T0 + 10, role: 'presale', enqueue: true, reclassify: false });
    await store.bus.publish(buyer.address, '{"type":"custom"}');
    await settle(buyer, otherAgent);
    await sleep(30);
    expect(agent.raw).toHaveLength(3);
    expect(buyer.raw.at(-1)).toBe('{"type":"custom"}');
  });

  it('delivers a burst of frames in seq order', async () => {
    await ready('a1', ['presale'], 1, T0);
    const sid = await assigned('b1', 'presale', T0, 'a1');
    const buyer = await listen({ kind: 'buyer', shop: SHOP, id: 'b1' });
    const agent = await listen({ kind: 'agent', shop: SHOP, id: 'a1' });
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0
          ? store.postAgentMessage(SHOP, sid, 'a1', { clientMsgId: `a${i}`, text: `a${i}`, ts: T0 + i })
          : store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: `b${i}`, text: `b${i}`, ts: T0 + i, role: 'presale', enqueue: true, reclassify: false }),
      ),
    );
    await settle(buyer, agent);
    const seqs = (ib: Inbox) => frames(ib).map((f) => f.seq as number);
    expect(seqs(buyer)).toHaveLength(20);
    expect(seqs(agent)).toHaveLength(20);
    expect(seqs(buyer)).toEqual([...seqs(buyer)].sort((x, y) => x - y));
    expect(seqs(agent)).toEqual([...seqs(agent)].sort((x, y) => x - y));
    expect(sorted([...seqs(buyer), ...seqs(agent)].map(String))).toEqual(sorted(Array.from({ length: 40 }, (_, i) => String(i + 2))));
    expect(frames(buyer).every((f) => f.from === 'agent')).toBe(true);
    expect(frames(agent).every((f) => f.from === 'buyer')).toBe(true);
  });

  // ---------------------------------------------------------------- dispatch

  it('dispatches the oldest session to the least loaded, then longest idle agent', async () => {
    await store.agentConnect(SHOP, 'A', 'A-c', T0);
    await store.agentConnect(SHOP, 'B', 'B-c', T0);
    await store.agentReady(SHOP, 'A', ['presale'], 2, T0 + 100);
    await store.agentReady(SHOP, 'B', ['presale'], 2, T0 + 50);
    // Ready again while ready keeps the idle time.
    await store.agentReady(SHOP, 'B', ['presale'], 2, T0 + 500);
    const s3 = await queued('b3', 'presale', T0 + 3);
    const s1 = await queued('b1', 'presale', T0 + 1);
    const s2 = await queued('b2', 'presale', T0 + 2);

    const now = T0 + 1000;
    expect(await store.dispatch(SHOP, 'presale', now, OFFER_MS, 1)).toEqual([{ sessionId: s1, agentId: 'B', role: 'presale', expiresAt: now + OFFER_MS }]);
    expect(await store.dispatch(SHOP, 'presale', now, OFFER_MS, 1)).toEqual([{ sessionId: s2, agentId: 'A', role: 'presale', expiresAt: now + OFFER_MS }]);
    expect(await store.dispatch(SHOP, 'presale', now, OFFER_MS, 1)).toEqual([{ sessionId: s3, agentId: 'B', role: 'presale', expiresAt: now + OFFER_MS }]);

    expect(await store.getSession(SHOP, s1)).toMatchObject({ state: 'offered', agentId: 'B', offerExpiresAt: now + OFFER_MS });
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ status: 'ready', load: 1, offers: [s2], sessions: [] });
    const b = await store.getAgent(SHOP, 'B');
    expect(b).toMatchObject({ id: 'B', shop: SHOP, status: 'ready', roles: ['presale'], capacity: 2, load: 2, sessions: [] });
    expect(sorted(b!.offers)).toEqual(sorted([s1, s3]));
    expect(await store.queueLength(SHOP, 'presale')).toBe(0);

    // Ending work restarts the idle clock: with equal load, A (idle since +100) now wins over B.
    await store.accept(SHOP, s1, 'B', now + 1);
    await store.close(SHOP, s1, 'B', 'done', now + 2, closeAt(RETENTION_MS));
    await store.accept(SHOP, s2, 'A', now + 3);
    const s4 = await queued('b4', 'presale', T0 + 4);
    expect(await store.dispatch(SHOP, 'presale', now + 4, OFFER_MS, 1)).toEqual([
      { sessionId: s4, agentId: 'A', role: 'presale', expiresAt: now + 4 + OFFER_MS },
    ]);
  });

  it('prefers the longest idle agent among equally loaded ones', async () => {
    await store.agentConnect(SHOP, 'A', 'A-c', T0);
    await store.agentConnect(SHOP, 'B', 'B-c', T0);
    await store.agentReady(SHOP, 'A', ['presale'], 3, T0 + 10);
    await store.agentReady(SHOP, 'B', ['presale'], 3, T0 + 20);
    const s1 = await queued('b1', 'presale', T0 + 1);
    const s2 = await queued('b2', 'presale', T0 + 2);
    expect((await store.dispatch(SHOP, 'presale', T0 + 30, OFFER_MS, 2)).map((o) => [o.sessionId, o.agentId])).toEqual([
      [s1, 'A'],
      [s2, 'B'],
    ]);
    // Both free again; B ended its work first, so B is now the longest idle.
    await store.accept(SHOP, s1, 'A', T0 + 31);
    await store.close(SHOP, s1, 'A', 'done', T0 + 40, closeAt(RETENTION_MS));
    await store.accept(SHOP, s2, 'B', T0 + 31);
    await store.close(SHOP, s2, 'B', 'done', T0 + 35, closeAt(RETENTION_MS));
    const s3 = await queued('b3', 'presale', T0 + 3);
    expect(await store.dispatch(SHOP, 'presale', T0 + 50, OFFER_MS, 1)).toEqual([
      { sessionId: s3, agentId: 'B', role: 'presale', expiresAt: T0 + 50 + OFFER_MS },
    ]);
    // A declined offer is not work: declining does not restart the idle clock.
    await store.decline(SHOP, s3, 'B', T0 + 60, 0);
    expect((await store.dispatch(SHOP, 'presale', T0 + 61, OFFER_MS, 1))[0]?.agentId).toBe('B');
  });

  it('never exceeds capacity and frees it on close', async () => {
    await ready('a1', ['presale'], 2, T0);
    const sids: string[] = [];
    for (let i = 1; i <= 5; i++) sids.push(await queued(`b${i}`, 'presale', T0 + i));
    const offers = await store.dispatch(SHOP, 'presale', T0 + 10, OFFER_MS, 10);
    expect(offers.map((o) => o.sessionId)).toEqual(sids.slice(0, 2));
    expect(offers.every((o) => o.agentId === 'a1')).toBe(true);
    expect(await store.dispatch(SHOP, 'presale', T0 + 11, OFFER_MS, 10)).toEqual([]);
    expect((await store.getAgent(SHOP, 'a1'))?.load).toBe(2);
    expect(await store.queueLength(SHOP, 'presale')).toBe(3);
    expect(await store.queuePosition(SHOP, 'presale', sids[2]!)).toBe(1);

    await store.accept(SHOP, sids[0]!, 'a1', T0 + 12);
    expect(await store.dispatch(SHOP, 'presale', T0 + 13, OFFER_MS, 10)).toEqual([]);
    // Lowering capacity below the load takes the agent out, raising it lets it in again.
    await store.agentReady(SHOP, 'a1', ['presale'], 1, T0 + 14);
    expect(await store.close(SHOP, sids[0]!, 'a1', 'done', T0 + 15, closeAt(RETENTION_MS))).toEqual({ buyerId: 'b1', agentId: 'a1', state: 'closed', role: 'presale' });
    expect((await store.getAgent(SHOP, 'a1'))?.load).toBe(1);
    expect(await store.dispatch(SHOP, 'presale', T0 + 16, OFFER_MS, 10)).toEqual([]);
    await store.agentReady(SHOP, 'a1', ['presale'], 3, T0 + 17);
    const more = await store.dispatch(SHOP, 'presale', T0 + 18, OFFER_MS, 10);
    expect(more.map((o) => o.sessionId)).toEqual(sids.slice(2, 4));
    expect((await store.getAgent(SHOP, 'a1'))?.load).toBe(3);
    expect(await store.queueLength(SHOP, 'presale')).toBe(1);
  });

  it('offers only to ready agents of the role, and respects max', async () => {
    await ready('billing', ['billing'], 5, T0);
    await store.agentConnect(SHOP, 'away', 'away-c', T0);
    const s1 = await queued('b1', 'presale', T0 + 1);
    const s2 = await queued('b2', 'presale', T0 + 2);
    expect(await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 5)).toEqual([]);

    await ready('a1', ['presale', 'billing'], 5, T0 + 4);
    await store.agentAway(SHOP, 'a1', T0 + 5);
    expect(await store.dispatch(SHOP, 'presale', T0 + 6, OFFER_MS, 5)).toEqual([]);
    expect((await store.getAgent(SHOP, 'a1'))?.status).toBe('away');

    await store.agentReady(SHOP, 'a1', ['presale'], 5, T0 + 7);
    expect(await store.dispatch(SHOP, 'presale', T0 + 8, OFFER_MS, 0)).toEqual([]);
    expect((await store.dispatch(SHOP, 'presale', T0 + 8, OFFER_MS, 1)).map((o) => o.sessionId)).toEqual([s1]);
    // Dropping a role stops offers in it.
    await store.agentReady(SHOP, 'a1', ['billing'], 5, T0 + 9);
    expect(await store.dispatch(SHOP, 'presale', T0 + 10, OFFER_MS, 5)).toEqual([]);
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ roles: ['billing'], load: 1, offers: [s1] });
    expect(await store.queuePosition(SHOP, 'presale', s2)).toBe(1);
  });

  it('looks at most 20 sessions down the queue past exclusions', async () => {
    await ready('a1', ['presale'], 30, T0);
    const sids: string[] = [];
    for (let i = 1; i <= 21; i++) sids.push(await queued(`b${i}`, 'presale', T0 + i));
    const offers = await store.dispatch(SHOP, 'presale', T0 + 100, OFFER_MS, 20);
    expect(offers.map((o) => o.sessionId)).toEqual(sids.slice(0, 20));
    for (const sid of sids.slice(0, 20)) await store.decline(SHOP, sid, 'a1', T0 + 101, EXCLUDE_MS);
    expect(await store.queueLength(SHOP, 'presale')).toBe(21);
    // The 21st is past the scan window, behind 20 sessions that exclude the only agent.
    expect(await store.dispatch(SHOP, 'presale', T0 + 102, OFFER_MS, 5)).toEqual([]);
    expect((await store.dispatch(SHOP, 'presale', T0 + 101 + EXCLUDE_MS, OFFER_MS, 1)).map((o) => o.sessionId)).toEqual([sids[0]]);
  });

  // ---------------------------------------------------------------- offers

  it('accepts an offer once; twice is a no-op; others and late accepts are refused', async () => {
    await ready('a1', ['presale'], 3, T0);
    await ready('a2', ['presale'], 3, T0 + 1);
    const sid = await queued('b1', 'presale', T0 + 2);
    const [offer] = await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 1);
    expect(offer?.agentId).toBe('a1');

    expect(await codeOf(store.accept(SHOP, sid, 'a2', T0 + 4))).toBe('bad_state');
    expect(await store.accept(SHOP, sid, 'a1', T0 + 4)).toEqual({ role: 'presale', alreadyAssigned: false });
    expect(await store.accept(SHOP, sid, 'a1', T0 + 5)).toEqual({ role: 'presale', alreadyAssigned: true });
    expect(await codeOf(store.accept(SHOP, sid, 'a2', T0 + 5))).toBe('bad_state');
    const view = await store.getSession(SHOP, sid);
    expect(view).toMatchObject({ state: 'assigned', agentId: 'a1', lastAgentId: 'a1' });
    expect(view?.offerExpiresAt).toBeUndefined();
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ load: 1, sessions: [sid], offers: [] });
    expect(await store.dueOffers(SHOP, T0 + 10 * OFFER_MS)).toEqual([]);
    expect(await store.expireOffer(SHOP, sid, T0 + 10 * OFFER_MS, EXCLUDE_MS)).toBeNull();

    // An offer is good until its expiry time, and dead right after it.
    const onTime = await queued('b2', 'presale', T0 + 6);
    const late = await queued('b3', 'presale', T0 + 7);
    const offers = await store.dispatch(SHOP, 'presale', T0 + 8, OFFER_MS, 2);
    // a2 has the lower load; then both carry one and a1 has been idle longer.
    expect(offers.map((o) => [o.sessionId, o.agentId])).toEqual([
      [onTime, 'a2'],
      [late, 'a1'],
    ]);
    expect((await store.accept(SHOP, onTime, 'a2', T0 + 8 + OFFER_MS)).alreadyAssigned).toBe(false);
    expect(await codeOf(store.accept(SHOP, late, 'a1', T0 + 9 + OFFER_MS))).toBe('bad_state');
    expect((await store.getSession(SHOP, late))?.state).toBe('offered');

    // Accepting what was never offered.
    const waiting = await queued('b4', 'presale', T0 + 9);
    expect(await codeOf(store.accept(SHOP, waiting, 'a1', T0 + 10))).toBe('bad_state');
  });

  it('puts a declined session back at the head and skips the decliner for excludeMs', async () => {
    await ready('a1', ['presale'], 2, T0);
    const s1 = await queued('b1', 'presale', T0 + 1);
    const s2 = await queued('b2', 'presale', T0 + 2);
    expect((await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 1)).map((o) => o.sessionId)).toEqual([s1]);
    expect(await store.queuePosition(SHOP, 'presale', s2)).toBe(1);

    expect(await codeOf(store.decline(SHOP, s1, 'a2', T0 + 4, EXCLUDE_MS))).toBe('bad_state');
    expect(await codeOf(store.decline(SHOP, s2, 'a1', T0 + 4, EXCLUDE_MS))).toBe('bad_state');
    const now = T0 + 5;
    expect(await store.decline(SHOP, s1, 'a1', now, EXCLUDE_MS)).toEqual({ sessionId: s1, buyerId: 'b1', role: 'presale' });
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', s2)).toBe(2);
    const view = await store.getSession(SHOP, s1);
    expect(view).toMatchObject({ state: 'queued', arrivedAt: T0 + 1 });
    expect(view?.agentId).toBeUndefined();
    expect(view?.offerExpiresAt).toBeUndefined();
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ load: 0, offers: [] });
    expect(await store.dueOffers(SHOP, now + 10 * OFFER_MS)).toEqual([]);
    expect(await codeOf(store.decline(SHOP, s1, 'a1', now, EXCLUDE_MS))).toBe('bad_state');

    // Still excluded just before excludeMs: the newer session goes first.
    expect((await store.dispatch(SHOP, 'presale', now + EXCLUDE_MS - 1, OFFER_MS, 5)).map((o) => o.sessionId)).toEqual([s2]);
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBe(1);
    expect((await store.dispatch(SHOP, 'presale', now + EXCLUDE_MS, OFFER_MS, 5)).map((o) => [o.sessionId, o.agentId])).toEqual([[s1, 'a1']]);
  });

  it('expires an offer only when due, and re-queues it', async () => {
    await ready('a1', ['presale'], 1, T0);
    const s1 = await queued('b1', 'presale', T0 + 1);
    const s2 = await queued('b2', 'presale', T0 + 2);
    const now = T0 + 10;
    const [offer] = await store.dispatch(SHOP, 'presale', now, OFFER_MS, 1);
    expect(offer).toEqual({ sessionId: s1, agentId: 'a1', role: 'presale', expiresAt: now + OFFER_MS });

    expect(await store.dueOffers(SHOP, now + OFFER_MS - 1)).toEqual([]);
    expect(await store.expireOffer(SHOP, s1, now + OFFER_MS - 1, EXCLUDE_MS)).toBeNull();
    expect((await store.getSession(SHOP, s1))?.state).toBe('offered');
    expect(await store.dueOffers(SHOP, now + OFFER_MS)).toEqual([s1]);

    const due = now + OFFER_MS;
    expect(await store.expireOffer(SHOP, s1, due, EXCLUDE_MS)).toEqual({ sessionId: s1, buyerId: 'b1', role: 'presale', agentId: 'a1' });
    expect(await store.expireOffer(SHOP, s1, due, EXCLUDE_MS)).toBeNull();
    expect(await store.dueOffers(SHOP, due)).toEqual([]);
    expect((await store.getSession(SHOP, s1))?.state).toBe('queued');
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBe(1);
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ load: 0, offers: [] });
    expect(await codeOf(store.accept(SHOP, s1, 'a1', due))).toBe('bad_state');

    // The agent who let it lapse gets the next session meanwhile.
    expect((await store.dispatch(SHOP, 'presale', due + 1, OFFER_MS, 1)).map((o) => o.sessionId)).toEqual([s2]);
  });

  it('lists due offers in expiry order', async () => {
    await ready('a1', ['presale'], 5, T0);
    const s1 = await queued('b1', 'presale', T0 + 1);
    const s2 = await queued('b2', 'presale', T0 + 2);
    await store.dispatch(SHOP, 'presale', T0 + 20, 1000, 1);
    await store.dispatch(SHOP, 'presale', T0 + 10, 1000, 1);
    expect(await store.dueOffers(SHOP, T0 + 1009)).toEqual([]);
    expect(await store.dueOffers(SHOP, T0 + 1010)).toEqual([s2]);
    expect(await store.dueOffers(SHOP, T0 + 5000)).toEqual([s2, s1]);
  });

  // ---------------------------------------------------------------- agent connections

  it('registers connections; a new agent starts away', async () => {
    const view = await store.agentConnect(SHOP, 'a1', 'c1', T0);
    const unrated = { ratingSum: 0, ratingCount: 0, replyMisses: 0 };
    expect(view).toEqual({ id: 'a1', shop: SHOP, status: 'away', roles: [], capacity: 0, load: 0, sessions: [], offers: [], ...unrated });
    await store.agentReady(SHOP, 'a1', ['presale', 'billing'], 4, T0 + 1);
    expect(await store.agentConnect(SHOP, 'a1', 'c2', T0 + 2)).toEqual({
      id: 'a1',
      shop: SHOP,
      status: 'ready',
      roles: ['presale', 'billing'],
      capacity: 4,
      load: 0,
      sessions: [],
      offers: [],
      ...unrated,
    });
    expect(await store.agentDisconnect(SHOP, 'a1', 'c1', T0 + 3, GRACE_MS)).toEqual({ offline: false, requeued: [] });
    expect((await store.getAgent(SHOP, 'a1'))?.status).toBe('ready');
    expect(await store.agentDisconnect(SHOP, 'a1', 'c2', T0 + 4, GRACE_MS)).toEqual({ offline: true, requeued: [] });
    expect((await store.getAgent(SHOP, 'a1'))?.status).toBe('offline');
    expect(await store.agentDisconnect(SHOP, 'a1', 'c2', T0 + 5, GRACE_MS)).toEqual({ offline: false, requeued: [] });
    expect(await store.agentDisconnect(SHOP, 'ghost', 'c1', T0 + 5, GRACE_MS)).toEqual({ offline: false, requeued: [] });
    expect(await store.dueGrace(SHOP, T0 + 10 * GRACE_MS)).toEqual([]);
    // Back: the previous readiness returns.
    expect((await store.agentConnect(SHOP, 'a1', 'c3', T0 + 6)).status).toBe('ready');
  });

  it('re-queues offers at once when an agent goes offline and keeps sessions for the grace period', async () => {
    await ready('a1', ['presale'], 2, T0, 'c1');
    await store.agentConnect(SHOP, 'a1', 'c2', T0);
    const kept = await assigned('b1', 'presale', T0 + 1, 'a1');
    const offered = await queued('b2', 'presale', T0 + 2);
    await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 1);
    const newer = await queued('b3', 'presale', T0 + 4);
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ load: 2, sessions: [kept], offers: [offered] });

    expect(await store.agentDisconnect(SHOP, 'a1', 'c1', T0 + 5, GRACE_MS)).toEqual({ offline: false, requeued: [] });
    const now = T0 + 6;
    expect(await store.agentDisconnect(SHOP, 'a1', 'c2', now, GRACE_MS)).toEqual({
      offline: true,
      graceUntil: now + GRACE_MS,
      requeued: [{ sessionId: offered, buyerId: 'b2', role: 'presale' }],
    });
    expect(await store.getSession(SHOP, offered)).toMatchObject({ state: 'queued' });
    expect(await store.queuePosition(SHOP, 'presale', offered)).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', newer)).toBe(2);
    expect(await store.dueOffers(SHOP, now + 10 * OFFER_MS)).toEqual([]);
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ status: 'offline', load: 1, sessions: [kept], offers: [] });
    expect((await store.getSession(SHOP, kept))?.state).toBe('assigned');
    // Offline agents get no offers.
    expect(await store.dispatch(SHOP, 'presale', now + 1, OFFER_MS, 5)).toEqual([]);

    expect(await store.dueGrace(SHOP, now + GRACE_MS - 1)).toEqual([]);
    expect(await store.dueGrace(SHOP, now + GRACE_MS)).toEqual(['a1']);
    expect(await store.expireGrace(SHOP, 'a1', now + GRACE_MS - 1)).toEqual([]);
    expect((await store.getSession(SHOP, kept))?.state).toBe('assigned');

    // Back within grace: readiness and sessions return, the grace timer is gone.
    const back = await store.agentConnect(SHOP, 'a1', 'c3', now + 1000);
    expect(back).toMatchObject({ status: 'ready', roles: ['presale'], capacity: 2, load: 1, sessions: [kept], offers: [] });
    expect(await store.dueGrace(SHOP, now + 10 * GRACE_MS)).toEqual([]);
    expect(await store.expireGrace(SHOP, 'a1', now + 10 * GRACE_MS)).toEqual([]);
    expect((await store.postAgentMessage(SHOP, kept, 'a1', { clientMsgId: 'm', text: 'back', ts: now + 1001 })).duplicate).toBe(false);
    expect((await store.dispatch(SHOP, 'presale', now + 1002, OFFER_MS, 5)).map((o) => o.sessionId)).toEqual([offered]);
  });

  it('re-queues sessions at the head when grace runs out', async () => {
    await ready('a1', ['presale'], 3, T0);
    const s1 = await assigned('b1', 'presale', T0 + 1, 'a1');
    const s2 = await assigned('b2', 'presale', T0 + 2, 'a1');
    const newer = await queued('b3', 'presale', T0 + 3);
    await store.agentAway(SHOP, 'a1', T0 + 4);
    const now = T0 + 10;
    const off = await store.agentDisconnect(SHOP, 'a1', 'a1-c1', now, GRACE_MS);
    expect(off).toEqual({ offline: true, graceUntil: now + GRACE_MS, requeued: [] });

    const requeued = await store.expireGrace(SHOP, 'a1', now + GRACE_MS);
    expect(requeued.sort((x, y) => x.buyerId.localeCompare(y.buyerId))).toEqual([
      { sessionId: s1, buyerId: 'b1', role: 'presale' },
      { sessionId: s2, buyerId: 'b2', role: 'presale' },
    ]);
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', s2)).toBe(2);
    expect(await store.queuePosition(SHOP, 'presale', newer)).toBe(3);
    const view = await store.getSession(SHOP, s1);
    expect(view).toMatchObject({ state: 'queued', lastAgentId: 'a1' });
    expect(view?.agentId).toBeUndefined();
    expect(await store.getAgent(SHOP, 'a1')).toMatchObject({ status: 'offline', load: 0, sessions: [], offers: [] });
    expect(await store.dueGrace(SHOP, now + 10 * GRACE_MS)).toEqual([]);
    expect(await store.expireGrace(SHOP, 'a1', now + 10 * GRACE_MS)).toEqual([]);
    expect(await codeOf(store.postAgentMessage(SHOP, s1, 'a1', { clientMsgId: 'm', text: 'late', ts: now }))).toBe('not_assigned');

    // Coming back later: as it chose before (away), with nothing left.
    expect(await store.agentConnect(SHOP, 'a1', 'c9', now + 2 * GRACE_MS)).toMatchObject({ status: 'away', load: 0, sessions: [] });
  });

  // ---------------------------------------------------------------- transfer

  it('transfers keeping the arrival time, role history and note', async () => {
    await ready('A', ['presale'], 3, T0);
    const s1 = await assigned('b1', 'presale', T0 + 1, 'A');
    const s2 = await queued('b2', 'aftersales', T0 + 2);

    await ready('X', ['presale'], 3, T0);
    expect(await codeOf(store.transfer(SHOP, s1, 'X', 'aftersales', undefined, T0 + 3, xfer(EXCLUDE_MS)))).toBe('not_assigned');
    expect(await codeOf(store.transfer(SHOP, s2, 'A', 'presale', undefined, T0 + 3, xfer(EXCLUDE_MS)))).toBe('not_assigned');

    const now = T0 + 5;
    expect(await store.transfer(SHOP, s1, 'A', 'aftersales', 'wants a refund', now, xfer(EXCLUDE_MS))).toEqual({ fromRole: 'presale', buyerId: 'b1', position: 1, previousAgentId: 'A' });
    const view = await store.getSession(SHOP, s1);
    expect(view).toMatchObject({ state: 'queued', role: 'aftersales', roleHistory: ['presale', 'aftersales'], note: 'wants a refund', arrivedAt: T0 + 1, lastAgentId: 'A' });
    expect(view?.agentId).toBeUndefined();
    expect(await store.queuePosition(SHOP, 'aftersales', s1)).toBe(1);
    expect(await store.queuePosition(SHOP, 'aftersales', s2)).toBe(2);
    expect(await store.queuePosition(SHOP, 'presale', s1)).toBeNull();
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ load: 0, sessions: [] });
    expect(await codeOf(store.postAgentMessage(SHOP, s1, 'A', { clientMsgId: 'm', text: 'x', ts: now }))).toBe('not_assigned');

    // The transferring agent is skipped for it, even when it serves the target role.
    await store.agentReady(SHOP, 'A', ['presale', 'aftersales'], 3, now + 1);
    expect((await store.dispatch(SHOP, 'aftersales', now + 2, OFFER_MS, 5)).map((o) => [o.sessionId, o.agentId])).toEqual([[s2, 'A']]);
    await ready('B', ['aftersales'], 3, now + 3);
    expect((await store.dispatch(SHOP, 'aftersales', now + 4, OFFER_MS, 5)).map((o) => [o.sessionId, o.agentId])).toEqual([[s1, 'B']]);
    expect(await store.accept(SHOP, s1, 'B', now + 5)).toEqual({ role: 'aftersales', note: 'wants a refund', alreadyAssigned: false });

    // A transfer without a note clears it.
    await store.transfer(SHOP, s1, 'B', 'billing', undefined, now + 6, xfer(0));
    const again = await store.getSession(SHOP, s1);
    expect(again?.roleHistory).toEqual(['presale', 'aftersales', 'billing']);
    expect(again?.note).toBeUndefined();
    expect(await store.queuePosition(SHOP, 'billing', s1)).toBe(1);

    await store.endSession(SHOP, s1, 'buyer left', now + 7, { retentionMs: RETENTION_MS });
    expect(await codeOf(store.transfer(SHOP, s1, 'B', 'presale', undefined, now + 8, xfer(0)))).toBe('bad_state');
  });

  it('transfer: one atomic step with handover frame, bot line, handover history and boost', async () => {
    await ready('A', ['presale'], 2, T0);
    const s1 = await assigned('b1', 'presale', T0 + 1_000, 'A');
    // Arrived 30 s after s1, but before the transfer: with a 60 s boost s1 still goes first.
    const later = await queued('b2', 'aftersales', T0 + 31_000);
    const buyer = await listen({ kind: 'buyer', shop: SHOP, id: 'b1' });
    const agent = await listen({ kind: 'agent', shop: SHOP, id: 'A' });
    const r = await store.transfer(SHOP, s1, 'A', 'aftersales', 'refund for order 42', T0 + 40_000, xfer(EXCLUDE_MS, 60_000, 'passing you on'));
    expect(r).toEqual({ fromRole: 'presale', buyerId: 'b1', position: 1, previousAgentId: 'A' });
    expect(await store.queuePosition(SHOP, 'aftersales', later)).toBe(2);
    await settle(buyer, agent);
    expect(frames(buyer).map((f) => [f.type, f.kind ?? f.toRole])).toEqual([
      ['handover', 'aftersales'],
      ['message', 'handover'],
    ]);
    expect(frames(buyer)[1]).toMatchObject({ from: 'bot', text: 'passing you on', role: 'aftersales', seq: 2 });
    expect(frames(agent)).toEqual([{ type: 'session_closed', sessionId: s1, reason: 'transferred' }]);
    expect((await store.getSession(SHOP, s1))?.handovers).toEqual([
      { fromRole: 'presale', toRole: 'aftersales', agentId: 'A', note: 'refund for order 42', ts: T0 + 40_000 },
    ]);

    // Chain: the next agent sees the whole history; a decline keeps the boosted place.
    await ready('B', ['aftersales'], 1, T0 + 41_000);
    await store.dispatch(SHOP, 'aftersales', T0 + 41_000, OFFER_MS, 1);
    await store.decline(SHOP, s1, 'B', T0 + 42_000, 0);
    expect(await store.queuePosition(SHOP, 'aftersales', s1)).toBe(1);
    await store.dispatch(SHOP, 'aftersales', T0 + 43_000, OFFER_MS, 1);
    await store.accept(SHOP, s1, 'B', T0 + 43_000);
    await store.transfer(SHOP, s1, 'B', 'billing', undefined, T0 + 44_000, xfer(0, 0, ''));
    const view = await store.getSession(SHOP, s1);
    expect(view?.roleHistory).toEqual(['presale', 'aftersales', 'billing']);
    expect(view?.handovers.map((h) => [h.fromRole, h.toRole, h.agentId, h.note])).toEqual([
      ['presale', 'aftersales', 'A', 'refund for order 42'],
      ['aftersales', 'billing', 'B', undefined],
    ]);
    // No line configured: nothing said.
    expect((await store.lastEvents(SHOP, s1, 1))[0]?.kind).toBe('handover');
    expect(view?.lastSeq).toBe(2);
  });

  it('transfer racing the agent going offline and its grace ending: each session ends up in exactly one place', async () => {
    await ready('A', ['presale'], 10, T0);
    const sids: string[] = [];
    for (let i = 0; i < 8; i++) sids.push(await assigned(`b${i}`, 'presale', T0 + i, 'A'));
    const now = T0 + 100;
    // Interleave: half the transfers before the disconnect, half after the grace expired.
    const ops = await Promise.allSettled([
      ...sids.slice(0, 4).map((sid) => store.transfer(SHOP, sid, 'A', 'aftersales', 'n', now, xfer(0))),
      store.agentDisconnect(SHOP, 'A', 'A-c1', now, 0).then(() => store.expireGrace(SHOP, 'A', now + 1)),
      ...sids.slice(4).map((sid) => store.transfer(SHOP, sid, 'A', 'aftersales', 'n', now + 2, xfer(0))),
    ]);
    for (const op of ops) if (op.status === 'rejected') expect((op.reason as PeakError).code).toBe('not_assigned');
    for (const sid of sids) {
      const s = await store.getSession(SHOP, sid);
      expect(s?.state).toBe('queued');
      const places = [await store.queuePosition(SHOP, 'presale', sid), await store.queuePosition(SHOP, 'aftersales', sid)].filter((p) => p !== null);
      expect(places).toHaveLength(1);
      expect(await store.queuePosition(SHOP, s!.role, sid)).not.toBeNull();
    }
    expect(await store.queueLength(SHOP, 'presale')).toBe(8 - (await store.queueLength(SHOP, 'aftersales')));
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ load: 0, sessions: [], offers: [] });
  });

  it('ops: forced transfer from any waiting or served state, agent list, queue stats, shared config', async () => {
    await ready('A', ['presale'], 2, T0);
    const served = await assigned('b1', 'presale', T0 + 1, 'A');
    const offered = await queued('b2', 'presale', T0 + 2);
    await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 1);
    const waiting = await queued('b3', 'presale', T0 + 4);
    const agent = await listen({ kind: 'agent', shop: SHOP, id: 'A' });

    expect(await store.queueStats(SHOP, 'presale')).toMatchObject({ depth: 1, offline: 0, oldestArrivedAt: T0 + 4 });
    expect(await store.queueStats(SHOP, 'aftersales')).toMatchObject({ depth: 0, offline: 0, oldestArrivedAt: null });
    for (const [sid, prev] of [[served, 'A'], [offered, 'A'], [waiting, undefined]] as const) {
      const r = await store.transfer(SHOP, sid, 'ops-1', 'aftersales', 'by ops', T0 + 10, { ...xfer(0), force: true });
      expect(r).toMatchObject({ fromRole: 'presale', ...(prev ? { previousAgentId: prev } : {}) });
      expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'queued', role: 'aftersales' });
    }
    expect(await store.queueStats(SHOP, 'aftersales')).toMatchObject({ depth: 3, offline: 0, oldestArrivedAt: T0 + 1 });
    expect(await store.queueStats(SHOP, 'presale')).toMatchObject({ depth: 0, offline: 0, oldestArrivedAt: null });
    await settle(agent);
    expect(frames(agent).map((f) => [f.type, f.sessionId])).toEqual([
      ['session_closed', served],
      ['revoked', offered],
    ]);
    // Without force, ops (not the holder) cannot move it, and nobody can move a closed one.
    expect(await codeOf(store.transfer(SHOP, waiting, 'ops-1', 'presale', undefined, T0 + 11, xfer(0)))).toBe('not_assigned');
    await store.endSession(SHOP, waiting, 'ops', T0 + 12, { retentionMs: RETENTION_MS });
    expect(await codeOf(store.transfer(SHOP, waiting, 'ops-1', 'presale', undefined, T0 + 13, { ...xfer(0), force: true }))).toBe('bad_state');

    await ready('B', ['aftersales'], 4, T0 + 14);
    expect((await store.listAgents(SHOP)).map((a) => [a.id, a.status, a.load]).sort()).toEqual([
      ['A', 'ready', 0],
      ['B', 'ready', 0],
    ]);
    expect(await store.listAgents('no-such-shop')).toEqual([]);

    expect(await store.getSharedConfig()).toBeNull();
    const versions: string[] = [];
    await store.watchSharedConfig((v) => versions.push(v));
    await store.publishSharedConfig({ doc: '{"a":1}', version: 'v1', source: 'test', updatedAt: T0 });
    expect(await store.getSharedConfig()).toEqual({ doc: '{"a":1}', version: 'v1', source: 'test', updatedAt: T0 });
    await vi.waitFor(() => expect(versions).toEqual(['v1']));
  });

  it('idle close: a bot or assigned session whose buyer went quiet, never a waiting one', async () => {
    await ready('A', ['presale'], 2, T0);
    const talking = await assigned('b1', 'presale', T0, 'A');
    const waiting = await queued('b2', 'presale', T0 + 1);
    await store.postBuyerMessage(SHOP, talking, 'b1', { clientMsgId: 'q', text: 'still there?', ts: T0 + 100, role: 'presale', enqueue: true, reclassify: false });
    const { sessionId: faqOnly } = await store.openSession(SHOP, 'b3', T0);
    await store.postBuyerMessage(SHOP, faqOnly, 'b3', { clientMsgId: 'f', text: 'rules?', ts: T0 + 50, role: 'presale', enqueue: false, reclassify: false });

    expect(sorted(await store.dueIdle(SHOP, T0 + 100))).toEqual(sorted([talking, faqOnly]));
    expect(await store.dueIdle(SHOP, T0 + 99)).toEqual([faqOnly]);
    const line = { text: 'closing for now', kind: 'idle_close' as const };
    // Not idle long enough (the buyer spoke at +100): nothing happens.
    expect(await store.idleClose(SHOP, talking, T0 + 200, T0 + 99, { retentionMs: RETENTION_MS, line })).toBeNull();
    expect(await store.idleClose(SHOP, waiting, T0 + 200, T0 + 150, { retentionMs: RETENTION_MS, line })).toBeNull();
    expect((await store.getSession(SHOP, waiting))?.state).toBe('queued');

    const agent = await listen({ kind: 'agent', shop: SHOP, id: 'A' });
    expect(await store.idleClose(SHOP, talking, T0 + 300, T0 + 150, { retentionMs: RETENTION_MS, line })).toEqual({ buyerId: 'b1', agentId: 'A', state: 'closed', role: 'presale' });
    expect(await store.getSession(SHOP, talking)).toMatchObject({ state: 'closed', closedReason: 'idle' });
    expect((await store.lastEvents(SHOP, talking, 1))[0]).toMatchObject({ from: 'bot', text: 'closing for now', kind: 'idle_close' });
    await settle(agent);
    expect(frames(agent).map((f) => f.kind)).toEqual(['idle_close']);
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ load: 0, sessions: [] });
    expect(await store.idleClose(SHOP, faqOnly, T0 + 300, T0 + 150, { retentionMs: RETENTION_MS, line })).toMatchObject({ buyerId: 'b3', state: 'closed' });
    expect(await store.dueIdle(SHOP, T0 + 10_000)).toEqual([]);
  });

  it('reply window: a miss is counted once per wait, and escalated as asked', async () => {
    await ready('A', ['presale'], 3, T0);
    const s1 = await assigned('b1', 'presale', T0, 'A');
    // The agent answers in time: no wait left.
    expect((await store.postAgentMessage(SHOP, s1, 'A', { clientMsgId: 'a1', text: 'hello', ts: T0 + 10 })).replyMs).toBe(10);
    expect(await store.dueReplies(SHOP, T0 + 1_000_000)).toEqual([]);
    // Two buyer lines, one wait, from the first of them.
    await store.postBuyerMessage(SHOP, s1, 'b1', { clientMsgId: 'b1', text: 'size?', ts: T0 + 100, role: 'presale', enqueue: true, reclassify: false });
    await store.postBuyerMessage(SHOP, s1, 'b1', { clientMsgId: 'b2', text: 'hello??', ts: T0 + 200, role: 'presale', enqueue: true, reclassify: false });
    expect(await store.dueReplies(SHOP, T0 + 99)).toEqual([]);
    expect(await store.dueReplies(SHOP, T0 + 100)).toEqual([s1]);
    expect(await store.replyMiss(SHOP, s1, T0 + 400, T0 + 99, { escalate: 'alert', excludeMs: 0 })).toBeNull();

    const agent = await listen({ kind: 'agent', shop: SHOP, id: 'A' });
    expect(await store.replyMiss(SHOP, s1, T0 + 400, T0 + 100, { escalate: 'alert', excludeMs: 0 })).toEqual({
      agentId: 'A',
      buyerId: 'b1',
      role: 'presale',
      waitingSince: T0 + 100,
      requeued: false,
    });
    expect(await store.replyMiss(SHOP, s1, T0 + 500, T0 + 100, { escalate: 'alert', excludeMs: 0 })).toBeNull();
    await settle(agent);
    expect(frames(agent)).toEqual([{ type: 'reply_overdue', sessionId: s1, waitingSince: T0 + 100 }]);
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ replyMisses: 1 });
    expect(await store.getSession(SHOP, s1)).toMatchObject({ state: 'assigned', replyMisses: 1 });
    // The miss took this wait off the clock: the late answer is not counted as a reply in time.
    expect((await store.postAgentMessage(SHOP, s1, 'A', { clientMsgId: 'a2', text: 'sorry', ts: T0 + 600 })).replyMs).toBeUndefined();

    // reoffer: the session goes back to the head of its queue, away from this agent.
    const s2 = await assigned('b2', 'presale', T0 + 1_000, 'A');
    const fresh = await queued('b3', 'presale', T0 + 2_000);
    const r = await store.replyMiss(SHOP, s2, T0 + 5_000, T0 + 1_000, { escalate: 'reoffer', excludeMs: 60_000 });
    expect(r).toMatchObject({ agentId: 'A', requeued: true });
    expect(await store.getSession(SHOP, s2)).toMatchObject({ state: 'queued', replyMisses: 1 });
    expect(await store.queuePosition(SHOP, 'presale', s2)).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', fresh)).toBe(2);
    expect((await store.getAgent(SHOP, 'A'))?.sessions).toEqual([s1]);
    await settle(agent);
    expect(frames(agent).at(-1)).toEqual({ type: 'session_closed', sessionId: s2, reason: 'reply_timeout' });
    // The agent that let it wait is skipped for it.
    expect((await store.dispatch(SHOP, 'presale', T0 + 5_001, OFFER_MS, 5)).map((o) => o.sessionId)).toEqual([fresh]);
  });

  // ---------------------------------------------------------------- close, rate

  it('closes: frees capacity, ends the session for writing, and a reopen starts a new one', async () => {
    await ready('A', ['presale'], 1, T0);
    await ready('B', ['billing'], 1, T0);
    const s1 = await assigned('b1', 'presale', T0 + 1, 'A');
    const s2 = await queued('b2', 'presale', T0 + 2);
    expect(await store.dispatch(SHOP, 'presale', T0 + 3, OFFER_MS, 5)).toEqual([]);

    expect(await codeOf(store.close(SHOP, s1, 'B', 'nope', T0 + 4, closeAt(RETENTION_MS)))).toBe('not_assigned');
    expect(await codeOf(store.block(SHOP, s1, 'B', 'nope', T0 + 4, 1000, RETENTION_MS))).toBe('not_assigned');
    expect(await codeOf(store.postAgentMessage(SHOP, s1, 'B', { clientMsgId: 'm', text: 'x', ts: T0 }))).toBe('not_assigned');

    expect(await store.close(SHOP, s1, 'A', 'resolved', T0 + 5, closeAt(RETENTION_MS))).toEqual({ buyerId: 'b1', agentId: 'A', state: 'closed', role: 'presale' });
    const view = await store.getSession(SHOP, s1);
    expect(view).toMatchObject({ state: 'closed', closedReason: 'resolved', lastAgentId: 'A', role: 'presale' });
    expect(view?.agentId).toBeUndefined();
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ load: 0, sessions: [], offers: [] });
    expect(await store.dispatch(SHOP, 'presale', T0 + 6, OFFER_MS, 5)).toEqual([{ sessionId: s2, agentId: 'A', role: 'presale', expiresAt: T0 + 6 + OFFER_MS }]);

    expect(await codeOf(store.postBuyerMessage(SHOP, s1, 'b1', { clientMsgId: 'late', text: 'x', ts: T0 + 7, role: 'presale', enqueue: true, reclassify: false }))).toBe('bad_state');
    expect(await codeOf(store.postAgentMessage(SHOP, s1, 'A', { clientMsgId: 'late', text: 'x', ts: T0 + 7 }))).toBe('bad_state');
    expect(await codeOf(store.postBotMessage(SHOP, s1, { text: 'x', ts: T0 + 7, perMinute: 100 }))).toBe('bad_state');
    expect(await codeOf(store.close(SHOP, s1, 'A', 'again', T0 + 7, closeAt(RETENTION_MS)))).toBe('bad_state');
    expect(await codeOf(store.endSession(SHOP, s1, 'again', T0 + 7, { retentionMs: RETENTION_MS }))).toBe('bad_state');
    expect(await codeOf(store.accept(SHOP, s1, 'A', T0 + 7))).toBe('bad_state');
    // The transcript stays readable.
    expect((await store.readEvents(SHOP, s1, 0)).map((e) => e.seq)).toEqual([1]);

    const reopened = await store.openSession(SHOP, 'b1', T0 + 8);
    expect(reopened.created).toBe(true);
    expect(reopened.lastSeq).toBe(0);
    expect(reopened.sessionId).not.toBe(s1);
    expect((await store.openSession(SHOP, 'b1', T0 + 9)).sessionId).toBe(reopened.sessionId);

    // An offered session is not the holder's to close, but the system may.
    expect(await codeOf(store.close(SHOP, s2, 'A', 'x', T0 + 10, closeAt(RETENTION_MS)))).toBe('not_assigned');
    expect(await codeOf(store.postAgentMessage(SHOP, s2, 'A', { clientMsgId: 'm', text: 'x', ts: T0 }))).toBe('not_assigned');
    expect(await store.endSession(SHOP, s2, 'buyer left', T0 + 11, { retentionMs: RETENTION_MS })).toEqual({ buyerId: 'b2', agentId: 'A', state: 'closed', role: 'presale' });
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ load: 0, offers: [] });
    expect(await store.dueOffers(SHOP, T0 + 10 * OFFER_MS)).toEqual([]);

    // Closing a queued and a bot session.
    const s3 = await queued('b3', 'presale', T0 + 12);
    const s4 = await queued('b4', 'presale', T0 + 13);
    expect(await store.endSession(SHOP, s3, 'timeout', T0 + 14, { retentionMs: RETENTION_MS })).toEqual({ buyerId: 'b3', state: 'closed', role: 'presale' });
    expect(await store.queueLength(SHOP, 'presale')).toBe(1);
    expect(await store.queuePosition(SHOP, 'presale', s4)).toBe(1);
    expect(await store.endSession(SHOP, reopened.sessionId, 'idle', T0 + 15, { retentionMs: RETENTION_MS })).toEqual({ buyerId: 'b1', state: 'closed', role: '' });
  });

  it('closing: rating invite, one rating by its buyer within the window, then goodbye and closed', async () => {
    await ready('A', ['presale'], 2, T0);
    const sid = await assigned('b1', 'presale', T0 + 1, 'A');
    expect(await codeOf(store.rate(SHOP, sid, 'b1', 5, 'great', T0 + 2))).toBe('bad_state');
    const seen = await listen({ kind: 'buyer', shop: SHOP, id: 'b1' });
    const opts = { retentionMs: RETENTION_MS, rateWindowMs: 60_000, invite: 'rate us', goodbye: 'bye' };
    expect(await store.close(SHOP, sid, 'A', 'agent_closed', T0 + 3, opts)).toEqual({ buyerId: 'b1', agentId: 'A', state: 'closing', role: 'presale' });
    // The agent is free at once; the buyer is still in this session (a reconnect finds it).
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ load: 0, sessions: [] });
    expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'closing', closingUntil: T0 + 3 + 60_000, lastAgentId: 'A' });
    expect(await store.openSession(SHOP, 'b1', T0 + 4)).toMatchObject({ sessionId: sid, created: false });
    expect((await store.lastEvents(SHOP, sid, 1))[0]).toMatchObject({ from: 'bot', text: 'rate us', kind: 'rating_invite' });

    // Out of state while closing: the agent can do nothing more; the buyer cannot write.
    expect(await codeOf(store.postAgentMessage(SHOP, sid, 'A', { clientMsgId: 'late', text: 'x', ts: T0 + 5 }))).toBe('bad_state');
    expect(await codeOf(store.close(SHOP, sid, 'A', 'again', T0 + 5, opts))).toBe('bad_state');
    expect(await codeOf(store.transfer(SHOP, sid, 'A', 'aftersales', undefined, T0 + 5, xfer(0)))).toBe('bad_state');
    expect(await codeOf(store.block(SHOP, sid, 'A', 'x', T0 + 5, 1000, RETENTION_MS))).toBe('bad_state');
    expect(await codeOf(store.postBuyerMessage(SHOP, sid, 'b1', { clientMsgId: 'm2', text: 'x', ts: T0 + 5, role: 'presale', enqueue: true, reclassify: false }))).toBe('bad_state');
    // A resend of a line stored before the close is still answered with its seq.
    const resend = { clientMsgId: 'first-b1', text: 'hi from b1', ts: T0 + 5, role: 'presale', enqueue: true, reclassify: false };
    expect(await store.postBuyerMessage(SHOP, sid, 'b1', resend)).toMatchObject({ seq: 1, duplicate: true, state: 'closing' });
    expect(await store.finishClosing(SHOP, sid, T0 + 6, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: true })).toBeNull();
    expect(await store.dueClosing(SHOP, T0 + 6)).toEqual([]);
    expect(await store.dueClosing(SHOP, T0 + 3 + 60_000)).toEqual([sid]);

    expect(await codeOf(store.rate(SHOP, sid, 'b2', 5, undefined, T0 + 7))).toBe('unknown_session');
    await store.rate(SHOP, sid, 'b1', 4, 'good', T0 + 7);
    expect(await store.getSession(SHOP, sid)).toMatchObject({ rating: 4, ratingComment: 'good' });
    expect(await codeOf(store.rate(SHOP, sid, 'b1', 5, undefined, T0 + 8))).toBe('bad_state');
    expect(await store.getAgent(SHOP, 'A')).toMatchObject({ ratingSum: 4, ratingCount: 1 });

    expect(await store.finishClosing(SHOP, sid, T0 + 9, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: false })).toEqual({ buyerId: 'b1', reason: 'agent_closed' });
    expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'closed', closedReason: 'agent_closed', closedAt: T0 + 9, rating: 4 });
    expect(await codeOf(store.finishClosing(SHOP, sid, T0 + 10, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: false }))).toBe('bad_state');
    expect(await store.finishClosing(SHOP, sid, T0 + 10, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: true })).toBeNull();
    expect(await store.dueClosing(SHOP, T0 + 10 * 60_000)).toEqual([]);
    expect(await codeOf(store.rate(SHOP, sid, 'b1', 5, undefined, T0 + 11))).toBe('bad_state');
    // Closed: the buyer's next message, whatever its id, belongs to a new session.
    expect(await codeOf(store.postBuyerMessage(SHOP, sid, 'b1', resend))).toBe('bad_state');
    expect((await store.openSession(SHOP, 'b1', T0 + 12)).created).toBe(true);

    const events = await store.readEvents(SHOP, sid, 0);
    expect(events.slice(-2).map((e) => [e.text, e.kind])).toEqual([['rate us', 'rating_invite'], ['bye', 'goodbye']]);
    await settle(seen);
    expect(frames(seen).map((f) => [f.type, f.kind])).toEqual([
      ['message', 'rating_invite'],
      ['message', 'goodbye'],
    ]);

    // Without a rating window: goodbye and closed at once; nothing to rate.
    const s2 = await assigned('b3', 'presale', T0 + 13, 'A');
    expect(await store.close(SHOP, s2, 'A', 'agent_closed', T0 + 14, { ...opts, rateWindowMs: 0 })).toMatchObject({ state: 'closed' });
    expect((await store.lastEvents(SHOP, s2, 1))[0]).toMatchObject({ text: 'bye', kind: 'goodbye' });
    expect(await codeOf(store.rate(SHOP, s2, 'b3', 3, undefined, T0 + 15))).toBe('bad_state');
  });

  it('the rating window ends by itself: finishClosing(onlyDue) once it is due', async () => {
    await ready('A', ['presale'], 2, T0);
    const sid = await assigned('b1', 'presale', T0 + 1, 'A');
    await store.close(SHOP, sid, 'A', 'agent_closed', T0 + 2, { retentionMs: RETENTION_MS, rateWindowMs: 1_000, invite: 'rate', goodbye: 'bye' });
    const due = T0 + 2 + 1_000;
    expect(await store.finishClosing(SHOP, sid, due - 1, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: true })).toBeNull();
    const both = await Promise.all([
      store.finishClosing(SHOP, sid, due, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: true }),
      store.finishClosing(SHOP, sid, due, { retentionMs: RETENTION_MS, goodbye: 'bye', onlyDue: true }),
    ]);
    expect(both.filter(Boolean)).toEqual([{ buyerId: 'b1', reason: 'agent_closed' }]);
    expect((await store.readEvents(SHOP, sid, 0)).filter((e) => e.kind === 'goodbye')).toHaveLength(1);
  });

  // ---------------------------------------------------------------- expiry, sweeping

  it('forgets a session nobody wrote in after the idle TTL, with its bot messages', async () => {
    const s = await makeStore({ idleSessionTtlMs: 300 });
    const { sessionId: idle } = await s.openSession(SHOP, 'b1', T0);
    await s.postBotMessage(SHOP, idle, { text: 'welcome', ts: T0 + 1, perMinute: 100 });
    const { sessionId: talked } = await s.openSession(SHOP, 'b2', T0);
    await s.postBotMessage(SHOP, talked, { text: 'welcome', ts: T0 + 1, perMinute: 100 });
    await s.postBuyerMessage(SHOP, talked, 'b2', { clientMsgId: 'm', text: 'hi', ts: T0 + 2, role: 'presale', enqueue: true, reclassify: false });
    expect((await s.getSession(SHOP, idle))?.state).toBe('bot');
    await sleep(450);

    expect(await s.getSession(SHOP, idle)).toBeNull();
    expect(await s.readEvents(SHOP, idle, 0)).toEqual([]);
    const fresh = await s.openSession(SHOP, 'b1', T0 + 3);
    expect(fresh.created).toBe(true);
    expect(fresh.sessionId).not.toBe(idle);

    expect((await s.getSession(SHOP, talked))?.state).toBe('queued');
    expect((await s.readEvents(SHOP, talked, 0)).map((e) => e.seq)).toEqual([1, 2]);
    expect(await s.openSession(SHOP, 'b2', T0 + 4)).toEqual({ sessionId: talked, lastSeq: 2, created: false });
  });

  it('forgets a closed session after retentionMs', async () => {
    await ready('A', ['presale'], 1, T0);
    const sid = await assigned('b1', 'presale', T0, 'A');
    await store.postAgentMessage(SHOP, sid, 'A', { clientMsgId: 'm', text: 'bye', ts: T0 + 1 });
    await store.close(SHOP, sid, 'A', 'resolved', T0 + 2, closeAt(300));
    expect((await store.getSession(SHOP, sid))?.state).toBe('closed');
    await sleep(450);
    expect(await store.getSession(SHOP, sid)).toBeNull();
    expect(await store.readEvents(SHOP, sid, 0)).toEqual([]);
    expect(await codeOf(store.rate(SHOP, sid, 'b1', 5, undefined, T0 + 3))).toBe('unknown_session');
  });

  it('bots: no two identical lines in a row, and at most perMinute lines per rolling minute', async () => {
    const sid = await queued('bot-b', 'presale', T0);
    const bot = (text: string, ts: number) => store.postBotMessage(SHOP, sid, { text, ts, perMinute: 2 });
    expect((await bot('hello', T0 + 1)).seq).toBe(2);
    expect(await bot('hello', T0 + 2)).toEqual({ seq: 0, duplicate: false, suppressed: 'repeat' });
    expect((await bot('still there?', T0 + 3)).seq).toBe(3);
    expect(await bot('third', T0 + 4)).toEqual({ seq: 0, duplicate: false, suppressed: 'rate' });
    // A minute after the first line, one slot is free again.
    expect((await bot('third', T0 + 60_002)).seq).toBe(4);
    expect((await store.readEvents(SHOP, sid, 0)).map((e) => e.text)).toEqual(['hi from bot-b', 'hello', 'still there?', 'third']);
  });

  it('reports the first response once: the first bot or agent line after the first buyer message', async () => {
    const sid = await queued('fr-b', 'presale', T0);
    const first = await store.postBotMessage(SHOP, sid, { text: 'hi', ts: T0 + 250, perMinute: 10 });
    expect(first.firstResponseMs).toBe(250);
    const second = await store.postBotMessage(SHOP, sid, { text: 'again', ts: T0 + 900, perMinute: 10 });
    expect(second.firstResponseMs).toBeUndefined();
  });

  it('a buyer message with enqueue false leaves the session with the bot; a later one queues it', async () => {
    const { sessionId } = await store.openSession(SHOP, 'faq-b', T0);
    const r1 = await store.postBuyerMessage(SHOP, sessionId, 'faq-b', { clientMsgId: '1', text: 'rules?', ts: T0 + 1, role: 'presale', enqueue: false, reclassify: false });
    expect(r1.enqueued).toBeUndefined();
    expect((await store.getSession(SHOP, sessionId))?.state).toBe('bot');
    const r2 = await store.postBuyerMessage(SHOP, sessionId, 'faq-b', { clientMsgId: '2', text: 'human please', ts: T0 + 5, role: 'presale', enqueue: true, reclassify: false });
    expect(r2.enqueued).toEqual({ role: 'presale', position: 1 });
  });

  it('moves a waiting session to the role a later message names, keeping its arrival time', async () => {
    const older = await queued('mv-old', 'presale', T0);
    await queued('mv-new', 'aftersales', T0 + 100);
    const moved = await store.postBuyerMessage(SHOP, older, 'mv-old', { clientMsgId: '2', text: 'refund', ts: T0 + 200, role: 'aftersales', enqueue: true, reclassify: true });
    expect(moved.moved).toEqual({ fromRole: 'presale', toRole: 'aftersales', position: 1 });
    expect(await store.queuePosition(SHOP, 'presale', older)).toBeNull();
    expect(await store.queueLength(SHOP, 'aftersales')).toBe(2);
    const s = await store.getSession(SHOP, older);
    expect(s?.role).toBe('aftersales');
    expect(s?.roleHistory).toEqual(['presale', 'aftersales']);
    // Not matched by a rule: stays where it is.
    const stay = await store.postBuyerMessage(SHOP, older, 'mv-old', { clientMsgId: '3', text: 'hm', ts: T0 + 300, role: 'presale', enqueue: true, reclassify: false });
    expect(stay.moved).toBeUndefined();
  });

  it('measures the assignment rate of a role from its recent accepts', async () => {
    expect(await store.assignmentRate(SHOP, 'presale', T0)).toBeNull();
    await ready('rate-a', ['presale'], 5, T0);
    for (let i = 0; i < 3; i++) {
      const sid = await queued(`rate-b${i}`, 'presale', T0 + i);
      await store.dispatch(SHOP, 'presale', T0 + 10, OFFER_MS, 5);
      await store.accept(SHOP, sid, 'rate-a', T0 + 10_000 * (i + 1));
    }
    // Three accepts between T0+10s and T0+30s, seen at T0+30s: 3 per 20 s.
    expect(await store.assignmentRate(SHOP, 'presale', T0 + 30_000)).toBeCloseTo(3 / 20, 5);
    // Ten minutes later they no longer count.
    expect(await store.assignmentRate(SHOP, 'presale', T0 + 30_000 + 11 * 60_000)).toBeNull();
  });

  it('lists the shops it has seen', async () => {
    expect(await store.shops()).toEqual([]);
    await store.openSession('shop-a', 'b1', T0);
    await store.agentConnect('shop-b', 'a1', 'c1', T0);
    await store.openSession('shop-a', 'b2', T0);
    expect(sorted(await store.shops())).toEqual(['shop-a', 'shop-b']);
  });

  // ---------------------------------------------------------------- staffing-plan stats

  describe('staffing-plan stats', () => {
    const BUCKET = 900_000;
    // Buckets expire at an absolute time, so these cases live in the present.
    const now0 = Math.floor(Date.now() / BUCKET) * BUCKET;
    const opts = { bucketMs: BUCKET, retentionMs: 7 * 24 * 3_600_000 };

    it('adds counts per role and bucket and reads a range back, oldest first', async () => {
      await store.recordPlanStats(SHOP, 'presale', now0 + 1_000, { counts: { arrivals: 1 } }, opts);
      await store.recordPlanStats(SHOP, 'presale', now0 + 2_000, { counts: { arrivals: 1, transfersIn: 1 } }, opts);
      await store.recordPlanStats(SHOP, 'aftersale', now0 + 3_000, { counts: { abandoned: 1, abandonWaitMs: 4_200.4 } }, opts);
      await store.recordPlanStats(SHOP, 'presale', now0 - BUCKET + 5, { counts: { arrivals: 5 } }, opts);
      await store.recordPlanStats('other-shop', 'presale', now0 + 1_000, { counts: { arrivals: 9 } }, opts);
      const rows = await store.planStats(SHOP, now0 - BUCKET, now0 + BUCKET, BUCKET);
      expect(rows.map((r) => [r.bucketStart - now0, r.role, r.counts.arrivals, r.counts.transfersIn, r.counts.abandoned, r.counts.abandonWaitMs])).toEqual([
        [-BUCKET, 'presale', 5, 0, 0, 0],
        [0, 'aftersale', 0, 0, 1, 4_200],
        [0, 'presale', 2, 1, 0, 0],
      ]);
      // The range is half-open: the bucket at `to` is not in it.
      expect(await store.planStats(SHOP, now0 - BUCKET, now0, BUCKET)).toHaveLength(1);
      // Another bucket size is another series.
      expect(await store.planStats(SHOP, now0 - BUCKET, now0 + BUCKET, 60_000)).toEqual([]);
    });

    it('counts a handle time from the assignment to the end, once, and samples the agent at assignment', async () => {
      await ready('A', ['presale'], 3, now0);
      const s1 = await assigned('b1', 'presale', now0, 'A');
      const s2 = await assigned('b2', 'presale', now0, 'A');
      await store.recordPlanStats(SHOP, 'presale', now0 + 10, { counts: { assigned: 1, waitMs: 10 }, assigned: { sessionId: s1, agentId: 'A' } }, opts);
      await store.recordPlanStats(SHOP, 'presale', now0 + 20, { counts: { assigned: 1, waitMs: 20 }, assigned: { sessionId: s2, agentId: 'A' } }, opts);
      await store.recordPlanStats(SHOP, 'presale', now0 + 60_010, { handled: { sessionId: s1 } }, opts);
      // A second end of the same chat (a retry, another instance) adds nothing.
      await store.recordPlanStats(SHOP, 'presale', now0 + 90_000, { handled: { sessionId: s1 } }, opts);
      // An end without an assignment before it adds nothing either.
      await store.recordPlanStats(SHOP, 'presale', now0 + 90_000, { handled: { sessionId: 'never-assigned' } }, opts);
      const [row] = await store.planStats(SHOP, now0, now0 + BUCKET, BUCKET);
      expect(row?.counts).toMatchObject({ assigned: 2, waitMs: 30, handled: 1, handleMs: 60_000, concurrencySum: 4, capacitySum: 6 });
    });

    it('forgets a bucket once its retention after the bucket is over', async () => {
      const old = now0 - 3 * BUCKET;
      await store.recordPlanStats(SHOP, 'presale', old, { counts: { arrivals: 1 } }, { bucketMs: BUCKET, retentionMs: BUCKET });
      await store.recordPlanStats(SHOP, 'presale', now0, { counts: { arrivals: 1 } }, { bucketMs: BUCKET, retentionMs: BUCKET });
      expect((await store.planStats(SHOP, old, now0 + BUCKET, BUCKET)).map((r) => r.bucketStart)).toEqual([now0]);
    });
  });

  // ---------------------------------------------------------------- ops dashboard's recent stats

  describe('ops dashboard recent stats', () => {
    const BUCKET = 10_000;
    const now0 = Math.floor(Date.now() / BUCKET) * BUCKET;
    const opts = { bucketMs: BUCKET, keepMs: 1_800_000 };

    it('adds counters per role and bucket, bins the waits and keeps the largest', async () => {
      await store.recordRecent(SHOP, now0 + 1, { role: 'presale', counts: { arrivals: 1 } }, opts);
      await store.recordRecent(SHOP, now0 + 2, { role: 'presale', counts: { arrivals: 1 } }, opts);
      await store.recordRecent(SHOP, now0 + 3, { role: 'presale', counts: { answered: 1 }, waitMs: 800 }, opts);
      await store.recordRecent(SHOP, now0 + 4, { role: 'presale', counts: { answered: 1 }, waitMs: 4_000 }, opts);
      await store.recordRecent(SHOP, now0 + 5, { role: 'presale', counts: { answered: 1 }, waitMs: 700_000 }, opts);
      await store.recordRecent(SHOP, now0 + 6, { role: 'presale', counts: { answered: 1 }, waitMs: 1_500 }, opts);
      await store.recordRecent(SHOP, now0 + 7, { role: 'aftersale', counts: { abandoned: 1, overflowed: 2 } }, opts);
      await store.recordRecent(SHOP, now0 - BUCKET, { role: 'presale', counts: { arrivals: 3 } }, opts);
      await store.recordRecent('other-shop', now0, { role: 'presale', counts: { arrivals: 9 } }, opts);
      const rows = await store.recentStats(SHOP, now0 - BUCKET, now0 + BUCKET, BUCKET);
      expect(rows.map((r) => [r.bucketStart - now0, r.role, r.counts])).toEqual([
        [-BUCKET, 'presale', { arrivals: 3, answered: 0, abandoned: 0, overflowed: 0 }],
        [0, 'aftersale', { arrivals: 0, answered: 0, abandoned: 1, overflowed: 2 }],
        [0, 'presale', { arrivals: 2, answered: 4, abandoned: 0, overflowed: 0 }],
      ]);
      const presale = rows[2]!;
      // Bins: ≤1 s, ≤2 s, …, ≤5 s (4 s), and the open bin above 600 s.
      expect(presale.waitBins.slice(0, 4)).toEqual([1, 1, 0, 1]);
      expect(presale.waitBins.at(-1)).toBe(1);
      expect(presale.waitMaxMs).toBe(700_000);
      // No sample yet: the gauges are unknown, not zero.
      expect(presale.gauges).toBeNull();
      expect(binQuantile(presale.waitBins, 0.5, presale.waitMaxMs)).toBe(2_000);
      expect(binQuantile(presale.waitBins, 0.9, presale.waitMaxMs)).toBe(700_000);
      // The range is half-open, and the buckets expire with their window.
      expect(await store.recentStats(SHOP, now0 - BUCKET, now0, BUCKET)).toHaveLength(1);
      const raw = store as unknown as { prefix: string; redis: { pttl(k: string): Promise<number> } };
      const ttl = await raw.redis.pttl(recentBucketKey(shopPrefix(raw.prefix, SHOP), BUCKET, now0));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(BUCKET + opts.keepMs);
    });

    it('samples queues and agents once per bucket, whoever asks first', async () => {
      await ready('A', ['presale'], 3, now0);
      await ready('B', ['presale', 'aftersale'], 2, now0);
      await store.agentAway(SHOP, 'B', now0);
      await assigned('b0', 'presale', now0 - 5_000, 'A');
      const waitingSince = now0 - 4_000;
      await queued('b1', 'aftersale', waitingSince);
      await store.buyerConnect(SHOP, 'b2', 'b2-c', 5, now0);
      await queued('b2', 'aftersale', now0 - 1_000);
      await store.buyerDisconnect(SHOP, 'b2', 'b2-c', now0);
      expect(await store.sampleRecent(SHOP, now0 + 500, ['presale', 'aftersale'], opts)).toBe(true);
      // A second sampler (another instance) in the same bucket changes nothing.
      await queued('b3', 'aftersale', now0 + 600);
      expect(await store.sampleRecent(SHOP, now0 + 700, ['presale', 'aftersale'], opts)).toBe(false);
      const rows = await store.recentStats(SHOP, now0, now0 + BUCKET, BUCKET);
      expect(rows.map((r) => [r.role, r.gauges])).toEqual([
        // B is away: not ready, but its sessions (none) count as in use; an agent of two roles counts in both.
        ['aftersale', { waiting: 2, offline: 1, oldestWaitMs: 4_500, agentsReady: 0, capacity: 0, inUse: 0 }],
        ['presale', { waiting: 0, offline: 0, oldestWaitMs: 0, agentsReady: 1, capacity: 3, inUse: 1 }],
      ]);
      // The next bucket gets its own sample.
      expect(await store.sampleRecent(SHOP, now0 + BUCKET, ['presale'], opts)).toBe(true);
    });
  });

  // ---------------------------------------------------------------- bounds and the active index

  const sweepOpts = (now: number, o: { maxQueuedMs?: number; abandonMs?: number } = {}) => ({
    abandonMs: o.abandonMs ?? null,
    silentSince: null,
    idleCloseMs: 0,
    replyCutoff: now - 300_000,
    replyWindowMs: 300_000,
    queuedBefore: o.maxQueuedMs ? now - o.maxQueuedMs : null,
    maxQueuedMs: o.maxQueuedMs ?? 0,
    roles: ['presale', 'aftersales'],
  });

  it('indexes active shops: a shop leaves once nothing is pending, one with a timer comes back when it is due', async () => {
    const s = await makeStore({ activeHoldMs: 1_000 });
    const now = Date.now();
    expect(await s.dueShops(now, 10)).toEqual([]);
    await s.openSession('quiet', 'b1', now);
    await s.agentConnect('busy', 'a1', 'c1', now);
    await s.agentReady('busy', 'a1', ['presale'], 1, now);
    const { sessionId } = await s.openSession('busy', 'b1', now);
    await s.postBuyerMessage('busy', sessionId, 'b1', { clientMsgId: 'm', text: 'hi', ts: now, role: 'presale', enqueue: true, reclassify: false });
    await s.dispatch('busy', 'presale', now, 60_000, 1);
    const due = await s.dueShops(Date.now() + 1, 10);
    expect(sorted(due.map((d) => d.shop))).toEqual(['busy', 'quiet']);
    // Marked within the hold (1 s, wide enough for a loaded machine): a step may not have written yet, so both stay due.
    for (const d of due) await s.sweepShop(d.shop, d.mark, now, sweepOpts(now));
    expect(sorted((await s.dueShops(Date.now() + 1, 10)).map((d) => d.shop))).toEqual(['busy', 'quiet']);
    await sleep(1_100);
    for (const d of await s.dueShops(Date.now() + 1, 10)) await s.sweepShop(d.shop, d.mark, now, sweepOpts(now));
    // Nothing pending in `quiet`: gone; `busy` waits for its offer's expiry.
    expect(await s.dueShops(Date.now() + 1, 10)).toEqual([]);
    expect(await s.activeShops()).toEqual(['busy']);
    const later = await s.dueShops(now + 60_000, 10);
    expect(later.map((d) => d.shop)).toEqual(['busy']);
    expect((await s.sweepShop('busy', later[0]!.mark, now + 60_000, sweepOpts(now + 60_000))).offers).toEqual([sessionId]);
    // A step in a shop that left makes it due again.
    await s.openSession('quiet', 'b2', now);
    expect((await s.dueShops(Date.now() + 1, 10)).map((d) => d.shop)).toContain('quiet');
  });

  it('never moves a shop in the index that a step marked after the sweep read it', async () => {
    const s = await makeStore({ activeHoldMs: 100 });
    const now = Date.now();
    await s.openSession('racy', 'b1', now);
    await sleep(150);
    const [d] = await s.dueShops(Date.now() + 1, 10);
    // A step between the read and the sweep's update (it may create a timer the sweep did not see).
    await s.openSession('racy', 'b2', now);
    await s.sweepShop('racy', d!.mark, now, sweepOpts(now));
    expect((await s.dueShops(Date.now() + 1, 10)).map((x) => x.shop)).toEqual(['racy']);
    expect(await s.reindexShops(now)).toBeGreaterThanOrEqual(1);
  });

  it('caps a transcript by events and bytes: buyer and agent lines get too_large, bot lines are dropped, nothing is stored', async () => {
    await ready('cap-a', ['presale'], 1, T0);
    const sid = await assigned('cap-b', 'presale', T0, 'cap-a');
    const bounds = { lifeMs: 0, maxEvents: 4, maxBytes: 10_000 };
    await store.postBuyerMessage(SHOP, sid, 'cap-b', { clientMsgId: 'c2', text: 'two', ts: T0 + 1, role: '', enqueue: false, reclassify: false, bounds });
    await store.postAgentMessage(SHOP, sid, 'cap-a', { clientMsgId: 'c3', text: 'three', ts: T0 + 2, bounds });
    await store.postBuyerMessage(SHOP, sid, 'cap-b', { clientMsgId: 'c4', text: 'four', ts: T0 + 3, role: '', enqueue: false, reclassify: false, bounds });
    expect(await codeOf(store.postBuyerMessage(SHOP, sid, 'cap-b', { clientMsgId: 'c5', text: 'five', ts: T0 + 4, role: '', enqueue: false, reclassify: false, bounds }))).toBe('too_large');
    expect(await codeOf(store.postAgentMessage(SHOP, sid, 'cap-a', { clientMsgId: 'c6', text: 'six', ts: T0 + 5, bounds }))).toBe('too_large');
    expect(await store.postBotMessage(SHOP, sid, { text: 'bot', ts: T0 + 6, perMinute: 100, bounds })).toEqual({ seq: 0, duplicate: false, suppressed: 'full' });
    // A resend of a stored line is still answered.
    expect((await store.postBuyerMessage(SHOP, sid, 'cap-b', { clientMsgId: 'c4', text: 'four', ts: T0 + 7, role: '', enqueue: false, reclassify: false, bounds })).duplicate).toBe(true);
    expect((await store.readEvents(SHOP, sid, 0)).length).toBe(4);
    const bytes = { lifeMs: 0, maxEvents: 1000, maxBytes: 20 };
    await ready('cap-a2', ['presale'], 1, T0 + 10);
    const sid2 = await assigned('cap-b2x', 'presale', T0 + 11, 'cap-a2');
    const buyer2 = 'cap-b2x';
    // 'hi from cap-b2x' (15 bytes) is stored; 6 more would pass 20.
    expect(await codeOf(store.postBuyerMessage(SHOP, sid2, buyer2, { clientMsgId: 'x', text: '123456', ts: T0 + 12, role: '', enqueue: false, reclassify: false, bounds: bytes }))).toBe('too_large');
    await store.postBuyerMessage(SHOP, sid2, buyer2, { clientMsgId: 'y', text: '12345', ts: T0 + 13, role: '', enqueue: false, reclassify: false, bounds: bytes });
    expect((await store.readEvents(SHOP, sid2, 0)).map((e) => e.text)).toEqual(['hi from cap-b2x', '12345']);
  });

  it('ends a session that waited too long without an agent (unanswered offers included), and only while it still waits', async () => {
    await ready('qt-a', ['presale'], 2, T0);
    const sid = await queued('qt-b', 'presale', T0);
    // An offer that comes back does not restart the wait.
    await store.dispatch(SHOP, 'presale', T0 + 1, OFFER_MS, 1);
    await store.decline(SHOP, sid, 'qt-a', T0 + 2, 0);
    const w1 = await store.sweepShop(SHOP, 0, T0 + 100, sweepOpts(T0 + 100, { maxQueuedMs: 100 }));
    expect(w1.queueExpired).toEqual([sid]);
    expect(w1.queued).toBe(1);
    expect(await store.expireQueued(SHOP, sid, T0 + 100, T0 - 1, { retentionMs: RETENTION_MS, line: { text: 'bye', kind: 'goodbye' } })).toBeNull();
    const closed = await store.expireQueued(SHOP, sid, T0 + 100, T0, { retentionMs: RETENTION_MS, line: { text: 'bye', kind: 'goodbye' } });
    expect(closed).toMatchObject({ buyerId: 'qt-b', state: 'closed' });
    expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'closed', closedReason: 'queue_timeout' });
    expect(await store.queueLength(SHOP, 'presale')).toBe(0);
    // Once an agent has it, it is not waiting any more.
    const sid2 = await queued('qt-b2', 'presale', T0 + 200);
    await store.dispatch(SHOP, 'presale', T0 + 201, OFFER_MS, 1);
    await store.accept(SHOP, sid2, 'qt-a', T0 + 202);
    expect((await store.sweepShop(SHOP, 0, T0 + 10_000, sweepOpts(T0 + 10_000, { maxQueuedMs: 100 }))).queueExpired).toEqual([]);
    expect(await store.expireQueued(SHOP, sid2, T0 + 10_000, T0 + 9_000, { retentionMs: RETENTION_MS, line: { text: 'bye', kind: 'goodbye' } })).toBeNull();
  });

  describe('connections and instances', () => {
    it('buyerConnect caps a buyer\'s live connections at max; the same connection counts once; a disconnect frees its place', async () => {
      for (const c of ['c1', 'c2']) await store.buyerConnect(SHOP, 'cap-b', c, 2, T0);
      // Registering a connection again (a retried call) is no new connection.
      await store.buyerConnect(SHOP, 'cap-b', 'c2', 2, T0);
      expect(await codeOf(store.buyerConnect(SHOP, 'cap-b', 'c3', 2, T0))).toBe('rate_limited');
      // Another buyer and another shop have their own counts.
      await store.buyerConnect(SHOP, 'cap-other', 'c3', 2, T0);
      await store.buyerConnect('shop-2', 'cap-b', 'c3', 2, T0);
      // Unknown connections go without a trace; a known one frees its place.
      await store.buyerDisconnect(SHOP, 'cap-b', 'never-seen', T0);
      expect(await codeOf(store.buyerConnect(SHOP, 'cap-b', 'c3', 2, T0))).toBe('rate_limited');
      await store.buyerDisconnect(SHOP, 'cap-b', 'c1', T0 + 1);
      await store.buyerConnect(SHOP, 'cap-b', 'c3', 2, T0 + 2);
      expect(await codeOf(store.buyerConnect(SHOP, 'cap-b', 'c4', 2, T0 + 3))).toBe('rate_limited');
    });

    it('buyerDisconnect of the last connection takes the open session offline; buyerConnect brings it back; no session, no change', async () => {
      await store.buyerConnect(SHOP, 'pres-b', 'c1', 5, T0);
      const { sessionId } = await store.openSession(SHOP, 'pres-b', T0);
      expect(await store.getSession(SHOP, sessionId)).toMatchObject({ buyerOnline: true });
      await store.buyerDisconnect(SHOP, 'pres-b', 'c1', T0 + 10);
      expect(await store.getSession(SHOP, sessionId)).toMatchObject({ buyerOnline: false, buyerOfflineSince: T0 + 10 });
      // Disconnecting again changes nothing (not even the since).
      await store.buyerDisconnect(SHOP, 'pres-b', 'c1', T0 + 20);
      expect(await store.getSession(SHOP, sessionId)).toMatchObject({ buyerOfflineSince: T0 + 10 });
      await store.buyerConnect(SHOP, 'pres-b', 'c2', 5, T0 + 30);
      const back = await store.getSession(SHOP, sessionId);
      expect(back?.buyerOnline).toBe(true);
      expect(back?.buyerOfflineSince).toBeUndefined();
      // A buyer without an open session connects and leaves freely.
      await store.buyerConnect(SHOP, 'pres-none', 'c1', 5, T0);
      await store.buyerDisconnect(SHOP, 'pres-none', 'c1', T0 + 1);
    });

    it('heartbeat and staleInstances: an instance is stale once its last heartbeat is older than the cutoff', async () => {
      await store.heartbeat('i-1', T0);
      await store.heartbeat('i-2', T0 + 1_000);
      expect(sorted(await store.staleInstances(T0 + 1_000))).toEqual(['i-1']);
      expect(sorted(await store.staleInstances(T0 + 1_001))).toEqual(['i-1', 'i-2']);
      expect(await store.staleInstances(T0)).toEqual([]);
      // A new heartbeat makes it fresh again.
      await store.heartbeat('i-1', T0 + 2_000);
      expect(sorted(await store.staleInstances(T0 + 1_500))).toEqual(['i-2']);
    });

    it('trackConn, untrackConn and claimInstance: a dead instance\'s live connections go to exactly one claimer', async () => {
      const refs = [
        { kind: 'buyer' as const, shop: SHOP, id: 'b:1', connId: 'x1' },
        { kind: 'agent' as const, shop: 'shop-2', id: 'a1', connId: 'x2' },
        { kind: 'buyer' as const, shop: SHOP, id: 'b2', connId: 'x3' },
      ];
      await store.heartbeat('dead', T0);
      for (const r of refs) await store.trackConn('dead', r);
      await store.trackConn('dead', { ...refs[0]! }); // the same connection twice is one
      await store.untrackConn('dead', refs[2]!);
      await store.untrackConn('dead', { kind: 'agent', shop: SHOP, id: 'nobody', connId: 'x9' });
      await store.trackConn('alive', refs[2]!);
      const claimed = await store.claimInstance('dead');
      expect(claimed && [...claimed].sort((a, b) => a.connId.localeCompare(b.connId))).toEqual([refs[0], refs[1]]);
      // Claimed: off the list, and nobody else gets its connections.
      expect(await store.claimInstance('dead')).toBeNull();
      expect(await store.staleInstances(T0 + 1)).toEqual([]);
      // Never heard of (no heartbeat): nothing to claim.
      expect(await store.claimInstance('alive')).toBeNull();
      // An instance with no connections left is claimed with none.
      await store.heartbeat('empty', T0);
      expect(await store.claimInstance('empty')).toEqual([]);
    });

    it('onResubscribe runs after the bus lost and regained its subscriber connection, and the subscription delivers again', async () => {
      const inbox = await listen({ kind: 'buyer', shop: SHOP, id: 'resub-b' });
      let resubscribed = 0;
      store.bus.onResubscribe(() => resubscribed++);
      if (store instanceof RedisStore && store.kind === 'redis') {
        // Drop every pub/sub connection of the test server: ioredis reconnects and subscribes again.
        await (store.redis as unknown as { call(...a: string[]): Promise<unknown> }).call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        await vi.waitFor(() => expect(resubscribed).toBe(1), { timeout: 5_000, interval: 20 });
      } else {
        // In process the subscriber never loses its connection: nothing to catch up on.
        await sleep(20);
        expect(resubscribed).toBe(0);
      }
      await store.bus.publish(inbox.address, 'after');
      await vi.waitFor(() => expect(inbox.raw).toEqual(['after']), { timeout: 3_000, interval: 5 });
    });
  });

  describe('buyer presence', () => {
    const ABANDON_MS = 10_000;
    async function online(buyer: string, role: string, ts: number, conn = `${buyer}-c1`): Promise<string> {
      await store.buyerConnect(SHOP, buyer, conn, 5, ts);
      return queued(buyer, role, ts);
    }

    it('offers an offline queued buyer only after online ones, and closes it as abandoned after abandonMs', async () => {
      const early = await online('pr-1', 'presale', T0);
      const later = await online('pr-2', 'presale', T0 + 1_000);
      // Two connections: only the last one gone takes the buyer offline.
      await store.buyerConnect(SHOP, 'pr-1', 'pr-1-c2', 5, T0 + 1_500);
      await store.buyerDisconnect(SHOP, 'pr-1', 'pr-1-c1', T0 + 1_800);
      expect((await store.getSession(SHOP, early))?.buyerOnline).toBe(true);
      await store.buyerDisconnect(SHOP, 'pr-1', 'pr-1-c2', T0 + 2_000);
      expect(await store.getSession(SHOP, early)).toMatchObject({ buyerOnline: false, buyerOfflineSince: T0 + 2_000 });
      expect(await store.queuePosition(SHOP, 'presale', later)).toBe(1);
      expect(await store.queuePosition(SHOP, 'presale', early)).toBe(2);
      expect(await store.queueStats(SHOP, 'presale')).toMatchObject({ depth: 2, offline: 1, oldestArrivedAt: T0 + 1_000 });

      // The abandonment clock: nothing before abandonMs, the shop is due again right then.
      const w1 = await store.sweepShop(SHOP, 0, T0 + 5_000, sweepOpts(T0 + 5_000, { abandonMs: ABANDON_MS }));
      expect(w1.abandoned).toEqual([]);
      expect(await store.abandonQueued(SHOP, early, T0 + 5_000, T0 + 5_000 - ABANDON_MS, { retentionMs: RETENTION_MS })).toBeNull();

      await ready('pr-a', ['presale'], 1, T0 + 3_000);
      const offers = await store.dispatch(SHOP, 'presale', T0 + 3_000, OFFER_MS, 2);
      expect(offers.map((o) => o.sessionId)).toEqual([later]);

      const w2 = await store.sweepShop(SHOP, 0, T0 + 12_000, sweepOpts(T0 + 12_000, { abandonMs: ABANDON_MS }));
      expect(w2.abandoned).toEqual([early]);
      const closed = await store.abandonQueued(SHOP, early, T0 + 12_000, T0 + 12_000 - ABANDON_MS, { retentionMs: RETENTION_MS });
      expect(closed).toMatchObject({ buyerId: 'pr-1', state: 'closed', role: 'presale' });
      expect(await store.getSession(SHOP, early)).toMatchObject({ state: 'closed', closedReason: 'abandoned' });
      expect(await store.queueLength(SHOP, 'presale')).toBe(0);
      expect((await store.sweepShop(SHOP, 0, T0 + 20_000, sweepOpts(T0 + 20_000, { abandonMs: ABANDON_MS }))).abandoned).toEqual([]);
    });

    it('a buyer back before abandonMs keeps its place; an offered or assigned session is never abandoned', async () => {
      const first = await online('back-1', 'presale', T0);
      const second = await online('back-2', 'presale', T0 + 1_000);
      await store.buyerDisconnect(SHOP, 'back-1', 'back-1-c1', T0 + 2_000);
      expect(await store.queuePosition(SHOP, 'presale', first)).toBe(2);
      await store.buyerConnect(SHOP, 'back-1', 'back-1-c9', 5, T0 + 9_000);
      expect(await store.getSession(SHOP, first)).toMatchObject({ buyerOnline: true });
      expect((await store.getSession(SHOP, first))?.buyerOfflineSince).toBeUndefined();
      expect(await store.queuePosition(SHOP, 'presale', first)).toBe(1);
      expect(await store.queuePosition(SHOP, 'presale', second)).toBe(2);
      expect((await store.sweepShop(SHOP, 0, T0 + 13_000, sweepOpts(T0 + 13_000, { abandonMs: ABANDON_MS }))).abandoned).toEqual([]);
      expect(await store.abandonQueued(SHOP, first, T0 + 13_000, T0 + 3_000, { retentionMs: RETENTION_MS })).toBeNull();

      // Offline while offered: the decline puts it back behind online buyers, its clock still running.
      await ready('back-a', ['presale'], 1, T0 + 14_000);
      await store.dispatch(SHOP, 'presale', T0 + 14_000, OFFER_MS, 1);
      await store.buyerDisconnect(SHOP, 'back-1', 'back-1-c9', T0 + 15_000);
      expect((await store.sweepShop(SHOP, 0, T0 + 26_000, sweepOpts(T0 + 26_000, { abandonMs: ABANDON_MS }))).abandoned).toEqual([first]);
      expect(await store.abandonQueued(SHOP, first, T0 + 26_000, T0 + 16_000, { retentionMs: RETENTION_MS })).toBeNull();
      await store.decline(SHOP, first, 'back-a', T0 + 27_000, 0);
      expect(await store.queuePosition(SHOP, 'presale', first)).toBe(2);
      expect((await store.sweepShop(SHOP, 0, T0 + 28_000, sweepOpts(T0 + 28_000, { abandonMs: ABANDON_MS }))).abandoned).toEqual([first]);
      expect(await store.abandonQueued(SHOP, first, T0 + 28_000, T0 + 18_000, { retentionMs: RETENTION_MS })).toMatchObject({ state: 'closed' });
    });

    it('tells the agent holding or offered the session when its buyer goes offline and comes back', async () => {
      await ready('bs-a', ['presale'], 2, T0);
      await store.buyerConnect(SHOP, 'bs-1', 'bs-1-c1', 5, T0);
      const held = await assigned('bs-1', 'presale', T0, 'bs-a');
      const agent = await listen({ kind: 'agent', shop: SHOP, id: 'bs-a' });
      await store.buyerDisconnect(SHOP, 'bs-1', 'bs-1-c1', T0 + 100);
      await store.buyerConnect(SHOP, 'bs-1', 'bs-1-c2', 5, T0 + 200);
      // A second connection is no news.
      await store.buyerConnect(SHOP, 'bs-1', 'bs-1-c3', 5, T0 + 300);
      await settle(agent);
      expect(frames(agent)).toEqual([
        { type: 'buyer_status', sessionId: held, online: false, since: T0 + 100 },
        { type: 'buyer_status', sessionId: held, online: true, since: T0 + 200 },
      ]);
      expect((await store.getSession(SHOP, held))?.buyerOnline).toBe(true);
    });
  });

  describe('bot-first roles, left messages and the hook\'s VIP', () => {
    const post = (sid: string, buyer: string, id: string, ts: number, o: { enqueue: boolean; botFirst?: boolean; leftMessage?: boolean }) =>
      store.postBuyerMessage(SHOP, sid, buyer, { clientMsgId: id, text: `line ${id}`, ts, role: 'presale', reclassify: false, priority: { vipBoostMs: 60_000, boostMs: 0 }, ...o });

    it('a bot-first session the bot answers stays with the bot, remembers its role, and queues at its first line\'s arrival time', async () => {
      const { sessionId: sid } = await store.openSession(SHOP, 'bf-1', T0);
      const r1 = await post(sid, 'bf-1', '1', T0 + 1_000, { enqueue: false, botFirst: true });
      expect(r1.enqueued).toBeUndefined();
      expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'bot', botRole: 'presale' });
      // Someone else queues meanwhile; the bot-first buyer asking for a person goes ahead of them.
      const other = await queued('bf-2', 'presale', T0 + 5_000);
      const r2 = await post(sid, 'bf-1', '2', T0 + 9_000, { enqueue: true, botFirst: true });
      expect(r2.enqueued).toEqual({ role: 'presale', position: 1 });
      expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'queued', arrivedAt: T0 + 1_000 });
      expect(await store.queuePosition(SHOP, 'presale', other)).toBe(2);
      // Without the flag (a human role) the session queues at the time of the line that queues it.
      const { sessionId: h } = await store.openSession(SHOP, 'bf-3', T0);
      await post(h, 'bf-3', '1', T0 + 1_000, { enqueue: false });
      await post(h, 'bf-3', '2', T0 + 9_000, { enqueue: true });
      expect(await store.getSession(SHOP, h)).toMatchObject({ state: 'queued', arrivedAt: T0 + 9_000 });
      expect((await store.getSession(SHOP, h))?.botRole).toBeUndefined();
    });

    it('a left message never times out in the queue and is not abandoned while its buyer is away', async () => {
      await store.buyerConnect(SHOP, 'lm-1', 'lm-1-c1', 5, T0);
      const { sessionId: sid } = await store.openSession(SHOP, 'lm-1', T0);
      await post(sid, 'lm-1', '1', T0, { enqueue: true, leftMessage: true });
      expect(await store.getSession(SHOP, sid)).toMatchObject({ state: 'queued', leftMessage: true });
      await store.buyerDisconnect(SHOP, 'lm-1', 'lm-1-c1', T0 + 1_000);
      const later = T0 + 10 * 3_600_000;
      const w = await store.sweepShop(SHOP, 0, later, sweepOpts(later, { maxQueuedMs: 60_000, abandonMs: 60_000 }));
      expect(w).toMatchObject({ queueExpired: [], abandoned: [], queued: 1 });
      // A declined offer puts it back as a left message too.
      await ready('lm-a', ['presale'], 1, later);
      expect((await store.dispatch(SHOP, 'presale', later, OFFER_MS, 1)).map((o) => o.sessionId)).toEqual([sid]);
      await store.decline(SHOP, sid, 'lm-a', later + 1, 0);
      const w2 = await store.sweepShop(SHOP, 0, later + 3_600_000, sweepOpts(later + 3_600_000, { maxQueuedMs: 60_000, abandonMs: 60_000 }));
      expect(w2).toMatchObject({ queueExpired: [], abandoned: [] });
    });

    it("the context hook's VIP moves a queued session up (and down), and one not queued yet queues with it", async () => {
      const a = await queued('hv-1', 'presale', T0);
      const b = await queued('hv-2', 'presale', T0 + 10_000);
      const c = await queued('hv-3', 'presale', T0 + 20_000);
      await store.setBuyerContext(SHOP, c, { vip: 1, tags: ['gold'] }, 60_000);
      expect(await store.queuePosition(SHOP, 'presale', c)).toBe(1);
      expect(await store.getSession(SHOP, c)).toMatchObject({ buyerContext: { vip: 1, tags: ['gold'] }, arrivedAt: T0 + 20_000 });
      // The same level again changes nothing; a lower one gives the boost back.
      await store.setBuyerContext(SHOP, c, { vip: 1 }, 60_000);
      expect(await store.queuePosition(SHOP, 'presale', c)).toBe(1);
      await store.setBuyerContext(SHOP, c, { vip: 0 }, 60_000);
      expect(await store.queuePosition(SHOP, 'presale', c)).toBe(3);
      // No vip in the answer: the place stays.
      await store.setBuyerContext(SHOP, b, { name: 'B' }, 60_000);
      expect(await store.queuePosition(SHOP, 'presale', b)).toBe(2);
      expect(await store.queuePosition(SHOP, 'presale', a)).toBe(1);
      // The hook answered before the first line: entering the queue takes its VIP (over the token's 0).
      const { sessionId: d } = await store.openSession(SHOP, 'hv-4', T0 + 30_000, { vip: 0 });
      await store.setBuyerContext(SHOP, d, { vip: 2 }, 60_000);
      await post(d, 'hv-4', '1', T0 + 30_000, { enqueue: true });
      expect(await store.queuePosition(SHOP, 'presale', d)).toBe(1);
    });

    it('counts routing outcomes per role for every instance', async () => {
      await store.countRouting(SHOP, 'presale', 'overflowed');
      await store.countRouting(SHOP, 'presale', 'overflowed');
      await store.countRouting(SHOP, 'presale', 'deflected');
      expect((await store.queueStats(SHOP, 'presale')).counts).toEqual({ overflowed: 2, sticky: 0, abandoned: 0, deflected: 1 });
      expect((await store.queueStats(SHOP, 'aftersales')).counts).toEqual({ overflowed: 0, sticky: 0, abandoned: 0, deflected: 0 });
    });
  });

  it('expires an open session lifeMs after its last event', async () => {
    const { sessionId } = await store.openSession(SHOP, 'ttl-b', T0);
    const bounds = { lifeMs: 300, maxEvents: 0, maxBytes: 0 };
    await store.postBuyerMessage(SHOP, sessionId, 'ttl-b', { clientMsgId: 'm', text: 'waiting', ts: T0, role: 'presale', enqueue: true, reclassify: false, bounds });
    expect((await store.getSession(SHOP, sessionId))?.state).toBe('queued');
    await sleep(500);
    expect(await store.getSession(SHOP, sessionId)).toBeNull();
  });

  it('a session the bot keeps expires whole: its message-id hash goes with the session', async () => {
    const raw = store as unknown as { prefix: string; redis: { pttl(k: string): Promise<number> } };
    const p = shopPrefix(raw.prefix, SHOP);
    const { sessionId: sid } = await store.openSession(SHOP, 'bot-ttl', T0);
    await store.postBuyerMessage(SHOP, sid, 'bot-ttl', { clientMsgId: 'm1', text: 'hi', ts: T0, role: 'presale', enqueue: false, reclassify: false });
    expect((await store.getSession(SHOP, sid))?.state).toBe('bot');
    const session = await raw.redis.pttl(shopKey(p, 'session', sid));
    expect(session).toBeGreaterThan(0);
    for (const name of ['transcript', 'msgIds'] as const) {
      const ttl = await raw.redis.pttl(shopKey(p, name, sid));
      expect(ttl, name).toBeGreaterThan(0);
      // Read after the session's, a few ms may have passed.
      expect(ttl, name).toBeLessThanOrEqual(session + 50);
    }
  });

  it('renews an open session\'s expiry only once the last renewal is min(lifeMs / 10, 60 s) old, to lifeMs plus that', async () => {
    const life = 10_000;
    const slack = 1_000;
    const bounds = { lifeMs: life, maxEvents: 0, maxBytes: 0 };
    const raw = store as unknown as { prefix: string; redis: { pttl(k: string): Promise<number> } };
    const p = shopPrefix(raw.prefix, SHOP);
    const { sessionId: sid } = await store.openSession(SHOP, 'ren-b', T0);
    const keys = [shopKey(p, 'session', sid), shopKey(p, 'transcript', sid), shopKey(p, 'msgIds', sid), shopKey(p, 'buyerSession', 'ren-b')];
    const ttls = () => Promise.all(keys.map((k) => raw.redis.pttl(k)));
    const line = (clientMsgId: string, ts: number) =>
      store.postBuyerMessage(SHOP, sid, 'ren-b', { clientMsgId, text: 'hi', ts, role: 'presale', enqueue: true, reclassify: false, bounds });
    // A first line without an id makes no message-id hash: the next line renews again, and
    // gives the hash it makes its expiry.
    await line('', T0);
    await line('m1', T0 + 1);
    for (const ttl of await ttls()) {
      expect(ttl).toBeGreaterThan(life);
      expect(ttl).toBeLessThanOrEqual(life + slack);
    }
    await sleep(300);
    // Within the slack: not renewed (the deadlines stay where they were, life + slack after T0 + 1).
    await line('m2', T0 + 1 + slack - 1);
    for (const ttl of await ttls()) expect(ttl).toBeLessThanOrEqual(life + slack - 300);
    // The slack past the last renewal: renewed.
    await line('m3', T0 + 1 + slack);
    for (const ttl of await ttls()) expect(ttl).toBeGreaterThan(life + slack - 300);
  });

  it('rate-limits buyer lines per buyer and per shop, across connections; other shops are not affected', async () => {
    const limits = { buyer: { perSecond: 1, burst: 3 }, shop: { perSecond: 1, burst: 5 } };
    const post = (shop: string, sid: string, buyer: string, id: string, ts: number) =>
      store.postBuyerMessage(shop, sid, buyer, { clientMsgId: id, text: id, ts, role: 'presale', enqueue: false, reclassify: false, limits });
    const { sessionId: s1 } = await store.openSession(SHOP, 'rl-1', T0);
    for (let i = 0; i < 3; i++) await post(SHOP, s1, 'rl-1', `a${i}`, T0);
    expect(await codeOf(post(SHOP, s1, 'rl-1', 'a3', T0))).toBe('rate_limited');
    expect((await store.readEvents(SHOP, s1, 0)).length).toBe(3);
    const { sessionId: s2 } = await store.openSession(SHOP, 'rl-2', T0);
    await post(SHOP, s2, 'rl-2', 'b0', T0);
    await post(SHOP, s2, 'rl-2', 'b1', T0);
    // The shop's bucket (5) is empty now, though rl-2 has one left of its own.
    expect(await codeOf(post(SHOP, s2, 'rl-2', 'b2', T0))).toBe('rate_limited');
    expect(await codeOf(store.limitBuyer(SHOP, 'rl-2', T0, limits))).toBe('rate_limited');
    const { sessionId: s3 } = await store.openSession('shop-other', 'rl-1', T0);
    await post('shop-other', s3, 'rl-1', 'c0', T0);
    // A second later each bucket has one token again.
    await post(SHOP, s1, 'rl-1', 'a4', T0 + 1_000);
  });

  // ---------------------------------------------------------------- identity edge cases

  it("de-duplicates an agent's clientMsgId per agent: after a transfer the next agent may reuse it, the previous one and others get not_assigned", async () => {
    await ready('dd-a', ['presale'], 1, T0);
    const sid = await assigned('dd-b', 'presale', T0, 'dd-a');
    const first = await store.postAgentMessage(SHOP, sid, 'dd-a', { clientMsgId: 'm1', text: 'from A', ts: T0 + 1 });
    expect(first.duplicate).toBe(false);
    // The same agent's resend is answered with the original seq.
    expect(await store.postAgentMessage(SHOP, sid, 'dd-a', { clientMsgId: 'm1', text: 'from A', ts: T0 + 2 })).toMatchObject({ seq: first.seq, duplicate: true });
    await store.transfer(SHOP, sid, 'dd-a', 'aftersales', undefined, T0 + 3, xfer(EXCLUDE_MS));
    await ready('dd-c', ['aftersales'], 1, T0 + 4);
    const [offer] = await store.dispatch(SHOP, 'aftersales', T0 + 4, OFFER_MS, 1);
    expect(offer?.agentId).toBe('dd-c');
    await store.accept(SHOP, sid, 'dd-c', T0 + 5);
    const agentC = await listen({ kind: 'agent', shop: SHOP, id: 'dd-c' });
    const buyer = await listen({ kind: 'buyer', shop: SHOP, id: 'dd-b' });
    // The next agent's own "m1" is a new line: stored and delivered.
    const second = await store.postAgentMessage(SHOP, sid, 'dd-c', { clientMsgId: 'm1', text: 'from C', ts: T0 + 6 });
    expect(second.duplicate).toBe(false);
    expect(second.seq).toBeGreaterThan(first.seq);
    expect((await store.readEvents(SHOP, sid, first.seq)).map((e) => e.text)).toContain('from C');
    await settle(buyer, agentC);
    expect(frames(buyer).some((f) => f.text === 'from C' && f.seq === second.seq)).toBe(true);
    // The agent that handed it on, and anyone else, is told it is not theirs, not acked.
    expect(await codeOf(store.postAgentMessage(SHOP, sid, 'dd-a', { clientMsgId: 'm1', text: 'from A', ts: T0 + 7 }))).toBe('not_assigned');
    expect(await codeOf(store.postAgentMessage(SHOP, sid, 'dd-x', { clientMsgId: 'm1', text: 'from X', ts: T0 + 7 }))).toBe('not_assigned');
  });

  it('narrows an agent to the roles its token allows on every connect (none left: away)', async () => {
    await ready('nr-a', ['presale', 'aftersales'], 2, T0);
    await store.agentDisconnect(SHOP, 'nr-a', 'nr-a-c1', T0 + 1, GRACE_MS);
    const view = await store.agentConnect(SHOP, 'nr-a', 'nr-a-c2', T0 + 2, ['presale']);
    expect(view).toMatchObject({ status: 'ready', roles: ['presale'] });
    await queued('nr-b1', 'aftersales', T0 + 3);
    expect(await store.dispatch(SHOP, 'aftersales', T0 + 4, OFFER_MS, 1)).toEqual([]);
    const sid = await queued('nr-b2', 'presale', T0 + 5);
    expect((await store.dispatch(SHOP, 'presale', T0 + 6, OFFER_MS, 1)).map((o) => o.sessionId)).toEqual([sid]);
    // A token that allows none of its roles: back as away, offered nothing.
    const other = await store.agentConnect(SHOP, 'nr-a', 'nr-a-c3', T0 + 7, ['bargaining']);
    expect(other).toMatchObject({ status: 'away', roles: [] });
    // Without a roles claim nothing changes.
    expect((await store.agentConnect(SHOP, 'nr-a', 'nr-a-c4', T0 + 8)).status).toBe('away');
  });

  it('keeps ids with separators apart: agent "x:o" is not agent "x"\'s offers, buyer "b:1" not buyer "b"', async () => {
    await ready('x', ['presale'], 1, T0);
    await ready('x:o', ['presale'], 1, T0 + 1);
    const s1 = await queued('b', 'presale', T0 + 2);
    const s2 = await queued('b:1', 'presale', T0 + 3);
    const offers = await store.dispatch(SHOP, 'presale', T0 + 4, OFFER_MS, 5);
    expect(sorted(offers.map((o) => `${o.agentId}>${o.sessionId}`))).toEqual(sorted([`x>${s1}`, `x:o>${s2}`]));
    await store.accept(SHOP, s1, 'x', T0 + 5);
    await store.accept(SHOP, s2, 'x:o', T0 + 5);
    expect(await store.getAgent(SHOP, 'x')).toMatchObject({ sessions: [s1], offers: [], load: 1 });
    expect(await store.getAgent(SHOP, 'x:o')).toMatchObject({ sessions: [s2], offers: [], load: 1 });
    // An id nobody used that looks like a sub-key is simply unknown.
    expect(await store.getAgent(SHOP, 'x:s')).toBeNull();
    expect(await store.getAgent(SHOP, 'x:c')).toBeNull();
    expect((await store.openSession(SHOP, 'b:1', T0 + 6)).sessionId).toBe(s2);
    expect((await store.openSession(SHOP, 'b', T0 + 6)).sessionId).toBe(s1);
  });
});

describe('embedded engine clock', () => {
  it('decides expiry by the injected clock only', async () => {
    let clock = 1_000;
    const store = createEmbeddedStore({ idleSessionTtlMs: 100, now: () => clock });
    const { sessionId: idle } = await store.openSession(SHOP, 'b1', T0);
    // As in Redis, a key is gone once the clock is past its deadline (not at it).
    clock += 100;
    expect((await store.getSession(SHOP, idle))?.createdAt).toBe(T0);
    clock += 1;
    expect(await store.getSession(SHOP, idle)).toBeNull();

    await store.agentConnect(SHOP, 'A', 'c', T0);
    await store.agentReady(SHOP, 'A', ['presale'], 1, T0);
    const { sessionId: sid } = await store.openSession(SHOP, 'b2', T0);
    await store.postBuyerMessage(SHOP, sid, 'b2', { clientMsgId: 'm', text: 'hi', ts: T0, role: 'presale', enqueue: true, reclassify: false });
    clock += 1_000_000;
    await store.dispatch(SHOP, 'presale', T0, OFFER_MS, 1);
    await store.accept(SHOP, sid, 'A', T0);
    await store.block(SHOP, sid, 'A', 'abuse', T0, 500, 200);
    clock += 200;
    expect((await store.getSession(SHOP, sid))?.state).toBe('closed');
    await expect(store.openSession(SHOP, 'b2', T0)).rejects.toMatchObject({ code: 'blocked' });
    clock += 1;
    expect(await store.getSession(SHOP, sid)).toBeNull();
    clock += 300;
    expect((await store.openSession(SHOP, 'b2', T0)).created).toBe(true);
  });

  it('sweeps expired keys out of memory', async () => {
    let clock = 0;
    const store = createEmbeddedStore({ idleSessionTtlMs: 10, now: () => clock });
    for (let i = 0; i < 50; i++) await store.openSession(SHOP, `b${i}`, T0);
    const keyspace = (store.redis as unknown as EmbeddedClient).engine.keyspace;
    // the shops set and the active-shops index, and per session its hash, the buyer's pointer to
    // it and the buyer's history index
    expect(keyspace.size).toBe(2 + 50 * 3);
    clock = 120_000;
    await store.openSession(SHOP, 'late', T0);
    // Only the fresh session is left; the others (history indexes too) were swept without being looked up.
    expect(keyspace.size).toBe(2 + 3);
  });
});
