/**
 * One pino logger for the process. Secrets are redacted by path, so a token or a proxy that ends
 * up in a logged object is replaced before it reaches any output.
 */
import pino from 'pino';

export type Logger = pino.Logger;

export const REDACTED_PATHS = [
  'token',
  'password',
  'apiKey',
  'authorization',
  'headers.authorization',
  '*.token',
  '*.password',
  '*.apiKey',
  '*.authorization',
  '*.x509UserProxy',
  '*.proxy',
  '*.key',
];

export function createLogger(opts: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const options: pino.LoggerOptions = {
    level: opts.level ?? process.env.HARVESTER_LOG_LEVEL ?? 'info',
    name: opts.name ?? 'harvester',
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  if (opts.pretty) {
    return pino(
      options,
      pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } }),
    );
  }
  return pino(options);
}
