/**
 * The embedded store alone: CPU per routed line (a buyer line, then the agent's reply, on
 * assigned sessions; each one appendEvent.lua with its publish), no sockets, one process.
 *   npx tsx loadtest/embedded-bench.ts [sessions=200] [lines=40000] [gateway]
 * `gateway`: the lines carry what the gateway's lines carry (session bounds, so the keys'
 * expiry is renewed, and the buyer and shop rate buckets), which costs about 1.5× more.
 */
import { createEmbeddedStore } from '../src/store/embedded/embedded-store.ts';

const SESSIONS = Number(process.argv[2] ?? 200);
const LINES = Number(process.argv[3] ?? 40_000);
const SHOP = 'bench';
const T0 = 1_700_000_000_000;
const AGENTS = Math.ceil(SESSIONS / 500);
const AS_GATEWAY = process.argv[4] === 'gateway';
const bounds = AS_GATEWAY ? { lifeMs: 86_400_000, maxEvents: 5_000, maxBytes: 5_000_000 } : undefined;
const limits = AS_GATEWAY ? { buyer: { perSecond: 1e6, burst: 1e6 }, shop: { perSecond: 1e6, burst: 1e6 } } : undefined;

const store = createEmbeddedStore();
for (let a = 0; a < AGENTS; a++) {
  await store.agentConnect(SHOP, `A${a}`, 'c', T0);
  await store.agentReady(SHOP, `A${a}`, ['presale'], 500, T0);
}
const sessions: { sid: string; buyer: string; agent: string }[] = [];
for (let i = 0; i < SESSIONS; i++) {
  const buyer = `b${i}`;
  const { sessionId } = await store.openSession(SHOP, buyer, T0);
  await store.postBuyerMessage(SHOP, sessionId, buyer, { clientMsgId: `f${i}`, text: 'hi', ts: T0, role: 'presale', enqueue: true, reclassify: false });
}
for (let offers = await store.dispatch(SHOP, 'presale', T0, 30_000, 500); offers.length; offers = await store.dispatch(SHOP, 'presale', T0, 30_000, 500)) {
  for (const o of offers) {
    await store.accept(SHOP, o.sessionId, o.agentId, T0);
    sessions.push({ sid: o.sessionId, buyer: (await store.getSession(SHOP, o.sessionId))!.buyerId, agent: o.agentId });
  }
}
await store.bus.subscribe({ kind: 'agent', shop: SHOP, id: 'A0' }, () => {});

let n = 0;
async function lines(count: number): Promise<void> {
  for (let i = 0; i < count; i += 2) {
    const s = sessions[(i / 2) % sessions.length]!;
    n++;
    await store.postBuyerMessage(SHOP, s.sid, s.buyer, { clientMsgId: `m${n}`, text: '请问这个有货吗 how much is it', ts: T0 + n, role: 'presale', enqueue: false, reclassify: false, bounds, limits });
    await store.postAgentMessage(SHOP, s.sid, s.agent, { clientMsgId: `a${n}`, text: '有的亲，马上发货', ts: T0 + n, bounds });
  }
}

await lines(Math.min(LINES, 6_000)); // warm-up
const wall = performance.now();
const cpu = process.cpuUsage();
await lines(LINES);
const used = process.cpuUsage(cpu);
const cpuUs = (used.user + used.system) / LINES;
console.log(
  `${SESSIONS} sessions, ${LINES} lines: ${cpuUs.toFixed(1)} µs CPU per line (${Math.round(1e6 / cpuUs)} lines/s per core), ` +
    `wall ${(((performance.now() - wall) * 1000) / LINES).toFixed(1)} µs per line`,
);
await store.shutdown();
