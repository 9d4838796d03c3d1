import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { Gateway } from '../app.ts';
import type { Config } from '../config/schema.ts';
import { waitForRedis } from '../store/redis/reachable.ts';
import { EXIT } from './exit-codes.ts';
import { listenProblem } from './listen-problem.ts';
import { standby } from './standby.ts';

export interface InstanceOptions {
  loaded: { config: Config; path: string; raw: Record<string, unknown> };
  logger: Logger;
  exit: (code: number) => never;
  env: Record<string, string | undefined>;
  /** Runs once it accepts connections (a single instance announces itself; a worker tells its primary). */
  onListening?: (port: number) => Promise<void> | void;
}

/**
 * One full gateway in this process: the whole gateway when PEAKDESK_WORKERS=1, or one worker
 * of several. With Redis configured it waits for Redis first (answering /readyz 503 meanwhile).
 */
export async function runInstance(o: InstanceOptions): Promise<void> {
  const { config } = o.loaded;
  const { logger, exit } = o;
  const worker = cluster.isWorker;
  let gateway: Gateway | undefined;
  let waiting: { close(): Promise<void> } | undefined;
  const aborted = new AbortController();
  let stopping = false;

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    if (!gateway) {
      aborted.abort();
      void (waiting?.close() ?? Promise.resolve()).finally(() => exit(EXIT.ok));
      return;
    }
    // Whatever hangs in the drain, the process is gone within the grace period and a bit.
    setTimeout(() => {
      logger.error({ graceMs: config.server.shutdownGraceMs }, 'shutdown took too long; exiting anyway');
      exit(EXIT.failed);
    }, config.server.shutdownGraceMs + 1_500);
    gateway.stop().then(
      () => exit(EXIT.ok),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        exit(EXIT.failed);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The config file is watched too; SIGHUP is for deployments that replace it by other means.
  // Handled from the start: unhandled, a SIGHUP during start-up would end the process.
  process.on('SIGHUP', () => void gateway?.configSync.reloadFile());
  // A worker whose primary is gone (killed) stops too, so no process outlives the tree.
  if (worker) process.on('disconnect', () => stop('primary gone'));

  const { host } = config.server;
  const bind = async <T>(what: () => Promise<T>): Promise<T> => {
    try {
      return await what();
    } catch (err) {
      const problem = listenProblem(err, host, config.server.port, o.env);
      if (!problem) throw err;
      logger.fatal({ err: (err as Error).message }, problem);
      process.stderr.write(`${problem}\n`);
      return exit(EXIT.unavailable);
    }
  };

  const { url, clusterNodes } = config.redis;
  if (url || clusterNodes?.length) {
    let reason = 'connecting to Redis';
    const held = await bind(() => standby(host, config.server.port, () => reason));
    waiting = held;
    // With PORT=0 the gateway takes over the port the stand-in got.
    config.server.port = held.port;
    logger.info({ port: held.port, host }, 'waiting for Redis before starting');
    try {
      await waitForRedis({ url, clusterNodes, logger, signal: aborted.signal, onFailure: (why) => (reason = why) });
    } catch (err) {
      if (stopping) return;
      throw err;
    }
    if (stopping) return;
    await held.close();
    waiting = undefined;
  }

  gateway = await Gateway.create({ config, configPath: o.loaded.path, configDoc: o.loaded.raw, logger });
  // A signal during start-up already exits (stop() found no gateway to drain).
  if (stopping) return;
  const port = await bind(() => gateway!.listen(worker ? 'worker listening' : 'listening'));
  if (worker) process.send?.({ peakdesk: 'listening', port });
  await o.onListening?.(port);
}
