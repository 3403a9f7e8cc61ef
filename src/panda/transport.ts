/**
 * One HTTP(S) exchange with the PanDA server: URL building, auth headers, TLS material, gzip, a hard
 * deadline, and the mapping of every failure to a PandaError. Nothing here knows about endpoints'
 * meaning; the client decides what a `success:false` envelope means for each call.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { harvesterMetrics } from '../observability/metrics';
import { PandaError } from './errors';
import type { AuthProvider, Redactor } from './secrets';
import type { CallOptions, PandaEnvelope, QueryValue } from './types';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** pino-compatible subset, so the service logger can be passed as is. */
export interface PandaLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface TransportOptions {
  /** e.g. `https://pandaserver.cern.ch:25443/api/v1` */
  baseUrl: string;
  auth: AuthProvider;
  redactor: Redactor;
  /** Default per-call deadline (Harvester: 180 s). */
  timeoutMs: number;
  /** Per-endpoint deadline overrides, e.g. a longer one for acquire_jobs. */
  endpointTimeoutsMs: Partial<Record<string, number>>;
  /** POST bodies at least this large are gzipped (the server gunzips on Content-Encoding). */
  gzipMinBytes: number;
  /** Verify the server certificate (off only for tests against a self-signed simulator). */
  rejectUnauthorized: boolean;
  userAgent: string;
  logger?: PandaLogger;
  /** Replies larger than this are refused rather than buffered without bound. */
  maxResponseBytes: number;
}

export interface ExchangeRequest {
  endpoint: string;
  method: 'GET' | 'POST';
  query?: Record<string, QueryValue | undefined>;
  body?: unknown;
}

interface RawReply {
  status: number;
  body: Buffer;
  /** The reply claimed gzip but did not decompress. */
  badEncoding?: boolean;
}

/** Thrown inside the exchange to tell the deadline apart from other socket errors. */
class DeadlineExceeded extends Error {}
class CallerAborted extends Error {}
class TooLarge extends Error {}

/**
 * Every exchange's latency by endpoint, and its failure by kind: the one place all PanDA calls
 * pass, so no caller has to remember to record (and none records twice).
 */
function recordCall(endpoint: string, startedMs: number, failureKind?: string): void {
  harvesterMetrics.pandaCall(endpoint, (Date.now() - startedMs) / 1000);
  if (failureKind !== undefined) harvesterMetrics.pandaCallError(endpoint, failureKind);
}

export class PandaTransport {
  constructor(private readonly opts: TransportOptions) {}

  /** Sends the request and returns the parsed envelope (success true *or* false). */
  async exchange(req: ExchangeRequest, call: CallOptions = {}): Promise<PandaEnvelope> {
    const started = Date.now();
    try {
      const envelope = await this.exchangeOnce(req, call, started);
      // A success:false envelope is a call that went through; whether it is an error is the
      // client's decision per endpoint ("No jobs" is a normal answer), so the client counts those.
      recordCall(req.endpoint, started);
      return envelope;
    } catch (err) {
      recordCall(req.endpoint, started, err instanceof PandaError ? err.kind : 'transport');
      throw err;
    }
  }

  private async exchangeOnce(
    req: ExchangeRequest,
    call: CallOptions,
    started: number,
  ): Promise<PandaEnvelope> {
    const { endpoint } = req;
    const timeoutMs = call.timeoutMs ?? this.opts.endpointTimeoutsMs[endpoint] ?? this.opts.timeoutMs;
    const url = this.buildUrl(endpoint, req.query);
    const auth = await this.opts.auth.resolve(endpoint);

    const headers: Record<string, string> = {
      ...auth.headers,
      accept: 'application/json',
      'accept-encoding': 'gzip',
      // Harvester closes after each call; it also avoids reusing a socket the server already dropped.
      connection: 'close',
      'user-agent': this.opts.userAgent,
    };
    let payload: Buffer | undefined;
    if (req.method === 'POST') {
      payload = Buffer.from(JSON.stringify(req.body ?? {}), 'utf8');
      headers['content-type'] = 'application/json';
      if (payload.length >= this.opts.gzipMinBytes) {
        payload = await gzipAsync(payload);
        headers['content-encoding'] = 'gzip';
      }
      headers['content-length'] = String(payload.length);
    }

    let raw: RawReply;
    try {
      raw = await this.send(url, req.method, headers, auth.tls, payload, timeoutMs, call.signal);
    } catch (err) {
      const e = this.toTransportError(endpoint, err, timeoutMs);
      this.opts.logger?.warn(
        { endpoint, kind: e.kind, causeCode: e.causeCode, ms: Date.now() - started },
        'PanDA call failed',
      );
      throw e;
    }
    const envelope = this.parse(endpoint, raw);
    this.opts.logger?.debug(
      { endpoint, httpStatus: raw.status, success: envelope.success, ms: Date.now() - started },
      'PanDA call',
    );
    return envelope;
  }

