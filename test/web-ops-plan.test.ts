/**
 * The ops dashboard's staffing-plan panel in headless Chromium: chats of a shop through a
 * live gateway (its own redis-server) become a plan row per role, with the measured handle
 * time and concurrency; a role nobody has handled yet is listed and left out; the CSV downloads.
 * Screenshot: test-results/screenshots/ops-plan.png.
 */
import { describe, expect, it } from 'vitest';
import { TestClient } from './support/client.ts';
import { screenshot } from './support/browser.ts';
import { see, useWebHarness } from './support/web-harness.ts';

const SHOP = 'plan-shop';
const web = useWebHarness({ viewport: { width: 1360, height: 1100 } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ops dashboard: staffing plan', () => {
  it('plans every role from the recorded chats, × growth, and downloads the stats', async () => {
    const token = (sub: string, kind: 'buyer' | 'agent' | 'admin') => web.g.token({ sub, kind, shop: SHOP });
    const agent = web.track(await TestClient.connect(web.g.url, 'agent', await token('plan-agent', 'agent')));
    await agent.next('welcome');
    agent.send({ type: 'ready', roles: ['after-sale'], capacity: 3 });
    for (const id of ['b1', 'b2']) {
      const b = web.track(await TestClient.connect(web.g.url, 'buyer', await token(id, 'buyer')));
      await b.next('welcome');
      b.send({ type: 'message', clientMsgId: '1', text: '我要退货' });
      const offer = await agent.next('offer');
      agent.send({ type: 'accept', sessionId: offer.sessionId });
      await agent.next('assigned');
      await sleep(200);
      agent.send({ type: 'close', sessionId: offer.sessionId });
      await b.next('message', (f) => f.kind === 'rating_invite');
    }
    const haggler = web.track(await TestClient.connect(web.g.url, 'buyer', await token('b3', 'buyer')));
    await haggler.next('welcome');
    haggler.send({ type: 'message', clientMsgId: '1', text: '能便宜点吗' });
    await haggler.next('queue');
    await sleep(300); // the stats writes are not awaited by the chat

    const ops = await web.open(`/ops/?token=${await token('ops-1', 'admin')}`, 'ops-plan');
    await see(ops, '#conn[data-state="open"]');
    const row = '#plan tbody tr[data-role="after-sale"]';
    await see(ops, `${row} td.agents`, /^\d+$/);
    const cells = await ops.locator(`${row} td`).allTextContents();
    expect(cells[1]).toBe('2'); // arrivals
    expect(cells[2]).toMatch(/^\d+(\.\d)?s$/); // handle time of the two chats, measured
    expect(cells[3]).toBe('3'); // the capacity the agent set
    expect(cells[4]).toBe('—'); // nobody gave up here: Erlang C
    await see(ops, '#plan tbody tr.skipped[data-role="bargaining"]', /no chat was handled/);

    // Midnight brings 500 times the traffic (the chats here are short, so few agents still do).
    const before = Number(await ops.locator(`${row} td.agents`).textContent());
    await ops.locator('#plan-growth').fill('500');
    await ops.locator('#plan-run').click();
    await see(ops, '#plan-note', '× 500');
    await see(ops, '#plan tbody tr.skipped[data-role="bargaining"] td:nth-child(2)', /^500$/);
    await see(ops, `${row} td:nth-child(2)`, /^1000$/);
    expect(Number(await ops.locator(`${row} td.agents`).textContent())).toBeGreaterThanOrEqual(before);

    const [download] = await Promise.all([ops.waitForEvent('download'), ops.locator('#plan-csv').click()]);
    const csv = await (await download.createReadStream()).toArray();
    const text = Buffer.concat(csv).toString('utf8');
    expect(text.split('\r\n')[0]).toMatch(/^shop,role,bucketStart,bucketMs,arrivals,/);
    expect(text).toContain(`${SHOP},after-sale,`);
    await screenshot(ops, 'ops-plan');
    expect(web.pageErrors).toEqual([]);
  });
});
