import { pino } from 'pino';
import { Gateway } from './app.ts';
import { ConfigError, loadConfig } from './config/load.ts';

// Asynchronous writes: at midnight a log line per state change must not block the event
// loop on stdout. Every exit below flushes first.
const destination = pino.destination({ sync: false });
const logger = pino({ level: process.env.LOG_LEVEL || 'info' }, destination);
const exit = (code: number): never => {
  destination.flushSync();
  process.exit(code);
};

async function main(): Promise<void> {
  let loaded;
  try {
    loaded = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal({ config: err.source, problems: err.problems }, 'invalid config, not starting');
      process.stderr.write(`${err.message}\n`);
      exit(78); // EX_CONFIG
    }
    throw err;
  }
  logger.info({ config: loaded.path }, 'config loaded');
  const gateway = await Gateway.create({ config: loaded.config, configPath: loaded.path, configDoc: loaded.raw, logger });
  await gateway.listen();
  // The config file is watched too; SIGHUP is for deployments that replace it by other means.
  process.on('SIGHUP', () => void gateway.configSync.reloadFile());

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  logger.fatal({ err }, 'start-up failed');
  exit(1);
});
