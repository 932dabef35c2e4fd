import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * One root logger per process: JSON lines for journald, pretty on a terminal.
 * Modules take a child with `{ module: '<name>' }`.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  if (destination) return pino({ level }, destination);
  if (process.stdout.isTTY) {
    return pino({ level, transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } } });
  }
  return pino({ level });
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
