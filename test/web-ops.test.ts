/**
 * The ops dashboard (/ops/) in headless Chromium against a gateway on loopback with its own
 * redis-server: queue depth follows a buyer entering a queue, service levels come from
 * /metrics, an agent is set away, and the config editor lists problems by path for a bad
 * edit and applies a good one. Screenshot: test-results/screenshots/ops-dashboard.png.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { TestClient } from './support/client.ts';
import { screenshot } from './support/browser.ts';
import { see, useWebHarness } from './support/web-harness.ts';
import { parseSamples, ratio, serviceLevels } from '../src/web/ops/prom.ts';

const SHOP = 'ops-shop';

// The refused PUTs (400 invalid, 412 stale) are ones the page expects and shows (Chromium logs them anyway).
const web = useWebHarness({ viewport: { width: 1360, height: 900 }, expectedConsoleError: /status of (400|412)/ });

async function adminGet(path: string): Promise<any> {
  const res = await fetch(`${web.g.http}${path}`, { headers: { authorization: `Bearer ${await web.g.token({ sub: 'ops-check', kind: 'admin' })}` } });
  expect(res.status).toBe(200);
  return res.json();
}

const row = (shop: string, role: string) => `#queues tbody tr[data-shop="${shop}"][data-role="${role}"]`;

describe('metrics text parser (ops dashboard)', () => {
  it('reads the two service levels per shop and role and nothing else', () => {
    const text = [
      '# HELP peakdesk_first_response_seconds x',
      '# TYPE peakdesk_first_response_seconds histogram',
      'peakdesk_first_response_seconds_bucket{le="5",shop="s1",role="pre-sale"} 2',
      'peakdesk_first_response_seconds_bucket{le="6",shop="s1",role="pre-sale"} 3',
      'peakdesk_first_response_seconds_bucket{le="+Inf",shop="s1",role="pre-sale"} 4',
      'peakdesk_first_response_seconds_count{shop="s1",role="pre-sale"} 4',
      'peakdesk_agent_reply_seconds_bucket{shop="s\\"2",role="after-sale",le="300"} 9',
      'peakdesk_agent_reply_seconds_count{role="after-sale",shop="s\\"2"} 10 1700000000000',
      'peakdesk_queue_depth{shop="s1",role="pre-sale"} 7',
      'garbage{ 1',
    ].join('\n');
    const levels = serviceLevels(text);
    expect(levels).toEqual([
      { shop: 's1', role: 'pre-sale', firstResponse: { within: 3, count: 4 }, reply: { within: 0, count: 0 } },
      { shop: 's"2', role: 'after-sale', firstResponse: { within: 0, count: 0 }, reply: { within: 9, count: 10 } },
    ]);
    expect(ratio(levels[0]!.firstResponse)).toBe(0.75);
    expect(ratio(levels[0]!.reply)).toBeNull();
    expect(parseSamples(text, new Set(['peakdesk_queue_depth']))).toEqual([{ name: 'peakdesk_queue_depth', labels: { shop: 's1', role: 'pre-sale' }, value: 7 }]);
  });
});

describe('ops dashboard', () => {
  it('is served at /ops/ and linked from /', async () => {
    const res = await fetch(`${web.g.http}/ops/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('运营看板');
    expect(await (await fetch(`${web.g.http}/`)).text()).toContain('href="./ops/"');
  });

  it('shows queues, service levels and agents live, sets an agent away, and edits the config', async () => {
    const pages: Record<string, Page> = {};
    try {
      // The wrong kind of token is refused before anything is asked of the gateway.
      const signin = (pages.signin = await web.open('/ops/', 'ops-signin'));
      await see(signin, '#signin-form');
      await signin.locator('#token-input').fill(await web.g.token({ sub: 'someone', kind: 'agent' }));
      await signin.locator('#signin-form button[type=submit]').click();
      await see(signin, '#signin-error', '这是客服令牌');
      await signin.context().close();

      const adminToken = await web.g.token({ sub: 'ops-1', kind: 'admin', shop: SHOP, scope: 'platform' });
      const ops = (pages.ops = await web.open(`/ops/?token=${adminToken}`, 'ops'));
      await see(ops, '#conn[data-state="open"]');
      expect(ops.url()).not.toContain('token=');
      await see(ops, '#who', 'ops-1');
      await see(ops, '#queues-updated', /\d\d:\d\d/);
      expect(await ops.locator(`${row(SHOP, 'after-sale')} td.depth`).count()).toBe(0);

      // An agent of the shop, ready for another role, so the buyer below stays queued.
      const agent = web.track(await TestClient.connect(web.g.url, 'agent', await web.g.token({ sub: 'ops-agent', kind: 'agent', shop: SHOP })));
      await agent.next('welcome');
      agent.send({ type: 'ready', roles: ['bargaining'], capacity: 2 });

      // A buyer enters the after-sale queue: the dashboard shows the depth and a first response.
      const buyer = web.track(await TestClient.connect(web.g.url, 'buyer', await web.g.token({ sub: 'ops-buyer', kind: 'buyer', shop: SHOP })));
      await buyer.next('welcome');
      buyer.send({ type: 'message', clientMsgId: 'm1', text: '我要退货，快递破损了' });
      await buyer.next('queue');
      await see(ops, `${row(SHOP, 'after-sale')} td.depth`, /^1$/);
      await see(ops, `${row(SHOP, 'pre-sale')} td.depth`, /^0$/);
      await see(ops, `${row(SHOP, 'after-sale')} td:nth-child(5)`, /%/);
      expect(await ops.locator(`${row(SHOP, 'after-sale')} td.wait`).textContent()).toMatch(/^\d+s$/);

      // A second buyer in the same queue: the depth follows.
      const buyer2 = web.track(await TestClient.connect(web.g.url, 'buyer', await web.g.token({ sub: 'ops-buyer-2', kind: 'buyer', shop: SHOP })));
      await buyer2.next('welcome');
      buyer2.send({ type: 'message', clientMsgId: 'm1', text: '退款什么时候到' });
      await buyer2.next('queue');
      await see(ops, `${row(SHOP, 'after-sale')} td.depth`, /^2$/);
      await see(ops, `${row(SHOP, 'after-sale')} td:nth-child(7)`, /溢出 0 · 熟客 0 · 放弃 0/);
      // The second buyer closes the page: still waiting, counted as gone (offered last).
      await buyer2.close();
      await see(ops, `${row(SHOP, 'after-sale')} td.depth`, /^2 （离开 1）$/);

      // Agents of the shop (the token's shop is picked); set the agent away.
      expect(await ops.locator('#agent-shop').inputValue()).toBe(SHOP);
      const agentRow = ops.locator('#agents tbody tr[data-agent="ops-agent"]');
      await see(ops, '#agents tbody tr[data-agent="ops-agent"] .status[data-status="ready"]', '接待中');
      expect(await agentRow.locator('td').nth(2).textContent()).toContain('优惠咨询'); // bots.roleNames of the config
      expect(await agentRow.locator('td').nth(3).textContent()).toBe('0/2');
      await agentRow.locator('button.away').click();
      await see(ops, '#agents tbody tr[data-agent="ops-agent"] .status[data-status="away"]');
      expect(await agent.next('status')).toMatchObject({ status: 'away' });
      expect(await agentRow.locator('button.away').isDisabled()).toBe(true);

      // Config: a bad edit lists each problem by path and changes nothing.
      await see(ops, '#config-version', /\w{6}/);
      const before = await adminGet('/v1/admin/config');
      expect(await ops.locator('#config-version').getAttribute('title')).toBe(before.version);
      const doc = JSON.parse(await ops.locator('#config-text').inputValue());
      expect(doc.routing.offerTimeoutMs).toBe(before.config.routing.offerTimeoutMs);
      doc.routing.offerTimeoutMs = 5;
      doc.routing.previewEvents = 500;
      await ops.locator('#config-text').fill(JSON.stringify(doc, null, 2));
      await ops.locator('#config-apply').click();
      await see(ops, '#config-problems li[data-path="routing.offerTimeoutMs"]');
      await see(ops, '#config-problems li[data-path="routing.previewEvents"]');
      await see(ops, '#config-problems', '2 处问题');
      expect(await ops.locator('#config-result').isHidden()).toBe(true);
      expect((await adminGet('/v1/admin/config')).version).toBe(before.version);
      await screenshot(ops, 'ops-config-problems');

      // Not JSON at all: said so without asking the gateway.
      await ops.locator('#config-text').fill('{ "routing": ');
      await ops.locator('#config-apply').click();
      await see(ops, '#config-problems li[data-path="(JSON)"]');

      // A good edit applies; the page shows the new version.
      doc.routing.offerTimeoutMs = 20_000;
      doc.routing.previewEvents = before.config.routing.previewEvents;
      await ops.locator('#config-text').fill(JSON.stringify(doc, null, 2));
      await ops.locator('#config-text').press('Control+Enter');
      await see(ops, '#config-result', '已应用');
      expect(await ops.locator('#config-problems').isHidden()).toBe(true);
      const after = await adminGet('/v1/admin/config');
      expect(after.version).not.toBe(before.version);
      expect(after.config.routing.offerTimeoutMs).toBe(20_000);
      expect(after.source).toBe('admin:ops-1');
      expect(await ops.locator('#config-version').getAttribute('title')).toBe(after.version);
      await see(ops, '#config-source', 'admin:ops-1');
      expect(JSON.parse(await ops.locator('#config-text').inputValue()).routing.offerTimeoutMs).toBe(20_000);

      await screenshot(ops, 'ops-dashboard');

      // A change made elsewhere while the editor holds edits: a notice, the edits stay; discarding
      // them loads the live document.
      await ops.locator('#config-text').fill(JSON.stringify({ ...doc, edited: 'locally' }, null, 2));
      doc.routing.offerTimeoutMs = 25_000;
      const otherOps = `Bearer ${await web.g.token({ sub: 'ops-2', kind: 'admin', scope: 'platform' })}`;
      const etag = (await fetch(`${web.g.http}/v1/admin/config`, { headers: { authorization: otherOps } })).headers.get('etag')!;
      const put = await fetch(`${web.g.http}/v1/admin/config`, {
        method: 'PUT',
        headers: { authorization: otherOps, 'content-type': 'application/json', 'if-match': etag },
        body: JSON.stringify(doc),
      });
      expect(put.status).toBe(200);
      await see(ops, '#config-stale', 'admin:ops-2', 14_000);
      expect(await ops.locator('#config-text').inputValue()).toContain('locally');
      await see(ops, '#config-source', 'admin:ops-2');
      // Applying the edits made on the older version is refused (If-Match is that version's ETag).
      await ops.locator('#config-apply').click();
      await see(ops, '#config-problems', '有人改过配置');
      expect((await adminGet('/v1/admin/config')).config.routing.offerTimeoutMs).toBe(25_000);
      await ops.locator('#config-reload').click();
      await ops.locator('#config-stale').waitFor({ state: 'hidden' });
      expect(JSON.parse(await ops.locator('#config-text').inputValue()).routing.offerTimeoutMs).toBe(25_000);
      expect(web.pageErrors).toEqual([]);
    } catch (err) {
      for (const [name, page] of Object.entries(pages)) await screenshot(page, `failed-${name}`).catch(() => {});
      throw err;
    }
  }, 40_000);
});
