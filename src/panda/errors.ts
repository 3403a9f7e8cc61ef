/**
 * Typed failures of PanDA calls. Every way a call can go wrong becomes a PandaError with a kind, so
 * activities can decide "retry", "fail the activity for good" or "treat as unknown" without parsing
 * message strings, and nothing is ever turned into a silent success.
 */

export type PandaErrorKind = 'transport' | 'timeout' | 'http' | 'auth' | 'malformed' | 'rejected';

/**
 * Harvester maps any failure that did not come from the server's own logic (non-200, timeout,
 * exception while talking) to a synthetic per-job StatusCode 999. We keep that number on the error so
 * code ported from Harvester (and the DB columns that store the code) see the same value.
 */
export const TRANSPORT_STATUS_CODE = 999;

export interface PandaErrorInit {
  kind: PandaErrorKind;
  /** `<module>/<method>`, e.g. `pilot/update_jobs_bulk`. */
  endpoint: string;
  /** Already scrubbed of secrets by the caller. */
  message: string;
  httpStatus?: number;
  /** The envelope's `message` for `rejected`/`auth` replies (scrubbed). */
  serverMessage?: string;
  /** Pilot-protocol code when the server gave one (e.g. data.code 10 on a time-out reply). */
  statusCode?: number;
  /** Node error code of the underlying failure (ECONNRESET, ENOENT...), never its object. */
  causeCode?: string;
  /** For bulk calls split into chunks: how many input items were fully processed before the failure. */
  completedCount?: number;
  /** For bulk calls: the results of the chunks that did succeed, in input order. */
  partialResults?: readonly unknown[];
}

/** Server messages that mean "retry later" rather than "your request is wrong". */
const TRANSIENT_SERVER_MESSAGES = [/database error/i, /time ?out/i, /rows locked/i];

export class PandaError extends Error {
  readonly kind: PandaErrorKind;
  readonly endpoint: string;
  readonly httpStatus: number | undefined;
  readonly serverMessage: string | undefined;
  /** 999 for every failure that is not a server-side decision; the server's code (if any) otherwise. */
  readonly statusCode: number | undefined;
  readonly causeCode: string | undefined;
  readonly completedCount: number;
  readonly partialResults: readonly unknown[];
  /**
   * Whether repeating the same call can help. Auth and malformed-request rejections will not get
   * better by retrying; transport trouble, 5xx, time-outs and "database error" may.
   */
  readonly retryable: boolean;

  constructor(init: PandaErrorInit) {
    super(init.message);
    this.name = 'PandaError';
    this.kind = init.kind;
    this.endpoint = init.endpoint;
    this.httpStatus = init.httpStatus;
    this.serverMessage = init.serverMessage;
    this.causeCode = init.causeCode;
    this.completedCount = init.completedCount ?? 0;
    this.partialResults = init.partialResults ?? [];
    this.statusCode = init.kind === 'rejected' ? init.statusCode : TRANSPORT_STATUS_CODE;
    this.retryable = computeRetryable(init);
  }

  /** Copy with bulk progress attached (the chunk loop learns it only after the chunk failed). */
  withProgress(completedCount: number, partialResults: readonly unknown[]): PandaError {
    return new PandaError({
      kind: this.kind,
      endpoint: this.endpoint,
      message: this.message,
      httpStatus: this.httpStatus,
      serverMessage: this.serverMessage,
      statusCode: this.kind === 'rejected' ? this.statusCode : undefined,
      causeCode: this.causeCode,
      completedCount,
      partialResults,
    });
  }

  /** Only plain, already-scrubbed fields: safe for logs and Temporal failure details. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      endpoint: this.endpoint,
      message: this.message,
      httpStatus: this.httpStatus,
      serverMessage: this.serverMessage,
      statusCode: this.statusCode,
      causeCode: this.causeCode,
      completedCount: this.completedCount,
      retryable: this.retryable,
    };
  }
}

function computeRetryable(init: PandaErrorInit): boolean {
  switch (init.kind) {
    case 'transport':
    case 'timeout':
      return true;
    case 'http':
      // 5xx and 429 are the server's trouble; a 4xx (forbidden method, bad path) is ours.
      return init.httpStatus === undefined || init.httpStatus >= 500 || init.httpStatus === 429;
    case 'malformed':
      // A truncated or garbled reply is usually a proxy/load-balancer hiccup.
      return true;
    case 'auth':
      return false;
    case 'rejected':
      return TRANSIENT_SERVER_MESSAGES.some((re) => re.test(init.serverMessage ?? ''));
  }
}

export function isPandaError(err: unknown): err is PandaError {
  return err instanceof PandaError;
}
