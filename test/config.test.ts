import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, applyEnv, loadConfig, parseConfig } from '../src/config/load.ts';

function tempConfig(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'peakdesk-cfg-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, content);
  return file;
}

describe('config', () => {
  it('ships a default that is valid and matches the documented defaults', () => {
    const { config } = loadConfig({ PEAKDESK_CONFIG: 'config/default.json' });
    expect(config.server.port).toBe(8080);
    expect(config.routing.offerTimeoutMs).toBe(15_000);
    expect(config.routing.agentGraceMs).toBe(30_000);
    expect(config.server.maxFrameBytes).toBe(16_384);
    expect(config.routing.roles).toEqual(['pre-sale', 'order-edit', 'after-sale', 'bargaining']);
  });

  it('lists every problem as `path: message`', () => {
    const bad = { server: { port: 'eighty', maxFrameBytes: 1 }, routing: { offerTimeoutMs: -5, roles: [] }, surprise: true };
    let err: ConfigError | undefined;
    try {
      parseConfig(bad, 'bad.json');
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = err!.problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(expect.arrayContaining(['server.port', 'server.maxFrameBytes', 'routing.offerTimeoutMs', 'routing.roles', '(root)']));
    expect(err!.message).toContain('bad.json');
  });

  it('checks cross-field rules', () => {
    expect(() => parseConfig({ routing: { defaultRole: 'vip' } })).toThrow(/routing\.defaultRole: must be one of routing\.roles/);
  });

  it('checks bot-first modes and business hours: known roles, HH:MM, human keywords by default', () => {
    expect(() => parseConfig({ bots: { mode: { vip: 'bot-first' } } })).toThrow(/bots\.mode\.vip: unknown role "vip"/);
    expect(() => parseConfig({ bots: { mode: { 'pre-sale': 'robot' } } })).toThrow(/bots\.mode\.pre-sale/);
    expect(() => parseConfig({ bots: { businessHours: { nightshift: { from: '09:00', to: '18:00' } } } })).toThrow(/bots\.businessHours\.nightshift: unknown role/);
    expect(() => parseConfig({ bots: { businessHours: { 'pre-sale': { from: '9:00', to: '18:00' } } } })).toThrow(/bots\.businessHours\.pre-sale\.from: expected HH:MM/);
    const c = parseConfig({ bots: { mode: { 'after-sale': 'bot-first' }, businessHours: { 'pre-sale': { from: '09:00', to: '18:00' } } } });
    expect(c.bots.humanKeywords).toEqual(expect.arrayContaining(['转人工', '人工客服', '人工', '真人', 'human', 'agent']));
    expect(c.bots.texts.outsideHours).toContain('{hours}');
  });

  it('lets the environment override address, port, Redis and secret', () => {
    const file = tempConfig(JSON.stringify({ server: { port: 9000 } }));
    const { config } = loadConfig({
      PEAKDESK_CONFIG: file,
      PORT: '0',
      HOST: '::1',
      REDIS_URL: 'redis://127.0.0.1:7000/2',
      PEAKDESK_AUTH_SECRET: 'a-long-enough-secret-value',
      PEAKDESK_METRICS_TOKEN: 'a-long-enough-scrape-token',
    });
    expect(config.server).toMatchObject({ port: 0, host: '::1' });
    expect(config.redis.url).toBe('redis://127.0.0.1:7000/2');
    expect(config.auth.secret).toBe('a-long-enough-secret-value');
    expect(config.auth.metricsToken).toBe('a-long-enough-scrape-token');
    expect(applyEnv({}, { REDIS_CLUSTER_NODES: '127.0.0.1:7001, 127.0.0.1:7002' }).redis.clusterNodes).toEqual([
      '127.0.0.1:7001',
      '127.0.0.1:7002',
    ]);
  });

  it('reports a bad PORT and an unreadable file as config problems', () => {
    expect(() => loadConfig({ PEAKDESK_CONFIG: 'config/default.json', PORT: 'abc' })).toThrow(/server\.port/);
    expect(() => loadConfig({ PEAKDESK_CONFIG: '/nonexistent/peakdesk.json' })).toThrow(ConfigError);
    expect(() => loadConfig({ PEAKDESK_CONFIG: '/nonexistent/peakdesk.json' })).toThrow(/PEAKDESK_CONFIG="\/nonexistent\/peakdesk.json": cannot read/);
    expect(() => loadConfig({ PEAKDESK_CONFIG: tempConfig('{ nope') })).toThrow(/cannot read .*: .*JSON/);
  });
});
