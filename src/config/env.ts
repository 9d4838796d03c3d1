import { availableParallelism } from 'node:os';
import { z } from 'zod';

type Env = Record<string, string | undefined>;

/** A start-up problem in the environment: every message starts with the variable's name. */
export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid environment:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'EnvError';
  }
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const hostPort = /^[^\s:/]+:\d{1,5}$/;

/**
 * The variables of the contract's Running sections, checked before anything else reads them,
 * so a problem names the variable the operator set, not the config field it lands in.
 * Empty means unset (`PORT= npm start` is how a shell unsets for one command).
 */
const checks: Record<string, z.ZodType<unknown>> = {
  PORT: z
    .string()
    .regex(/^\d+$/, 'must be a whole number 0..65535 (0 = any free port)')
    .refine((v) => Number(v) <= 65535, 'must be a whole number 0..65535 (0 = any free port)'),
  HOST: z.string().regex(/^\S+$/, 'must be a host name or IP address to listen on, without spaces'),
  REDIS_URL: z.string().refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a URL like redis://host:6379/0 (or rediss:// for TLS)'),
  REDIS_CLUSTER_NODES: z
    .string()
    .refine((v) => v.split(',').every((n) => hostPort.test(n.trim())), 'must be a comma-separated list of host:port'),
  PEAKDESK_AUTH_SECRET: z.string().min(16, 'must be at least 16 characters'),
  PEAKDESK_WORKERS: z.string().regex(/^(auto|[1-9]\d{0,2})$/, 'must be a whole number 1..999 or "auto" (one per core)'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }),
};

/** Every problem of `env`, each as `NAME="value": what is wrong` (a secret's value is not shown). */
export function envProblems(env: Env): string[] {
  const problems: string[] = [];
  for (const [name, schema] of Object.entries(checks)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const result = schema.safeParse(value);
    if (result.success) continue;
    const shown = name === 'PEAKDESK_AUTH_SECRET' ? `(${value.length} characters)` : JSON.stringify(value);
    problems.push(`${name}=${shown}: ${result.error.issues[0]!.message}`);
  }
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) problems.push('REDIS_URL and REDIS_CLUSTER_NODES: set one of them, not both');
  return problems;
}

export function checkEnv(env: Env): void {
  const problems = envProblems(env);
  if (problems.length) throw new EnvError(problems);
}

/** PEAKDESK_WORKERS as a count (checked by checkEnv first). */
export function workerCount(env: Env, cores = availableParallelism()): number {
  const v = env.PEAKDESK_WORKERS;
  if (!v) return 1;
  return v === 'auto' ? cores : Number(v);
}

export function logLevel(env: Env): string {
  return env.LOG_LEVEL || 'info';
}

/**
 * Problems of the environment together with the config it produced: what can only be judged
 * once the config file is read too.
 */
export function runningProblems(env: Env, config: { redis: { url?: string; clusterNodes?: string[] }; auth: { secret?: string } }): string[] {
  const problems: string[] = [];
  const workers = workerCount(env);
  const shared = Boolean(config.redis.url || config.redis.clusterNodes?.length);
  if (workers > 1 && !shared) {
    problems.push(
      `PEAKDESK_WORKERS=${JSON.stringify(env.PEAKDESK_WORKERS)}: ${workers} workers cannot share the embedded in-process store; set REDIS_URL (or REDIS_CLUSTER_NODES), or PEAKDESK_WORKERS=1`,
    );
  }
  if (env.NODE_ENV === 'production' && !config.auth.secret) {
    problems.push(
      'PEAKDESK_AUTH_SECRET is not set and NODE_ENV=production: set it (16+ characters, the same on every instance) or auth.secret in the config file',
    );
  }
  return problems;
}
