import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from './config/load.ts';
import { EnvError, envProblems, logLevel, runningProblems, workerCount } from './config/env.ts';
import { EXIT } from './process/exit-codes.ts';
import { processLogger } from './process/log.ts';

const env = process.env;
const problems = envProblems(env);
// A bad LOG_LEVEL must still be reported, so the logger falls back to `info` for that.
const { logger, exit } = processLogger(problems.some((p) => p.startsWith('LOG_LEVEL=')) ? 'info' : logLevel(env));

function refuse(source: string, err: Error & { problems: string[] }): never {
  logger.fatal({ config: source, problems: err.problems }, 'invalid config, not starting');
  process.stderr.write(`${err.message}\n`);
  return exit(EXIT.config);
}

async function main(): Promise<void> {
  if (problems.length) refuse('environment', new EnvError(problems));
  let loaded;
  try {
    loaded = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) refuse(err.source, err);
    throw err;
  }
  const running = runningProblems(env, loaded.config);
  if (running.length) refuse('environment', new EnvError(running));
  if (!cluster.isWorker) logger.info({ config: loaded.path }, 'config loaded');
  // Loaded only now: a start-up refused above answers at once, without loading the server.
  const { runInstance } = await import('./process/instance.ts');

  if (cluster.isWorker) {
    await runInstance({ loaded, logger, exit, env });
    return;
  }
  const { server } = loaded.config;
  const { announceDevLinks, devSecret } = await import('./process/first-hour.ts');
  const dev = !loaded.config.auth.secret;
  const secret = (loaded.config.auth.secret ??= devSecret(logger));
  const workers = workerCount(env);
  const announced = async (port: number) => {
    if (workers > 1) logger.info({ port, host: server.host, workers, store: 'redis' }, 'listening');
    if (dev) await announceDevLinks(logger, secret, server.host, port);
  };
  if (workers === 1) {
    await runInstance({ loaded, logger, exit, env, onListening: announced });
    return;
  }
  const { runPrimary } = await import('./process/primary.ts');
  await runPrimary({
    workers,
    host: server.host,
    port: server.port,
    entry: fileURLToPath(import.meta.url),
    secret,
    graceMs: server.shutdownGraceMs,
    logger,
    exit,
    onListening: announced,
  });
}

main().catch((err) => {
  logger.fatal({ err }, 'start-up failed');
  exit(EXIT.failed);
});
