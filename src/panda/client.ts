/**
 * PanDA communicator: the calls Harvester makes to the PanDA server (reference/panda-api.md §2),
 * over the v1 REST API. Activities depend on the PandaCommunicator interface; createPandaClient is the
 * HTTP implementation (tests may substitute a fake).
 *
 * Contract for every method: it resolves only when the server said yes; every other outcome
 * (transport, time-out, non-2xx, unparsable reply, success:false) rejects with a PandaError. The one
 * deliberate exception is acquireJobs, where "No jobs in PanDA" is the normal empty answer.
 */
import { harvesterMetrics } from '../observability/metrics';
import { PandaError } from './errors';
import { formatPandaTimeMicro } from './format';
import { type AuthOptions, AuthProvider, Redactor } from './secrets';
import { type PandaLogger, PandaTransport } from './transport';
import type {
  AcquireEventRangesRequest,
  AcquireJobsRequest,
  CallOptions,
  EventRange,
  EventRangeUpdate,
  HarvesterDialog,
  HarvesterHeartbeatData,
  JobStatusReplyItem,
  JobStatusResult,
  JobUpdate,
  JobUpdateReplyItem,
  JobUpdateResult,
  PandaCommand,
  PandaEndpoint,
  PandaEnvelope,
  PandaJobDescription,
  PandaWorkerStatistics,
  QueryValue,
  ResourceType,
  ServiceMetric,
  WorkerStatistics,
  WorkerUpdate,
} from './types';

/** The server refuses more than this many jobs/workers/ids per call. */
export const MAX_BULK = 100;

/** Reply of event/update_event_ranges as the server intends it (§2.7). */
export interface EventRangeUpdateReply {
  Returns?: unknown[];
  Commands?: Record<string, string>;
  [key: string]: unknown;
}

/** The PanDA calls the workflows' activities make. All methods reject with PandaError on failure. */
export interface PandaCommunicator {
  /** The harvester_id sent with every call that needs one. */
  readonly harvesterId: string;
  /** `GET system/is_alive`: the server answers at all (no auth needed). */
  checkPanda(call?: CallOptions): Promise<void>;
  /**
   * `POST harvester/heartbeat`: instance liveness. Note: for a never-seen harvester_id the server
   * registers the instance but answers success:false ("database error"), so the first call rejects
   * with a retryable `rejected` error and the next one succeeds.
   */
  heartbeat(data?: HarvesterHeartbeatData, call?: CallOptions): Promise<void>;
  /** `POST pilot/acquire_jobs`: jobs for a queue; [] when PanDA has none. Jobs come back `sent`. */
  acquireJobs(req: AcquireJobsRequest, call?: CallOptions): Promise<PandaJobDescription[]>;
  /**
   * `POST pilot/update_jobs_bulk`: job heartbeats, split into calls of ≤100 in input order; results
   * are in input order. If a chunk fails, later chunks are not sent and the PandaError carries
   * `completedCount`/`partialResults` of the chunks that went through.
   */
  updateJobs(updates: readonly JobUpdate[], call?: CallOptions): Promise<JobUpdateResult[]>;
  /** `GET job/get_status`: status + command per PandaID (≤100 ids per call), input order. */
  checkJobs(pandaIds: readonly number[], call?: CallOptions): Promise<JobStatusResult[]>;
  /** `POST harvester/update_workers`: upsert worker rows (≤100 per call); one boolean per worker. */
  updateWorkers(workers: readonly WorkerUpdate[], call?: CallOptions): Promise<boolean[]>;
  /** `POST harvester/report_worker_statistics`: replaces this instance's counts for one queue. */
  reportWorkerStatistics(pandaQueue: string, stats: WorkerStatistics, call?: CallOptions): Promise<void>;
  /** `GET harvester/get_worker_statistics`: counts of all instances, updated in the last 4 h. */
  getWorkerStatistics(call?: CallOptions): Promise<PandaWorkerStatistics>;
  /** `POST harvester/acquire_commands`: oldest new commands (now `retrieved`; never redelivered). */
  acquireCommands(nCommands?: number, call?: CallOptions): Promise<PandaCommand[]>;
  /** `POST harvester/acknowledge_commands`. An empty list makes no call. */
  acknowledgeCommands(commandIds: readonly number[], call?: CallOptions): Promise<void>;
  /** `POST harvester/update_service_metrics`. */
  updateServiceMetrics(metrics: readonly ServiceMetric[], call?: CallOptions): Promise<void>;
  /** `POST harvester/add_dialogs`: operator-visible messages. */
  addDialogs(dialogs: readonly HarvesterDialog[], call?: CallOptions): Promise<void>;
  /** `GET harvester/get_current_worker_id`: highest workerID PanDA knows for this instance. */
  getCurrentWorkerId(call?: CallOptions): Promise<number>;
  /** `POST event/acquire_event_ranges` (server shape: a bare list; the legacy wrapped shape is accepted). */
  acquireEventRanges(req: AcquireEventRangesRequest, call?: CallOptions): Promise<EventRange[]>;
  /** `POST event/update_event_ranges`: groups of range updates, sent as a JSON string. */
  updateEventRanges(
    groups: readonly { eventRanges: readonly EventRangeUpdate[] }[],
    call?: CallOptions,
  ): Promise<EventRangeUpdateReply>;
  /** `GET event/get_available_event_range_count`. */
  getAvailableEventRangeCount(
    jobId: number,
    jobsetId: number,
    taskId?: number,
    call?: CallOptions,
  ): Promise<number>;
  /** `GET metaconfig/get_resource_types`. */
  getResourceTypes(call?: CallOptions): Promise<ResourceType[]>;
  /** `GET statistics/active_job_stats_by_site`: {queue: {jobStatus: n}}. */
  getJobStatistics(call?: CallOptions): Promise<Record<string, Record<string, number>>>;
}

