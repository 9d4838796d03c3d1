import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configSchema, type Config } from './schema.ts';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${source}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_PATH = 'config/default.json';

/** Validates raw config; every problem comes back as `path: message`. */
export function parseConfig(raw: unknown, source = '(inline)'): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}

type Env = Record<string, string | undefined>;

/**
 * Applies the environment variables of PROTOCOL.md on top of the file. Env wins because
 * addresses and secrets belong to the deployment, not to the routing config in git.
 */
export function applyEnv(raw: Record<string, any>, env: Env): Record<string, any> {
  const out = structuredClone(raw);
  const section = (name: string) => (out[name] ??= {});
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    section('server').port = Number.isInteger(port) ? port : env.PORT;
  }
  if (env.HOST) section('server').host = env.HOST;
  if (env.REDIS_URL) section('redis').url = env.REDIS_URL;
  if (env.REDIS_CLUSTER_NODES) {
    section('redis').clusterNodes = env.REDIS_CLUSTER_NODES.split(',').map((s) => s.trim()).filter(Boolean);
  }
  if (env.PEAKDESK_AUTH_SECRET) section('auth').secret = env.PEAKDESK_AUTH_SECRET;
  if (env.PEAKDESK_METRICS_TOKEN) section('auth').metricsToken = env.PEAKDESK_METRICS_TOKEN;
  return out;
}

/** The config of `env` (file + environment); `raw` is the file as written. */
export function loadConfig(env: Env = process.env): { config: Config; path: string; raw: Record<string, unknown> } {
  const path = resolve(env.PEAKDESK_CONFIG || DEFAULT_CONFIG_PATH);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const named = env.PEAKDESK_CONFIG ? `PEAKDESK_CONFIG=${JSON.stringify(env.PEAKDESK_CONFIG)}: ` : '';
    throw new ConfigError(path, [`${named}cannot read ${path}: ${(err as Error).message}`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(path, ['(root): expected a JSON object']);
  }
  return { config: parseConfig(applyEnv(raw as Record<string, any>, env), path), path, raw: raw as Record<string, unknown> };
}
