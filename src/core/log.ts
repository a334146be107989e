import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * The project's logger: pino, JSON lines on stderr by default so stdout stays
 * free for command output (`--json`). `SHADOWNET_LOG_LEVEL` sets the level.
 */
export function createLogger(options: LoggerOptions & { destination?: number | string } = {}): Logger {
  const { destination = 2, ...rest } = options;
  return pino(
    {
      name: 'shadownet',
      level: process.env.SHADOWNET_LOG_LEVEL ?? rest.level ?? 'info',
      base: undefined,
      ...rest,
    },
    pino.destination({ dest: destination, sync: true }),
  );
}

/** A logger that drops everything; the default for library users and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