export interface PandaClientOptions {
  /** e.g. `https://pandaserver.cern.ch:25443/api/v1` (Harvester: `server_api_url_ssl`). */
  baseUrl: string;
  harvesterId: string;
  auth?: AuthOptions;
  /** Default deadline per call, default 180 000 ms like Harvester's `timeout = 180`. */
  timeoutMs?: number;
  endpointTimeoutsMs?: Partial<Record<PandaEndpoint, number>>;
  /** Gzip POST bodies from this size on (default 8 KiB; set Infinity to never gzip). */
  gzipMinBytes?: number;
  /** Default true. Only tests against a self-signed simulator turn it off. */
  rejectUnauthorized?: boolean;
  logger?: PandaLogger;
  /** Chunk size for bulk calls; capped at 100 (the server's limit). */
  bulkSize?: number;
  maxResponseBytes?: number;
  userAgent?: string;
}

/** Server messages that are authorisation failures, not bad requests. */
const AUTH_MESSAGES = [
  /SSL secure connection is required/i,
  /production or pilot role required/i,
  /Token authentication failed/i,
  /no production\/pilot role/i,
];

const NO_JOBS_MESSAGE = /no jobs in panda/i;

export function createPandaClient(opts: PandaClientOptions): PandaCommunicator {
  return new HttpPandaClient(opts);
}

class HttpPandaClient implements PandaCommunicator {
  readonly harvesterId: string;
  private readonly transport: PandaTransport;
  private readonly bulkSize: number;

