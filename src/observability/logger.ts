/**
 * One pino logger for the process. Secrets are redacted by path, so a token or a proxy that ends
 * up in a logged object is replaced before it reaches any output.
 */
import pino from 'pino';

export type Logger = pino.Logger;

/** Environment variable with extra pino redact paths, separated by commas. */
export const LOG_REDACT_ENV = 'HARVESTER_LOG_REDACT';

/** What a redacted value is printed as. */
export const REDACTION_CENSOR = '[Redacted]';

/**
 * Keys that hold secrets in what harvester logs: PanDA credentials (token, x509 proxy, key),
 * HTTP headers, database and API credentials. Matched case-sensitively, as pino does, so the
 * usual spellings are listed.
 */
export const SECRET_KEYS = [
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'password',
  'passwd',
  'secret',
  'clientSecret',
  'proxy',
  'x509UserProxy',
  'x509_user_proxy',
  'key',
  'privateKey',
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'cookie',
  'Cookie',
] as const;

/**
 * Each secret key at the top level of a logged object and nested one or two levels down
 * (`{ auth: { token } }`, `{ request: { headers: { authorization } } }`): pino's paths are exact,
 * a key deeper than that is only caught by a path of its own (HARVESTER_LOG_REDACT).
 */
export const REDACTED_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** The extra redact paths of HARVESTER_LOG_REDACT (comma-separated; blanks ignored). */
export function redactPathsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[LOG_REDACT_ENV] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  name?: string;
  /** Paths redacted besides REDACTED_PATHS; default: HARVESTER_LOG_REDACT. */
  extraRedactPaths?: readonly string[];
  /** Where JSON lines go (default stdout); ignored with `pretty`. */
  destination?: pino.DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const extra = opts.extraRedactPaths ?? redactPathsFromEnv();
  const options: pino.LoggerOptions = {
    level: opts.level ?? process.env.HARVESTER_LOG_LEVEL ?? 'info',
    name: opts.name ?? 'harvester',
    redact: { paths: [...REDACTED_PATHS, ...extra], censor: REDACTION_CENSOR },
  };
  try {
    if (opts.pretty) {
      return pino(
        options,
        pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss' } }),
      );
    }
    return opts.destination ? pino(options, opts.destination) : pino(options);
  } catch (err) {
    // pino checks the paths when the logger is made; the built-in ones are known good.
    if (extra.length === 0) throw err;
    const source = opts.extraRedactPaths ? 'createLogger extraRedactPaths' : LOG_REDACT_ENV;
    throw new Error(
      `${source} ${JSON.stringify(extra.join(','))}: not valid pino redact paths: ${(err as Error).message}`,
    );
  }
}
