import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { Store } from '../store/types.ts';
import { ConfigError } from './load.ts';
import { sharedPart, type ConfigState, type LiveConfig } from './live-config.ts';

/** How often an instance double-checks the shared version, in case a notification was lost. */
const RECHECK_MS = 5_000;

type Doc = Record<string, unknown>;

/** A conditional change named a version that is no longer the shared one; nothing changed. */
export class PreconditionFailed extends Error {
  constructor(readonly currentVersion: string) {
    super(`the config is at version ${currentVersion} now`);
    this.name = 'PreconditionFailed';
  }
}

/** Dotted paths (two levels deep) where `a` and `b` differ, for the start-up warning. */
export function differingPaths(a: Doc, b: Doc, depth = 2, prefix = ''): string[] {
  const out: string[] = [];
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const x = a[k];
    const y = b[k];
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    const isObj = (v: unknown): v is Doc => !!v && typeof v === 'object' && !Array.isArray(v);
    if (depth > 1 && isObj(x) && isObj(y)) out.push(...differingPaths(x, y, depth - 1, `${prefix}${k}.`));
    else out.push(`${prefix}${k}`);
  }
  return out;
}

/**
 * Keeps every instance on one config. A change (admin PUT, config file edit, SIGHUP) is
 * validated where it happens, stored in the store with its version, and announced; every
 * instance fetches and applies it (Redis pub/sub: within milliseconds). An instance starting
 * up joins the config the others run; the first one publishes its file.
 */
export class ConfigSync {
  private watcher: FSWatcher | undefined;
  private recheck: NodeJS.Timeout | undefined;
  private pulling: Promise<void> = Promise.resolve();
  /** Conditional updates of this instance, one at a time. */
  private updating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly live: LiveConfig,
    private readonly store: Store,
    private readonly logger: Logger,
    /** The config file to watch and reload on SIGHUP; none for configs built in code. */
    private readonly filePath?: string,
  ) {}

  async start(): Promise<void> {
    await this.store.watchSharedConfig((version) => this.pull(version));
    const shared = await this.store.getSharedConfig();
    if (shared && shared.version !== this.live.current.version) this.warnDiffering(shared);
    if (shared) await this.adopt(shared.doc, shared.version, true);
    else await this.publish(this.live.current, this.live.current.doc, this.live.current.source);
    if (this.filePath) {
      this.watcher = watch(this.filePath, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 100 } });
      this.watcher.on('change', () => void this.reloadFile());
    }
    this.recheck = setInterval(() => void this.recheckVersion(), RECHECK_MS);
    this.recheck.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.recheck);
    await this.watcher?.close();
    await this.pulling;
  }

  /** Validates and rolls out `doc` (the shared part of a config). Throws ConfigError with every problem. */
  async put(doc: unknown, source: string): Promise<ConfigState> {
    const next = this.live.validate(doc, source);
    await this.publish(next, next.doc, source);
    this.live.apply(next, source);
    this.logger.info({ version: next.version, source }, 'config applied');
    return this.live.current;
  }

  /**
   * Compare-and-set: applies `change(current document)` only while the shared config's version
   * (as read from the store, not just this instance's copy) `matches`; otherwise throws
   * PreconditionFailed and changes nothing. Updates through this instance run one at a time;
   * two instances racing within one store round trip can still both pass the check.
   */
  async update(source: string, matches: (version: string) => boolean, change: (doc: Doc) => unknown): Promise<ConfigState> {
    const run = this.updating.then(async () => {
      const shared = await this.store.getSharedConfig();
      const version = shared?.version ?? this.live.current.version;
      if (!matches(version)) throw new PreconditionFailed(version);
      const doc = shared ? (JSON.parse(shared.doc) as Doc) : structuredClone(this.live.current.doc);
      return this.put(change(doc), source);
    });
    this.updating = run.catch(() => {});
    return run;
  }

  /**
   * The cluster runs another config than this instance's file: the shared copy wins (see the
   * README, Live config). Said loudly, because an edit to a file that is not what runs is a
   * classic way to lose an hour at 23:59.
   */
  private warnDiffering(shared: { doc: string; version: string; source: string }): void {
    let paths: string[] = [];
    try {
      paths = differingPaths(this.live.current.doc, JSON.parse(shared.doc) as Doc);
    } catch {
      // An unreadable shared document is reported by adopt().
    }
    this.logger.warn(
      { file: this.filePath ?? this.live.current.source, fileVersion: this.live.current.version, sharedVersion: shared.version, sharedSource: shared.source, differs: paths },
      'the config file differs from the shared config the cluster runs; running the shared one (edit the file again, send SIGHUP or PUT /v1/admin/config to replace it)',
    );
  }

  /** Reads the config file again (file change, SIGHUP); a bad file is logged and ignored. */
  async reloadFile(): Promise<void> {
    if (!this.filePath) return;
    const source = `file:${this.filePath}`;
    try {
      const raw = JSON.parse(await readFile(this.filePath, 'utf8')) as Record<string, unknown>;
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['(root): expected a JSON object']);
      await this.put(sharedPart(raw), source);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.logger.error({ config: source, problems }, 'config reload refused; the running config stays');
    }
  }

  private async publish(next: { version: string }, doc: Record<string, unknown>, source: string): Promise<void> {
    await this.store.publishSharedConfig({ doc: JSON.stringify(doc), version: next.version, source, updatedAt: Date.now() });
  }

  /** Another instance published `version`: fetch and apply it (one fetch at a time). */
  private pull(version: string): void {
    if (version === this.live.current.version) return;
    this.pulling = this.pulling.then(async () => {
      try {
        const shared = await this.store.getSharedConfig();
        if (shared) await this.adopt(shared.doc, shared.version, false);
      } catch (err) {
        this.logger.warn({ err }, 'fetching the shared config failed');
      }
    });
  }

  private async adopt(docJson: string, version: string, starting: boolean): Promise<void> {
    if (version === this.live.current.version) return;
    try {
      const next = this.live.validate(JSON.parse(docJson), 'shared', { starting });
      if (this.live.apply(next, 'shared')) this.logger.info({ version: next.version }, starting ? 'joined the shared config' : 'config applied');
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      this.logger.error({ version, problems }, 'shared config does not validate here; keeping the running config');
    }
  }

  private async recheckVersion(): Promise<void> {
    try {
      const shared = await this.store.getSharedConfig();
      if (shared && shared.version !== this.live.current.version) this.pull(shared.version);
    } catch {
      // The store is down; the next recheck tries again.
    }
  }
}
