import { createHash } from 'node:crypto';
import { ConfigError, parseConfig } from './load.ts';
import type { Config } from './schema.ts';

/**
 * Settings that belong to one instance's deployment (where it listens, which Redis, the
 * secret): they come from its file and environment, are fixed at start, and never travel
 * with a shared config.
 */
export const LOCAL_PATHS = [['server', 'host'], ['server', 'port'], ['server', 'metricsHost'], ['server', 'metricsPort'], ['redis'], ['auth']] as const;

export interface ConfigState {
  config: Config;
  /** The shared document it was built from (no local settings), as published. */
  doc: Record<string, unknown>;
  /** Content hash of the shared document: equal on every instance that runs the same config. */
  version: string;
  /** Where it came from: `file:<path>`, `admin:<sub>`, `redis` (another instance). */
  source: string;
  appliedAt: number;
}

type Doc = Record<string, unknown>;

/** Stable JSON: keys sorted, so equal documents hash equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Doc)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Doc)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function versionOf(doc: Doc): string {
  return createHash('sha256').update(canonical(doc)).digest('hex').slice(0, 16);
}

/** `raw` without the instance-local settings. */
export function sharedPart(raw: Doc): Doc {
  const out = structuredClone(raw);
  for (const path of LOCAL_PATHS) {
    const parent = path.length === 1 ? out : (out[path[0]] as Doc | undefined);
    if (parent && typeof parent === 'object') delete parent[path[path.length - 1]!];
  }
  return out;
}

/** The local settings of `config`, as a document to lay over a shared one. */
function localPart(config: Config): Doc {
  return {
    server: {
      host: config.server.host,
      port: config.server.port,
      ...(config.server.metricsHost !== undefined ? { metricsHost: config.server.metricsHost } : {}),
      ...(config.server.metricsPort !== undefined ? { metricsPort: config.server.metricsPort } : {}),
    },
    redis: config.redis,
    auth: config.auth,
  };
}

function overlay(doc: Doc, local: Doc): Doc {
  const out = structuredClone(doc);
  for (const [k, v] of Object.entries(local)) {
    const base = out[k];
    out[k] = base && typeof base === 'object' && !Array.isArray(base) ? { ...(base as Doc), ...(v as Doc) } : v;
  }
  return out;
}

/**
 * The active config of this instance. Reads (`get`) are what every decision calls, so a new
 * config applies from the next decision on and nothing already decided moves.
 */
export class LiveConfig {
  private state: ConfigState;
  private readonly listeners: ((s: ConfigState) => void)[] = [];

  constructor(initial: Config, initialShared: Doc, source: string, now = Date.now()) {
    this.state = { config: initial, doc: initialShared, version: versionOf(initialShared), source, appliedAt: now };
  }

  get(): Config {
    return this.state.config;
  }

  get current(): ConfigState {
    return this.state;
  }

  onChange(fn: (s: ConfigState) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Validates a shared document as it would run here (this instance's local settings laid
   * over it). Throws ConfigError listing every problem; a document that names local settings
   * is refused, because they cannot change while running.
   */
  validate(doc: unknown, source: string, opts: { starting?: boolean } = {}): { config: Config; doc: Doc; version: string } {
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(source, ['(root): expected a JSON object']);
    const problems: string[] = [];
    for (const path of LOCAL_PATHS) {
      let v: unknown = doc;
      for (const k of path) v = v && typeof v === 'object' ? (v as Doc)[k] : undefined;
      if (v !== undefined) problems.push(`${path.join('.')}: set per instance (file or environment) at start; it cannot be changed live`);
    }
    let config: Config | undefined;
    try {
      config = parseConfig(overlay(doc as Doc, localPart(this.state.config)), source);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
    const nextRoles = config?.routing.roles ?? (doc as { routing?: { roles?: unknown } }).routing?.roles;
    if (!opts.starting && Array.isArray(nextRoles)) {
      // Sessions may be waiting in a role's queue; it can only go with a restart.
      const removed = this.state.config.routing.roles.filter((r) => !nextRoles.includes(r));
      if (removed.length) problems.push(`routing.roles: cannot remove ${removed.map((r) => `"${r}"`).join(', ')} while running (sessions may be queued in it)`);
    }
    if (problems.length) throw new ConfigError(source, problems);
    return { config: config!, doc: doc as Doc, version: versionOf(doc as Doc) };
  }

  /** Makes a validated config the active one; false when it is the one already running. */
  apply(next: { config: Config; doc: Doc; version: string }, source: string, now = Date.now()): boolean {
    if (next.version === this.state.version) return false;
    this.state = { config: next.config, doc: next.doc, version: next.version, source, appliedAt: now };
    for (const fn of this.listeners) fn(this.state);
    return true;
  }
}
