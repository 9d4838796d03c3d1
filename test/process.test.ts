import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { TestClient } from './support/client.ts';
import { launch, waitFor } from './support/process.ts';

const SECRET = 'process-test-secret-0123456789';

/** The sources through tsx, as `npm run dev` runs them (the compiled path: running.test.ts). */
const launchDev = (env: Record<string, string>) => launch(process.execPath, ['--import', 'tsx', 'src/main.ts'], env);

describe('the gateway process', () => {
  it('starts on the embedded store, logs `listening` with its port, and stops cleanly on SIGTERM', async () => {
    const run = launchDev({ PEAKDESK_AUTH_SECRET: SECRET, REDIS_URL: '', REDIS_CLUSTER_NODES: '' });
    try {
      const listening = await waitFor(() => run.lines().find((l) => l.msg === 'listening'), 15_000);
      expect(listening.port).toBeGreaterThan(0);
      expect(run.lines().some((l) => l.store === 'memory' && l.level === 40)).toBe(true);
      const url = `ws://127.0.0.1:${listening.port}`;
      const health = await fetch(`http://127.0.0.1:${listening.port}/healthz`);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect((await fetch(`http://127.0.0.1:${listening.port}/readyz`)).status).toBe(200);

      const token = await new SignJWT({ shop: 's', kind: 'buyer' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('b')
        .sign(new TextEncoder().encode(SECRET));
      const b = await TestClient.connect(url, 'buyer', token);
      await b.next('welcome');
      b.send({ type: 'message', clientMsgId: '1', text: 'hi' });
      await b.next('ack');

      const metrics = await (await fetch(`http://127.0.0.1:${listening.port}/metrics`)).text();
      expect(metrics).toMatch(/^peakdesk_connections\{kind="buyer"\} 1$/m);
      expect(metrics).toMatch(/^peakdesk_transcript_events_total\{shop="[^"]+",from="buyer"\} 1$/m);

      run.proc.kill('SIGTERM');
      expect((await b.closed).code).toBe(1001);
      expect((await run.exited).code).toBe(0);
      expect(run.lines().some((l) => l.msg === 'stopped')).toBe(true);
    } finally {
      run.proc.kill('SIGKILL');
    }
  }, 30_000);

  it('refuses to start on a bad config and lists every problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'peakdesk-bad-'));
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ server: { maxFrameBytes: 'big' }, routing: { offerTimeoutMs: 1 } }));
    const run = launchDev({ PEAKDESK_CONFIG: file });
    const { code } = await run.exited;
    expect(code).toBe(78);
    expect(run.stderr()).toContain('server.maxFrameBytes:');
    expect(run.stderr()).toContain('routing.offerTimeoutMs:');
  }, 30_000);
});
