import { pino, type Logger } from 'pino';

/**
 * The process's logger. Asynchronous writes: at midnight a log line per state change must not
 * block the event loop on stdout. `exit` flushes first, so the last lines are never lost.
 */
export function processLogger(level: string): { logger: Logger; exit: (code: number) => never } {
  const destination = pino.destination({ sync: false });
  const logger = pino({ level }, destination);
  const exit = (code: number): never => {
    destination.flushSync();
    process.exit(code);
  };
  return { logger, exit };
}
