/**
 * Fetches one JSON document for the instance, as Harvester's Cacher does for its `data` lines:
 * `file:` URLs are read from disk, `http:` is fetched anonymously, `https:` with the PanDA
 * client's credentials (bearer token + Origin, client certificate, CA file/dir; the same files,
 * re-read when they change). Every failure is a RemoteDocumentError naming the URL and what was
 * wrong; credentials never appear in it.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { type AuthOptions, AuthProvider, Redactor } from '../panda/secrets';

export class RemoteDocumentError extends Error {
  override name = 'RemoteDocumentError';
}

export interface RemoteDocumentOptions {
  /** Credentials for https: URLs (HARVESTER_PANDA_TOKEN_FILE etc.). Never sent over plain http. */
  auth?: AuthOptions;
  /** Whole-exchange deadline. Default 60 s. */
  timeoutMs?: number;
  /** Larger replies are refused. Default 32 MiB. */
  maxBytes?: number;
  /** Verify the server certificate. Default true. */
  rejectUnauthorized?: boolean;
}

/** Builds a fetcher that keeps one credential provider (its file cache) across calls. */
export function createRemoteDocumentFetcher(
  opts: RemoteDocumentOptions = {},
): (url: string) => Promise<unknown> {
  const redactor = new Redactor();
  const auth = opts.auth ? new AuthProvider(opts.auth, redactor) : undefined;
  return async (url: string) => {
    const text = await fetchText(url, opts, auth, redactor);
    return parseJsonText(url, text);
  };
}

async function fetchText(
  url: string,
  opts: RemoteDocumentOptions,
  auth: AuthProvider | undefined,
  redactor: Redactor,
): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteDocumentError(`${url}: not a URL`);
  }
  if (parsed.protocol === 'file:') {
    try {
      return await readFile(fileURLToPath(parsed), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new RemoteDocumentError(`${url}: cannot read the file (${code ?? (err as Error).message})`);
    }
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new RemoteDocumentError(
      `${url}: unsupported scheme ${parsed.protocol}, expected http(s): or file:`,
    );
  }
  const headers: Record<string, string> = {
    accept: 'application/json',
    'accept-encoding': 'gzip',
    connection: 'close',
    'user-agent': 'temporal-harvester',
  };
  const options: RequestOptions = { method: 'GET', headers, agent: false };
  if (parsed.protocol === 'https:') {
    if (auth) {
      let resolved: Awaited<ReturnType<AuthProvider['resolve']>>;
      try {
        resolved = await auth.resolve(url);
      } catch (err) {
        throw new RemoteDocumentError(redactor.scrub(`${url}: ${(err as Error).message}`));
      }
      Object.assign(headers, resolved.headers);
      Object.assign(options, { cert: resolved.tls.cert, key: resolved.tls.key, ca: resolved.tls.ca });
    }
    options.rejectUnauthorized = opts.rejectUnauthorized ?? true;
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const maxBytes = opts.maxBytes ?? 32 * 1024 * 1024;
  const reply = await new Promise<{ status: number; body: Buffer; gzip: boolean }>((resolve, reject) => {
    const doRequest = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (err: Error | undefined, value?: { status: number; body: Buffer; gzip: boolean }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = doRequest(parsed, options, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          req.destroy(new Error(`reply larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => finish(err));
      res.on('aborted', () => finish(new Error('reply cut off (connection reset)')));
      res.on('end', () =>
        finish(undefined, {
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          gzip: (res.headers['content-encoding'] ?? '').toLowerCase() === 'gzip',
        }),
      );
    });
    const timer = setTimeout(() => req.destroy(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (err) => finish(err));
    req.end();
  }).catch((err: Error) => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RemoteDocumentError(
      redactor.scrub(
        `${url}: cannot fetch: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`,
      ),
    );
  });
  let body = reply.body;
  if (reply.gzip) {
    try {
      // The size limit holds for what the reply unpacks to as well (a small gzip can unpack to GBs).
      body = gunzipSync(body, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        throw new RemoteDocumentError(`${url}: reply unpacks to more than ${maxBytes} bytes`);
      throw new RemoteDocumentError(`${url}: reply says gzip but does not decompress`);
    }
  }
  const text = body.toString('utf8');
  if (reply.status < 200 || reply.status >= 300) {
    const snippet = redactor.scrub(text.slice(0, 200)).trim();
    throw new RemoteDocumentError(`${url}: HTTP ${reply.status}${snippet ? `: ${snippet}` : ''}`);
  }
  return text;
}

function parseJsonText(url: string, text: string): unknown {
  if (text.trim() === '') throw new RemoteDocumentError(`${url}: the reply is empty, expected JSON`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(message);
    let where = '';
    if (m) {
      const before = text.slice(0, Number(m[1])).split('\n');
      where = ` (line ${before.length}, column ${before[before.length - 1]!.length + 1})`;
    }
    throw new RemoteDocumentError(`${url}: the reply is not valid JSON: ${message}${where}`);
  }
}

/**
 * Checks that a fetched document has the shape of a panda_queueconfig.json: an object whose
 * values are objects. The entries' contents are validated later, queue by queue, like a file's.
 */
export function checkQueueConfigDocument(
  url: string,
  value: unknown,
): Record<string, Record<string, unknown>> {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RemoteDocumentError(
      `${url}: expected a JSON object mapping queue names to queue entries, got ${kind(value)}`,
    );
  }
  if (Object.keys(value).length === 0) {
    // An empty reply would stop every queue that comes from PanDA; more likely a fault than intent
    // (an instance is taken off its queues through queueList or the queues' status).
    throw new RemoteDocumentError(`${url}: the document names no queues; the last good copy is kept`);
  }
  for (const [name, entry] of Object.entries(value as Record<string, unknown>)) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new RemoteDocumentError(
        `${url}: entry ${JSON.stringify(name)} is ${kind(entry)}, expected an object with the queue's attributes and plugin sections`,
      );
    }
  }
  return value as Record<string, Record<string, unknown>>;
}