  constructor(opts: PandaClientOptions) {
    if (!opts.harvesterId) throw new Error('PanDA client: harvesterId is required');
    const url = new URL(opts.baseUrl); // throws early on a typo in the configuration
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new Error(`PanDA client: baseUrl must be http(s), got ${url.protocol}`);
    }
    const redactor = new Redactor();
    this.harvesterId = opts.harvesterId;
    this.bulkSize = Math.max(1, Math.min(MAX_BULK, opts.bulkSize ?? MAX_BULK));
    this.transport = new PandaTransport({
      baseUrl: opts.baseUrl,
      auth: new AuthProvider(opts.auth ?? {}, redactor),
      redactor,
      timeoutMs: opts.timeoutMs ?? 180_000,
      endpointTimeoutsMs: opts.endpointTimeoutsMs ?? {},
      gzipMinBytes: opts.gzipMinBytes ?? 8192,
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
      userAgent: opts.userAgent ?? 'temporal-harvester',
      logger: opts.logger,
      maxResponseBytes: opts.maxResponseBytes ?? 64 * 1024 * 1024,
    });
  }

  async checkPanda(call?: CallOptions): Promise<void> {
    await this.get('system/is_alive', {}, call);
  }

  async heartbeat(data: HarvesterHeartbeatData = {}, call?: CallOptions): Promise<void> {
    await this.post('harvester/heartbeat', { harvester_id: this.harvesterId, data }, call);
  }

  async acquireJobs(req: AcquireJobsRequest, call?: CallOptions): Promise<PandaJobDescription[]> {
    const endpoint: PandaEndpoint = 'pilot/acquire_jobs';
    const body = { scheduler_id: `harvester-${this.harvesterId}`, ...req };
    const env = await this.transport.exchange({ endpoint, method: 'POST', body }, call);
    if (!env.success && NO_JOBS_MESSAGE.test(env.message)) return [];
    const data = expectSuccess(endpoint, env);
    if (!isRecord(data) || !Array.isArray(data.jobs)) {
      throw malformed(endpoint, 'data.jobs is not a list');
    }
    if (typeof data.StatusCode === 'number' && data.StatusCode !== 0) {
      throw rejected(endpoint, `StatusCode ${data.StatusCode}`, data.StatusCode);
    }
    return data.jobs.map((job, i) => {
      if (!isRecord(job) || typeof job.PandaID !== 'number' || typeof job.attemptNr !== 'number') {
        throw malformed(endpoint, `job #${i} lacks a numeric PandaID/attemptNr`);
      }
      return job as PandaJobDescription;
    });
  }

  async updateJobs(updates: readonly JobUpdate[], call?: CallOptions): Promise<JobUpdateResult[]> {
    const endpoint: PandaEndpoint = 'pilot/update_jobs_bulk';
    return this.inChunks(updates, async (chunk) => {
      const data = await this.post(endpoint, { harvester_id: this.harvesterId, job_list: chunk }, call);
      if (!Array.isArray(data) || data.length !== chunk.length) {
        throw malformed(endpoint, `expected ${chunk.length} per-job results`);
      }
      return data.map((item, i) => toJobUpdateResult(endpoint, chunk[i].job_id, item));
    });
  }

  async checkJobs(pandaIds: readonly number[], call?: CallOptions): Promise<JobStatusResult[]> {
    const endpoint: PandaEndpoint = 'job/get_status';
    return this.inChunks(pandaIds, async (chunk) => {
      const data = await this.get(endpoint, { job_ids: chunk }, call);
      if (!Array.isArray(data) || data.length !== chunk.length) {
        throw malformed(endpoint, `expected ${chunk.length} job statuses`);
      }
      return data.map((item, i) => {
        if (!isRecord(item) || typeof item.status !== 'string') {
          throw malformed(endpoint, `status #${i} is not {status, command}`);
        }
        const it = item as unknown as JobStatusReplyItem;
        const command = normaliseCommand(it.command);
        return {
          PandaID: chunk[i],
          status: it.status,
          command,
          killRequested: splitCommand(command).includes('tobekilled'),
        };
      });
    });
  }

  async updateWorkers(workers: readonly WorkerUpdate[], call?: CallOptions): Promise<boolean[]> {
    const endpoint: PandaEndpoint = 'harvester/update_workers';
    return this.inChunks(workers, async (chunk) => {
      const data = await this.post(endpoint, { harvester_id: this.harvesterId, workers: chunk }, call);
      if (!Array.isArray(data) || data.length !== chunk.length || data.some((x) => typeof x !== 'boolean')) {
        throw malformed(endpoint, `expected ${chunk.length} booleans`);
      }
      return data as boolean[];
    });
  }

  async reportWorkerStatistics(
    pandaQueue: string,
    stats: WorkerStatistics,
    call?: CallOptions,
  ): Promise<void> {
    await this.post(
      'harvester/report_worker_statistics',
      // The server expects the statistics as a JSON *string*, not an object.
      { harvester_id: this.harvesterId, panda_queue: pandaQueue, statistics: JSON.stringify(stats) },
      call,
    );
  }

  async getWorkerStatistics(call?: CallOptions): Promise<PandaWorkerStatistics> {
    const endpoint: PandaEndpoint = 'harvester/get_worker_statistics';
    const data = await this.get(endpoint, {}, call);
    if (!isRecord(data)) throw malformed(endpoint, 'data is not an object');
    return data as PandaWorkerStatistics;
  }

  async acquireCommands(nCommands = 20, call?: CallOptions): Promise<PandaCommand[]> {
    const endpoint: PandaEndpoint = 'harvester/acquire_commands';
    const data = await this.post(endpoint, { harvester_id: this.harvesterId, n_commands: nCommands }, call);
    if (data === null) return [];
    if (!Array.isArray(data)) throw malformed(endpoint, 'data is not a list');
    return data.map((c, i) => {
      if (!isRecord(c) || typeof c.command_id !== 'number' || typeof c.command !== 'string') {
        throw malformed(endpoint, `command #${i} lacks command_id/command`);
      }
      return c as unknown as PandaCommand;
    });
  }

  async acknowledgeCommands(commandIds: readonly number[], call?: CallOptions): Promise<void> {
    if (commandIds.length === 0) return;
    await this.post('harvester/acknowledge_commands', { command_ids: [...commandIds] }, call);
  }

  async updateServiceMetrics(metrics: readonly ServiceMetric[], call?: CallOptions): Promise<void> {
    if (metrics.length === 0) return;
    const rows = metrics.map((m) => [formatPandaTimeMicro(m.time), m.host, JSON.stringify(m.metrics)]);
    await this.post(
      'harvester/update_service_metrics',
      { harvester_id: this.harvesterId, metrics: rows },
      call,
    );
  }

  async addDialogs(dialogs: readonly HarvesterDialog[], call?: CallOptions): Promise<void> {
    if (dialogs.length === 0) return;
    await this.post('harvester/add_dialogs', { harvester_id: this.harvesterId, dialogs: [...dialogs] }, call);
  }

  async getCurrentWorkerId(call?: CallOptions): Promise<number> {
    const endpoint: PandaEndpoint = 'harvester/get_current_worker_id';
    const data = await this.get(endpoint, { harvester_id: this.harvesterId }, call);
    if (typeof data !== 'number' || !Number.isInteger(data))
      throw malformed(endpoint, 'data is not an integer');
    return data;
  }

  async acquireEventRanges(req: AcquireEventRangesRequest, call?: CallOptions): Promise<EventRange[]> {
    const endpoint: PandaEndpoint = 'event/acquire_event_ranges';
    const data = await this.post(endpoint, { ...req }, call);
    // v1 returns a bare list; the legacy server wrapped it in {StatusCode, eventRanges}.
    const list = Array.isArray(data) ? data : isRecord(data) ? data.eventRanges : undefined;
    if (!Array.isArray(list)) throw malformed(endpoint, 'no list of event ranges');
    return list as EventRange[];
  }

  async updateEventRanges(
    groups: readonly { eventRanges: readonly EventRangeUpdate[] }[],
    call?: CallOptions,
  ): Promise<EventRangeUpdateReply> {
    const endpoint: PandaEndpoint = 'event/update_event_ranges';
    const data = await this.post(endpoint, { event_ranges: JSON.stringify(groups), version: 1 }, call);
    if (!isRecord(data)) throw malformed(endpoint, 'data is not an object');
    return data as EventRangeUpdateReply;
  }

  async getAvailableEventRangeCount(
    jobId: number,
    jobsetId: number,
    taskId?: number,
    call?: CallOptions,
  ): Promise<number> {
    const endpoint: PandaEndpoint = 'event/get_available_event_range_count';
    const data = await this.get(endpoint, { job_id: jobId, jobset_id: jobsetId, task_id: taskId }, call);
    if (typeof data !== 'number') throw malformed(endpoint, 'data is not a number');
    return data;
  }

  async getResourceTypes(call?: CallOptions): Promise<ResourceType[]> {
    const endpoint: PandaEndpoint = 'metaconfig/get_resource_types';
    const data = await this.get(endpoint, {}, call);
    if (!Array.isArray(data)) throw malformed(endpoint, 'data is not a list');
    return data as ResourceType[];
  }

  async getJobStatistics(call?: CallOptions): Promise<Record<string, Record<string, number>>> {
    const endpoint: PandaEndpoint = 'statistics/active_job_stats_by_site';
    const data = await this.get(endpoint, {}, call);
    if (!isRecord(data)) throw malformed(endpoint, 'data is not an object');
    return data as Record<string, Record<string, number>>;
  }

  // ------------------------------------------------------------------ helpers

  private async post(
    endpoint: PandaEndpoint,
    body: Record<string, unknown>,
    call?: CallOptions,
  ): Promise<unknown> {
    return expectSuccess(endpoint, await this.transport.exchange({ endpoint, method: 'POST', body }, call));
  }

  private async get(
    endpoint: PandaEndpoint,
    query: Record<string, QueryValue | undefined>,
    call?: CallOptions,
  ): Promise<unknown> {
    return expectSuccess(endpoint, await this.transport.exchange({ endpoint, method: 'GET', query }, call));
  }

  /**
   * Runs `fn` on consecutive chunks, one after the other (order matters for heartbeats of the same
   * job). Stops at the first failure and reports what already went through.
   */
  private async inChunks<T, R>(items: readonly T[], fn: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
    const out: R[] = [];
    for (let i = 0; i < items.length; i += this.bulkSize) {
      const chunk = items.slice(i, i + this.bulkSize);
      try {
        out.push(...(await fn(chunk)));
      } catch (err) {
        if (err instanceof PandaError) throw err.withProgress(i, out);
        throw err;
      }
    }
    return out;
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * A call the transport delivered but this client refuses (success:false, unusable data): counted
 * here, the transport having counted only the failures it saw itself. Each is thrown once.
 */
function refusedCall(err: PandaError): PandaError {
  harvesterMetrics.pandaCallError(err.endpoint, err.kind);
  return err;
}

function malformed(endpoint: string, what: string): PandaError {
  return refusedCall(
    new PandaError({
      kind: 'malformed',
      endpoint,
      message: `PanDA ${endpoint}: malformed reply: ${what}`,
    }),
  );
}

function rejected(endpoint: string, message: string, statusCode?: number): PandaError {
  return refusedCall(
    new PandaError({
      kind: 'rejected',
      endpoint,
      serverMessage: message,
      statusCode,
      message: `PanDA ${endpoint}: rejected: ${message || '(no message)'}`,
    }),
  );
}

/** Returns `data` of a success envelope; a success:false envelope becomes an auth or rejected error. */
function expectSuccess(endpoint: string, env: PandaEnvelope): unknown {
  if (env.success) return env.data;
  if (AUTH_MESSAGES.some((re) => re.test(env.message))) {
    throw refusedCall(
      new PandaError({
        kind: 'auth',
        endpoint,
        serverMessage: env.message,
        message: `PanDA ${endpoint}: not authorised: ${env.message}`,
      }),
    );
  }
  // get_status and others put a pilot-protocol code in data.code on failure.
  const code = isRecord(env.data) && typeof env.data.code === 'number' ? env.data.code : undefined;
  throw rejected(endpoint, env.message, code);
}

function normaliseCommand(command: unknown): string | null {
  if (typeof command !== 'string' || command === '' || command === 'NULL') return null;
  return command;
}

function splitCommand(command: string | null): string[] {
  if (!command) return [];
  return command
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'NULL');
}

function toJobUpdateResult(endpoint: string, pandaId: number, item: unknown): JobUpdateResult {
  if (!isRecord(item) || typeof item.success !== 'boolean') {
    throw malformed(endpoint, `per-job result for ${pandaId} is not an envelope`);
  }
  const it = item as unknown as JobUpdateReplyItem;
  const data = isRecord(it.data) ? it.data : null;
  const command = normaliseCommand(data?.command);
  const commands = splitCommand(command);
  const result: JobUpdateResult = {
    PandaID: pandaId,
    success: it.success,
    message: typeof it.message === 'string' ? it.message : '',
    statusCode: typeof data?.StatusCode === 'number' ? data.StatusCode : null,
    command,
    commands,
    killRequested: commands.includes('tobekilled'),
  };
  if (data && data.pilotSecrets !== undefined) result.pilotSecrets = data.pilotSecrets;
  return result;
}
