/**
 * The ops dashboard's state module (src/web/ops/state.ts) without a browser: the recent stats
 * become per-role chart series (online = waiting − offline, waits in seconds, gaps kept), the
 * busiest role is picked first and a pick sticks, alerts are ordered, and the live view keeps
 * each transcript line once, in seq order, for the watched session only.
 */
import { describe, expect, it } from 'vitest';
import type { RecentResponse, RecentRole } from '../src/protocol/dashboard.ts';
import { apply, chartData, initialState, totals } from '../src/web/ops/state.ts';
import { takeEvents } from '../src/web/ops/sse.ts';

function role(name: string, over: Partial<RecentRole> = {}): RecentRole {
  const zeros = [0, 0, 0];
  const gaps = [null, null, null];
  return {
    role: name,
    arrivals: zeros,
    answered: zeros,
    abandoned: zeros,
    overflowed: zeros,
    waiting: gaps,
    offline: gaps,
    oldestWaitMs: gaps,
    agentsReady: gaps,
    capacity: gaps,
    inUse: gaps,
    waitP50Ms: gaps,
    waitP90Ms: gaps,
    ...over,
  };
}

const T = 1_800_000_000_000;
const body = (roles: RecentRole[], alerts: RecentResponse['alerts'] = []): RecentResponse => ({ shop: 's', bucketMs: 10_000, from: T, to: T + 30_000, times: [T, T + 10_000, T + 20_000], roles, alerts });
const msg = (seq: number, sessionId = 'S1') => ({ type: 'message' as const, sessionId, seq, from: 'buyer' as const, text: `line ${seq}`, ts: T + seq });

describe('ops dashboard state', () => {
  it('turns the recent stats into chart series for the busiest role, then the one picked', () => {
    const s = initialState();
    apply(s, {
      type: 'recent',
      body: body([
        role('pre-sale', { arrivals: [1, 0, 0] }),
        role('after-sale', { arrivals: [2, 3, 1], answered: [1, 2, 0], abandoned: [0, 1, 0], waiting: [4, null, 2], offline: [1, null, 0], waitP50Ms: [2_000, null, 5_000], waitP90Ms: [10_000, null, 30_000], agentsReady: [2, null, 3], capacity: [6, null, 9], inUse: [5, null, 4] }),
      ]),
    });
    expect(s.role).toBe('after-sale');
    const c = chartData(s)!;
    expect(c.waiting).toEqual([[T / 1000, T / 1000 + 10, T / 1000 + 20], [3, null, 2], [1, null, 0]]);
    expect(c.wait.slice(1)).toEqual([[2, null, 5], [10, null, 30]]);
    expect(c.agents.slice(1)).toEqual([[2, null, 3], [6, null, 9], [5, null, 4]]);
    expect(totals(s)).toEqual({ arrivals: 6, answered: 3, abandoned: 1, overflowed: 0 });

    apply(s, { type: 'pick_role', role: 'pre-sale' });
    apply(s, { type: 'recent', body: body([role('pre-sale'), role('after-sale', { arrivals: [9, 9, 9] })]) });
    expect(s.role).toBe('pre-sale');
    // A role gone from the config falls back to the busiest.
    apply(s, { type: 'recent', body: body([role('after-sale')]) });
    expect(s.role).toBe('after-sale');
    expect(chartData(initialState())).toBeNull();
    // Until someone picks, the charts follow the busiest role.
    const auto = initialState();
    apply(auto, { type: 'recent', body: body([role('pre-sale'), role('after-sale')]) });
    expect(auto.role).toBe('pre-sale');
    apply(auto, { type: 'recent', body: body([role('pre-sale'), role('after-sale', { waiting: [0, 0, 3] })]) });
    expect(auto.role).toBe('after-sale');
  });

  it('orders alerts by role and kind', () => {
    const s = initialState();
    const alerts = [
      { role: 'pre-sale', kind: 'oldestWait' as const, value: 200, threshold: 120 },
      { role: 'after-sale', kind: 'oldestWait' as const, value: 300, threshold: 120 },
      { role: 'after-sale', kind: 'abandonment' as const, value: 0.5, threshold: 0.2 },
    ];
    apply(s, { type: 'recent', body: body([role('pre-sale')], alerts) });
    expect(s.alerts.map((a) => `${a.role}/${a.kind}`)).toEqual(['after-sale/abandonment', 'after-sale/oldestWait', 'pre-sale/oldestWait']);
    apply(s, { type: 'recent', body: body([role('pre-sale')]) });
    expect(s.alerts).toEqual([]);
  });

  it('keeps the watched session live: its state, each line once, in seq order', () => {
    const s = initialState();
    apply(s, { type: 'live_message', message: msg(1) });
    expect(s.live).toBeNull();
    apply(s, { type: 'live_open', sessionId: 'S1' });
    apply(s, { type: 'live_session', session: { id: 'S1', buyerId: 'b', state: 'queued', role: 'pre-sale', roleHistory: ['pre-sale'], createdAt: T } });
    apply(s, { type: 'live_session', session: { id: 'S2', buyerId: 'x', state: 'closed', role: 'pre-sale', roleHistory: [], createdAt: T } });
    for (const m of [msg(1), msg(2), msg(2), msg(4), msg(3), msg(5, 'S2'), msg(1)]) apply(s, { type: 'live_message', message: m });
    expect(s.live!.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4]);
    expect(s.live!.session?.state).toBe('queued');
    expect(s.live!.open).toBe(true);
    apply(s, { type: 'live_ended' });
    expect(s.live!.open).toBe(false);
    // Watching another session starts afresh.
    apply(s, { type: 'live_open', sessionId: 'S2' });
    expect(s.live).toMatchObject({ sessionId: 'S2', session: null, lines: [], open: true });
  });
});

describe('live view stream parsing', () => {
  it('takes whole events, skips keepalives, and keeps a part still arriving', () => {
    const first = takeEvents('event: session\ndata: {"id":"S1"}\n\n: keepalive\n\nevent: message\ndata: {"seq":1}\n\nevent: mess');
    expect(first.events).toEqual([
      { type: 'session', data: { id: 'S1' } },
      { type: 'message', data: { seq: 1 } },
    ]);
    expect(first.rest).toBe('event: mess');
    expect(takeEvents(`${first.rest}age\ndata: {"seq":2}\n\n`)).toEqual({ events: [{ type: 'message', data: { seq: 2 } }], rest: '' });
  });
});