  private buildUrl(endpoint: string, query: ExchangeRequest['query']): URL {
    const base = this.opts.baseUrl.replace(/\/+$/, '');
    const url = new URL(`${base}/${endpoint}`);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      // The server turns repeated keys into a list; a single value for a list param is wrapped.
      const values = Array.isArray(value) ? value : [value];
      for (const v of values) url.searchParams.append(key, String(v));
    }
    return url;
  }

  private send(
    url: URL,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    tls: { cert?: Buffer; key?: Buffer; ca?: Buffer[] },
    payload: Buffer | undefined,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<RawReply> {
    return new Promise<RawReply>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CallerAborted('aborted before sending'));
        return;
      }
      const options: RequestOptions = { method, headers, agent: false };
      let doRequest: typeof httpRequest = httpRequest;
      if (url.protocol === 'https:') {
        doRequest = httpsRequest;
        Object.assign(options, {
          cert: tls.cert,
          key: tls.key,
          ca: tls.ca,
          rejectUnauthorized: this.opts.rejectUnauthorized,
        });
      }
      let settled = false;
      const finish = (err: Error | undefined, reply?: RawReply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(reply as RawReply);
      };
      const req = doRequest(url, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.opts.maxResponseBytes) {
            req.destroy(new TooLarge(`reply larger than ${this.opts.maxResponseBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => finish(err));
        // 'aborted' covers a server that resets the connection half-way through the body.
        res.on('aborted', () => finish(Object.assign(new Error('reply aborted'), { code: 'ECONNRESET' })));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          if ((res.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
            gunzipAsync(body).then(
              (plain) => finish(undefined, { status: res.statusCode ?? 0, body: plain }),
              () => finish(undefined, { status: res.statusCode ?? 0, body, badEncoding: true }),
            );
          } else finish(undefined, { status: res.statusCode ?? 0, body });
        });
      });
      // One deadline for the whole exchange (connect + send + wait + read), unlike socket idle time-outs.
      const timer = setTimeout(
        () => req.destroy(new DeadlineExceeded(`no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () => req.destroy(new CallerAborted('aborted by caller'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => finish(err));
      req.end(payload);
    });
  }

  private toTransportError(endpoint: string, err: unknown, timeoutMs: number): PandaError {
    if (err instanceof PandaError) return err;
    if (err instanceof DeadlineExceeded) {
      return new PandaError({
        kind: 'timeout',
        endpoint,
        message: `PanDA ${endpoint}: no reply within ${timeoutMs} ms`,
        causeCode: 'ETIMEDOUT',
      });
    }
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const what = err instanceof Error ? err.message : String(err);
    return new PandaError({
      kind: 'transport',
      endpoint,
      message: this.opts.redactor.scrub(
        `PanDA ${endpoint}: transport failure: ${what}${code ? ` (${code})` : ''}`,
      ),
      causeCode: code ?? (err instanceof CallerAborted ? 'ABORT_ERR' : undefined),
    });
  }

  private parse(endpoint: string, raw: RawReply): PandaEnvelope {
    if (raw.badEncoding) {
      throw new PandaError({
        kind: 'malformed',
        endpoint,
        httpStatus: raw.status,
        message: `PanDA ${endpoint}: reply says gzip but does not decompress`,
      });
    }
    const text = raw.body.toString('utf8');
    const snippet = this.opts.redactor.scrub(text.slice(0, 300)).trim();
    if (raw.status < 200 || raw.status >= 300) {
      // The server answers 403 both for a bad token/DN and for an unknown method; only the first is auth.
      const isAuth =
        raw.status === 401 || (raw.status === 403 && !/^ERROR : method \S+ is forbidden/.test(text.trim()));
      throw new PandaError({
        kind: isAuth ? 'auth' : 'http',
        endpoint,
        httpStatus: raw.status,
        serverMessage: snippet,
        message: `PanDA ${endpoint}: HTTP ${raw.status}${snippet ? `: ${snippet}` : ''}`,
      });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new PandaError({
        kind: 'malformed',
        endpoint,
        httpStatus: raw.status,
        message: `PanDA ${endpoint}: reply is not JSON: ${JSON.stringify(snippet.slice(0, 120))}`,
      });
    }
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      Array.isArray(parsed) ||
      typeof (parsed as { success?: unknown }).success !== 'boolean' ||
      !('data' in parsed)
    ) {
      throw new PandaError({
        kind: 'malformed',
        endpoint,
        httpStatus: raw.status,
        message: `PanDA ${endpoint}: reply is not a {success, message, data} envelope`,
      });
    }
    const env = parsed as { success: boolean; message?: unknown; data: unknown };
    return {
      success: env.success,
      message: typeof env.message === 'string' ? this.opts.redactor.scrub(env.message) : '',
      data: env.data,
    };
  }
}
