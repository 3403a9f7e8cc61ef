/**
 * The simulator's PanDA: queues, jobs, workers, commands, instances, and the rules the real server
 * applies to them (panda-api.md §2–§4, §7). Pure state + rules, no HTTP, so tests can also drive it
 * directly. Daemon behaviour (Adder, Watcher timeouts, worker synchronisation) runs lazily in
 * `runDaemons()`, which the server calls before every request: with an injected clock a test
 * advances time and the next call sees the consequences, exactly as a client would.
 */
import { HOUR, isoSeconds, MINUTE, pandaTime, type SimClock } from './clock';
import { argumentError, UPDATE_JOB_PARAMS } from './signatures';

// ------------------------------------------------------------------ records

export type SimJobStatus =
  | 'activated'
  | 'sent'
  | 'starting'
  | 'running'
  | 'holding'
  | 'transferring'
  | 'merging'
  | 'finished'
  | 'failed'
  | 'cancelled'
  | 'closed';

const FINAL_JOB_STATES: ReadonlySet<SimJobStatus> = new Set(['finished', 'failed', 'cancelled', 'closed']);
const ALLOWED_REPORTED = new Set(['running', 'failed', 'finished', 'holding', 'starting', 'transferring']);
const FINAL_WORKER_STATES = new Set(['finished', 'failed', 'cancelled', 'missed']);

export interface SimQueue {
  name: string;
  /** `test` rewrites user/managed/unified labels to `test` on acquire. */
  status: 'online' | 'test' | 'offline' | 'brokeroff';
  /** The queue's official harvester instance (gets SET_N_WORKERS commands). */
  harvesterId?: string;
}

export interface SimJob {
  PandaID: number;
  taskID: number | 'NULL';
  jobsetID: number | 'NULL';
  attemptNr: number;
  computingSite: string;
  prodSourceLabel: string;
  currentPriority: number;
  coreCount: number;
  resourceType: string;
  jobType: string;
  status: SimJobStatus;
  subStatus: string | null;
  /** commandToPilot: set by job/kill or job/set_command; "" when none. */
  commandToPilot: string;
  debugMode: boolean;
  modificationTime: number;
  stateChangeTime: number;
  creationTime: number;
  startTime: number | null;
  endTime: number | null;
  batchID: string | null;
  schedulerID: string | null;
  modificationHost: string | null;
  computingElement: string | null;
  /** Output LFNs the Adder expects in the job output report (log included). */
  outFiles: string[];
  /** Status reported in the final heartbeat, waiting for the Adder while `holding`. */
  pendingFinalStatus: 'finished' | 'failed' | null;
  outputReport: Record<string, unknown> | null;
  metaData: string | null;
  jobDispatcherErrorCode: number | null;
  jobDispatcherErrorDiag: string | null;
  taskBufferErrorCode: number | null;
  supErrorCode: number | null;
  supErrorDiag: string | null;
  ddmErrorDiag: string | null;
  /** Job/pilot attributes from the latest heartbeat (snake_case as sent). */
  attributes: Record<string, unknown>;
  /** When the job left the active tables (final); get_status forgets it an hour later. */
  archivedAt: number | null;
  killCode: number | null;
  /** Extra fields handed out with the job description. */
  params: Record<string, unknown>;
}

export interface SimWorker {
  harvesterID: string;
  workerID: number;
  status: string;
  computingSite: string | null;
  batchID: string | null;
  fields: Record<string, unknown>;
  pandaIDs: number[];
  lastUpdate: number;
  pilotStatus: 'running' | 'finished' | null;
  pilotStartTime: number | null;
  pilotEndTime: number | null;
  pilotStatusSyncTime: number | null;
}

export interface SimCommand {
  command_id: number;
  harvester_id: string;
  command: string;
  params: unknown;
  ack_requested: 0 | 1;
  creation_date: number;
  status: 'new' | 'retrieved' | 'acknowledged';
  status_date: number;
}

export interface SimInstance {
  harvester_id: string;
  owner: string;
  startTime: string | null;
  sw_version: string | null;
  commit_stamp: string | null;
  firstSeen: number;
  lastUpdate: number;
}

export interface SimCommandLock {
  harvester_id: string;
  command: string;
  computingSite: string;
  resourceType: string;
  lockedTime: number | null;
}

/** One job dict received in a heartbeat, and what the simulator answered. */
export interface JobUpdateRecord {
  seq: number;
  at: number;
  harvesterId: string | null;
  PandaID: unknown;
  request: Record<string, unknown>;
  reply: PerJobReply;
}

export interface WorkerUpdateRecord {
  seq: number;
  at: number;
  harvesterId: string;
  request: Record<string, unknown>;
  storedStatus: string;
}

export interface HeartbeatRecord {
  seq: number;
  at: number;
  harvesterId: string;
  data: Record<string, unknown>;
  success: boolean;
}

export interface PerJobReply {
  success: boolean;
  message: string;
  data: { StatusCode: number; command?: string } | null;
}

export interface JobFault {
  statusCode?: number;
  message?: string;
  command?: string;
  remaining: number;
}

export interface SimTimers {
  /** Running/starting without heartbeat → failed (code 100). Production default 2 h. */
  heartbeatTimeoutMs: number;
  /** `sent` without any update → failed (code 102). 30 min. */
  sentTimeoutMs: number;
  /** `holding` too long → failed (code 103). 48 h. */
  holdingTimeoutMs: number;
  /** How often the Watcher (copyArchive) looks. 40 min. */
  watcherPeriodMs: number;
  /** holding → final by the Adder after this long (real cycle: 240 s; default 0 for quick tests). */
  adderDelayMs: number;
  /** Pilot finished/running that long before harvester agrees → SYNC_WORKERS_KILL/ACTIVATE. 60 min. */
  stuckPilotAfterMs: number;
  /** A worker is re-examined by the sync daemon at most this often. 30 min. */
  workerSyncRecheckMs: number;
  /** A final worker status updated less than this ago is not overwritten. 3 h. */
  finalWorkerStickyMs: number;
  /** get_status still knows archived jobs modified within this. 1 h. */
  archivedVisibleMs: number;
  /** get_worker_statistics returns rows updated within this. 4 h. */
  workerStatsWindowMs: number;
}

export const DEFAULT_TIMERS: SimTimers = {
  heartbeatTimeoutMs: 2 * HOUR,
  sentTimeoutMs: 30 * MINUTE,
  holdingTimeoutMs: 48 * HOUR,
  watcherPeriodMs: 40 * MINUTE,
  adderDelayMs: 0,
  stuckPilotAfterMs: 60 * MINUTE,
  workerSyncRecheckMs: 30 * MINUTE,
  finalWorkerStickyMs: 3 * HOUR,
  archivedVisibleMs: HOUR,
  workerStatsWindowMs: 4 * HOUR,
};

export const DB_ERROR = 'database error in the PanDA server';

export interface NewJob {
  PandaID?: number;
  computingSite: string;
  taskID?: number | 'NULL';
  jobsetID?: number | 'NULL';
  attemptNr?: number;
  prodSourceLabel?: string;
  currentPriority?: number;
  coreCount?: number;
  resourceType?: string;
  jobType?: string;
  outFiles?: string[];
  debugMode?: boolean;
  /** Extra fields for the job description (transformation, jobPars, inFiles...). */
  params?: Record<string, unknown>;
}

/** Outcome of a handler: an envelope to send. */
export interface Envelope {
  success: boolean;
  message: string;
  data: unknown;
}

const ok = (data: unknown = null, message = ''): Envelope => ({ success: true, message, data });
const fail = (message: string, data: unknown = null): Envelope => ({ success: false, message, data });

// ------------------------------------------------------------------ state

export class SimState {
  readonly queues = new Map<string, SimQueue>();
  readonly jobs = new Map<number, SimJob>();
  readonly workers = new Map<string, SimWorker>();
  readonly commands: SimCommand[] = [];
  readonly commandLocks: SimCommandLock[] = [];
  readonly instances = new Map<string, SimInstance>();
  readonly instanceConfigs = new Map<string, unknown>();
  readonly workerStats = new Map<
    string,
    { harvesterId: string; queue: string; stats: unknown; at: number }
  >();
  readonly serviceMetrics: { at: number; harvesterId: string; metrics: unknown[] }[] = [];
  readonly dialogs: { at: number; harvesterId: string; dialog: unknown }[] = [];
  readonly eventRanges = new Map<number, Record<string, unknown>[]>();
  readonly resourceTypes: Record<string, unknown>[] = [
    { resource_name: 'SCORE', mincore: null, maxcore: 1, minrampercore: null, maxrampercore: null },
    { resource_name: 'MCORE', mincore: 2, maxcore: null, minrampercore: null, maxrampercore: null },
  ];
  /** Every per-job heartbeat received, in arrival order. */
  readonly jobUpdates: JobUpdateRecord[] = [];
  readonly workerUpdates: WorkerUpdateRecord[] = [];
  readonly heartbeats: HeartbeatRecord[] = [];
  readonly jobFaults = new Map<number, JobFault>();
  /** Watcher actions taken, for tests to see why a job failed. */
  readonly watcherLog: { at: number; PandaID: number; code: number; diag: string }[] = [];

  private nextPandaId = 6_400_000_001;
  private nextCommandId = 1;
  private seq = 0;
  private lastWatcherRun: number;

  constructor(
    readonly clock: SimClock,
    readonly timers: SimTimers,
  ) {
    this.lastWatcherRun = clock.now();
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  // ---------------------------------------------------------------- operator controls

  addQueue(name: string, opts: Partial<Omit<SimQueue, 'name'>> = {}): SimQueue {
    const q: SimQueue = { name, status: opts.status ?? 'online', harvesterId: opts.harvesterId };
    this.queues.set(name, q);
    return q;
  }

  /** Submits a job straight into `activated` (what JEDI + setupper would do). */
  addJob(spec: NewJob): SimJob {
    const now = this.clock.now();
    if (!this.queues.has(spec.computingSite)) this.addQueue(spec.computingSite);
    const PandaID = spec.PandaID ?? this.nextPandaId;
    if (this.jobs.has(PandaID)) throw new Error(`job ${PandaID} already exists`);
    this.nextPandaId = Math.max(this.nextPandaId, PandaID + 1);
    const job: SimJob = {
      PandaID,
      taskID: spec.taskID ?? 4211,
      jobsetID: spec.jobsetID ?? 17,
      attemptNr: spec.attemptNr ?? 1,
      computingSite: spec.computingSite,
      prodSourceLabel: spec.prodSourceLabel ?? 'managed',
      currentPriority: spec.currentPriority ?? 900,
      coreCount: spec.coreCount ?? 1,
      resourceType: spec.resourceType ?? ((spec.coreCount ?? 1) > 1 ? 'MCORE' : 'SCORE'),
      jobType: spec.jobType ?? 'managed',
      status: 'activated',
      subStatus: null,
      commandToPilot: '',
      debugMode: spec.debugMode ?? false,
      modificationTime: now,
      stateChangeTime: now,
      creationTime: now,
      startTime: null,
      endTime: null,
      batchID: null,
      schedulerID: null,
      modificationHost: null,
      computingElement: null,
      outFiles: spec.outFiles ?? [`out.${PandaID}.root`, `log.${PandaID}.tgz`],
      pendingFinalStatus: null,
      outputReport: null,
      metaData: null,
      jobDispatcherErrorCode: null,
      jobDispatcherErrorDiag: null,
      taskBufferErrorCode: null,
      supErrorCode: null,
      supErrorDiag: null,
      ddmErrorDiag: null,
      attributes: {},
      archivedAt: null,
      killCode: null,
      params: spec.params ?? {},
    };
    this.jobs.set(PandaID, job);
    return job;
  }

  addJobs(n: number, template: NewJob): SimJob[] {
    return Array.from({ length: n }, () => this.addJob({ ...template, PandaID: undefined }));
  }

  /**
   * Queues a harvester command. Like the real table, an existing row with the same
   * (harvester_id, command) is deleted first, so at most one pending command per name.
   */
  addCommand(harvesterId: string, command: string, params: unknown = null, ackRequested = false): SimCommand {
    const now = this.clock.now();
    for (let i = this.commands.length - 1; i >= 0; i--) {
      const c = this.commands[i];
      if (c.harvester_id === harvesterId && c.command === command) this.commands.splice(i, 1);
    }
    const cmd: SimCommand = {
      command_id: this.nextCommandId++,
      harvester_id: harvesterId,
      command,
      params,
      ack_requested: ackRequested ? 1 : 0,
      creation_date: now,
      status: 'new',
      status_date: now,
    };
    this.commands.push(cmd);
    return cmd;
  }

  /** job/kill: not-yet-running jobs are archived as cancelled; running ones get `tobekilled`. */
  killJobs(ids: number[], code = 3): boolean[] {
    const now = this.clock.now();
    return ids.map((id) => {
      const job = this.jobs.get(id);
      if (!job || FINAL_JOB_STATES.has(job.status)) return false;
      job.killCode = code;
      job.commandToPilot = 'tobekilled';
      job.modificationTime = now;
      if (job.status === 'activated') {
        const closed = [2, 4, 10, 51, 55, 60].includes(code);
        this.archive(job, closed ? 'closed' : 'cancelled');
      }
      return true;
    });
  }

  setJobCommand(id: number, command: string): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    job.commandToPilot = command;
    return true;
  }

  /** The job is retried elsewhere: heartbeats with the old attemptNr now get `tobekilled`. */
  bumpAttemptNr(id: number): number {
    const job = this.mustJob(id);
    job.attemptNr += 1;
    return job.attemptNr;
  }

  /** The job vanishes into the archive with the given final state. */
  archiveJob(id: number, status: 'finished' | 'failed' | 'cancelled' | 'closed' = 'cancelled'): void {
    this.archive(this.mustJob(id), status);
  }

  injectJobFault(id: number, fault: Omit<JobFault, 'remaining'>, count = 1): void {
    this.jobFaults.set(id, { ...fault, remaining: count });
  }

  setInstanceConfig(harvesterId: string, config: unknown): void {
    this.instanceConfigs.set(harvesterId, config);
  }

  addEventRanges(pandaId: number, ranges: Record<string, unknown>[]): void {
    const list = this.eventRanges.get(pandaId) ?? [];
    list.push(...ranges.map((r) => ({ ...r, status: 'ready' })));
    this.eventRanges.set(pandaId, list);
  }

  // ---------------------------------------------------------------- daemons

  /** Adder on every pass; Watcher and worker sync when their period has elapsed (or when forced). */
  runDaemons(force = false): void {
    const now = this.clock.now();
    this.runAdder(now);
    if (force || now - this.lastWatcherRun >= this.timers.watcherPeriodMs) {
      this.lastWatcherRun = now;
      this.runWatcher(now);
      this.runWorkerSync(now);
    }
  }

  private runAdder(now: number): void {
    for (const job of this.jobs.values()) {
      if (job.status !== 'holding' || job.pendingFinalStatus === null) continue;
      if (now - job.stateChangeTime < this.timers.adderDelayMs) continue;
      let final: SimJobStatus = job.pendingFinalStatus;
      if (final === 'finished') {
        const report = job.outputReport ?? {};
        const missing = job.outFiles.filter((lfn) => {
          const entry = report[lfn] as Record<string, unknown> | undefined;
          return (
            !entry || entry.fsize === undefined || (entry.adler32 === undefined && entry.md5sum === undefined)
          );
        });
        if (missing.length > 0) {
          final = 'failed';
          job.ddmErrorDiag = `Could not get GUID/LFN/MD5/FSIZE/SURL from pilot JSON for ${missing.join(',')}`;
        }
      }
      this.archive(job, final);
    }
  }

  private runWatcher(now: number): void {
    for (const job of this.jobs.values()) {
      const age = now - job.modificationTime;
      if (['running', 'starting'].includes(job.status) && age > this.timers.heartbeatTimeoutMs) {
        this.failByWatcher(
          job,
          100,
          `lost heartbeat : ${pandaTime(job.modificationTime)}`,
          job.modificationTime,
        );
      } else if (job.status === 'sent' && age > this.timers.sentTimeoutMs) {
        this.failByWatcher(job, 102, "Sent job didn't receive reply from pilot within 30 min", now);
      } else if (job.status === 'holding' && age > this.timers.holdingTimeoutMs) {
        this.failByWatcher(job, 103, 'holding timeout', now);
      }
    }
  }

  private failByWatcher(job: SimJob, code: number, diag: string, endTime: number): void {
    job.jobDispatcherErrorCode = code;
    job.jobDispatcherErrorDiag = diag;
    job.endTime = endTime;
    this.watcherLog.push({ at: this.clock.now(), PandaID: job.PandaID, code, diag });
    this.archive(job, 'failed');
  }

  /** worker_synchronization: pilots that finished (or started) long ago while harvester disagrees. */
  private runWorkerSync(now: number): void {
    const toKill = new Map<string, number[]>();
    const toActivate = new Map<string, number[]>();
    for (const w of this.workers.values()) {
      if (w.pilotStatusSyncTime !== null && now - w.pilotStatusSyncTime < this.timers.workerSyncRecheckMs)
        continue;
      const kill =
        ['submitted', 'ready', 'running', 'idle'].includes(w.status) &&
        w.pilotStatus === 'finished' &&
        w.pilotEndTime !== null &&
        now - w.pilotEndTime > this.timers.stuckPilotAfterMs;
      const activate =
        ['submitted', 'ready'].includes(w.status) &&
        w.pilotStatus === 'running' &&
        w.pilotStartTime !== null &&
        now - w.pilotStartTime > this.timers.stuckPilotAfterMs;
      if (!kill && !activate) continue;
      w.pilotStatusSyncTime = now;
      const target = kill ? toKill : toActivate;
      const list = target.get(w.harvesterID) ?? [];
      list.push(w.workerID);
      target.set(w.harvesterID, list);
    }
    for (const [name, target] of [
      ['SYNC_WORKERS_KILL', toKill],
      ['SYNC_WORKERS_ACTIVATE', toActivate],
    ] as const) {
      for (const [hid, ids] of target) {
        // Shards of 100, each replacing the previous one: only the last shard survives, as on the server.
        for (let i = 0; i < ids.length; i += 100) this.addCommand(hid, name, ids.slice(i, i + 100));
      }
    }
  }

  private archive(job: SimJob, status: SimJobStatus): void {
    const now = this.clock.now();
    job.status = status;
    job.pendingFinalStatus = null;
    job.stateChangeTime = now;
    job.modificationTime = now;
    job.endTime ??= now;
    job.archivedAt = now;
  }

  private mustJob(id: number): SimJob {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    return job;
  }

  // ---------------------------------------------------------------- API handlers

  acquireJobs(args: Record<string, unknown>, role: { production: boolean }): Envelope {
    const now = this.clock.now();
    const label = (args.prod_source_label as string | undefined) ?? 'managed';
    if (!role.production && label !== 'user') {
      return fail('no production/pilot role in VOMS FQANs or non pilot owner');
    }
    const site = args.site_name as string;
    const queue = this.queues.get(site);
    const nJobs = (args.n_jobs as number | undefined) ?? 1;
    const rt = args.resource_type as string | undefined;
    const candidates = [...this.jobs.values()]
      .filter(
        (j) =>
          j.status === 'activated' &&
          j.computingSite === site &&
          (label === 'unified' ||
            label === j.prodSourceLabel ||
            (queue?.status === 'test' && label === 'test')) &&
          (rt === undefined || rt === j.resourceType),
      )
      .sort((a, b) => b.currentPriority - a.currentPriority || a.PandaID - b.PandaID)
      .slice(0, Math.max(0, nJobs));
    if (candidates.length === 0 || queue?.status === 'offline') return fail('No jobs in PanDA');
    const jobs = candidates.map((job) => {
      job.status = 'sent';
      job.modificationTime = now;
      job.stateChangeTime = now;
      job.startTime = now;
      job.modificationHost = (args.node as string | undefined) ?? null;
      job.computingElement = (args.computing_element as string | undefined) ?? null;
      job.schedulerID = (args.scheduler_id as string | undefined) ?? null;
      return this.describeJob(job, queue);
    });
    return ok({ StatusCode: 0, jobs });
  }

  /** The job dict of panda-api.md §2.1. */
  private describeJob(job: SimJob, queue: SimQueue | undefined): Record<string, unknown> {
    let label = job.prodSourceLabel;
    if (queue?.status === 'test' && ['user', 'managed', 'unified'].includes(label)) label = 'test';
    const outs = job.outFiles;
    return {
      transformation: 'Sim_tf.py',
      jobPars: '--maxEvents 10',
      jobName: `sim.${job.PandaID}`,
      jobDefinitionID: 0,
      maxDiskCount: 0,
      maxCpuCount: 0,
      maxWalltime: 86400,
      minRamCount: 2000 * job.coreCount,
      inFiles: '',
      GUID: '',
      fsize: '',
      checksum: '',
      scopeIn: '',
      outFiles: outs.join(','),
      logFile: outs[outs.length - 1] ?? '',
      logGUID: `guid-log-${job.PandaID}`,
      scopeOut: 'mc23',
      scopeLog: 'mc23',
      nSent: 0,
      ...job.params,
      StatusCode: 0,
      PandaID: job.PandaID,
      taskID: job.taskID,
      attemptNr: job.attemptNr,
      jobsetID: job.jobsetID,
      prodSourceLabel: label,
      coreCount: job.coreCount,
      resource_type: job.resourceType,
      currentPriority: job.currentPriority,
      ...(job.debugMode ? { debug: 'True' } : {}),
    };
  }

  updateJobsBulk(harvesterId: string | null, jobList: unknown[]): Envelope {
    const replies = jobList.map((item) => {
      const request =
        typeof item === 'object' && item !== null && !Array.isArray(item)
          ? (item as Record<string, unknown>)
          : {};
      const reply =
        request === item
          ? this.updateOneJob(request)
          : { success: false, message: 'Argument error: job entry is not a dict', data: null };
      this.jobUpdates.push({
        seq: this.nextSeq(),
        at: this.clock.now(),
        harvesterId,
        PandaID: request.job_id,
        request,
        reply,
      });
      return reply;
    });
    return ok(replies);
  }

  /** updateJobStatus with the command and no-regression rules of §2.2. */
  updateOneJob(req: Record<string, unknown>): PerJobReply {
    const argErr = argumentError('update_job', UPDATE_JOB_PARAMS, req);
    if (argErr)
      return {
        success: false,
        message: `Argument error: ${argErr.replace(/^update_job\(\) /, '')}`,
        data: null,
      };
    const now = this.clock.now();
    const status = req.job_status;
    if (req.job_id === 'NULL' || req.job_id === null) {
      return { success: false, message: 'Invalid job_id', data: { StatusCode: 50 } };
    }
    if (typeof status !== 'string' || !ALLOWED_REPORTED.has(status)) {
      return { success: false, message: `Invalid job status: ${String(status)}`, data: { StatusCode: 50 } };
    }
    const id = Number(req.job_id);
    const fault = this.jobFaults.get(id);
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) this.jobFaults.delete(id);
      if (fault.statusCode !== undefined && fault.statusCode !== 0) {
        const message = fault.message ?? (fault.statusCode === 10 ? 'Timed out' : 'Database error');
        return { success: false, message, data: { StatusCode: fault.statusCode } };
      }
      if (fault.command !== undefined)
        return { success: true, message: '', data: { StatusCode: 0, command: fault.command } };
    }
    const job = this.jobs.get(id);
    const tobekilled: PerJobReply = {
      success: true,
      message: '',
      data: { StatusCode: 0, command: 'tobekilled' },
    };
    // Not in the active tables any more (or never was): the pilot must stop.
    if (!job || job.archivedAt !== null) return tobekilled;
    if (typeof req.attempt_nr === 'number' && req.attempt_nr !== job.attemptNr) return tobekilled;
    const batchId = typeof req.batch_id === 'string' ? req.batch_id : undefined;
    if (batchId !== undefined) {
      const numeric = (s: string) => /^\d+$/.test(s);
      if (job.batchID && !numeric(job.batchID) && !numeric(batchId) && job.batchID !== batchId) {
        job.supErrorCode = 1;
        return tobekilled;
      }
    }
    const commandWords = [job.debugMode ? 'debug' : '', ...job.commandToPilot.split(',')].filter(
      (s) => s !== '',
    );
    const command = commandWords.length > 0 ? commandWords.join(',') : 'NULL';
    const answer = (cmd: string): PerJobReply => ({
      success: true,
      message: '',
      data: { StatusCode: 0, command: cmd },
    });

    const old = job.status;
    if (old === 'merging') return answer(command);
    if (old === 'transferring' && status === 'holding') return answer('alreadydone');
    if (old === 'holding' && (status === 'finished' || status === 'failed')) return answer('alreadydone');
    if (old === 'holding' && status === 'holding') return answer(command);
    if ((old === 'holding' || old === 'transferring') && (status === 'running' || status === 'starting')) {
      return answer(command);
    }

    // Accepted: record attributes and move the job.
    const { job_id: _id, job_status: _st, ...attrs } = req;
    Object.assign(job.attributes, attrs);
    if (batchId !== undefined && !job.batchID) job.batchID = batchId;
    if (typeof req.job_sub_status === 'string') job.subStatus = req.job_sub_status;
    job.modificationTime = now;
    let next: SimJobStatus = status as SimJobStatus;
    if (old === 'running' && status === 'starting') next = 'running';
    if (status === 'finished' || status === 'failed') {
      next = 'holding';
      job.pendingFinalStatus = status;
      if (typeof req.job_output_report === 'string') {
        try {
          job.outputReport = JSON.parse(req.job_output_report) as Record<string, unknown>;
        } catch {
          job.outputReport = null;
        }
      }
      if (typeof req.meta_data === 'string') job.metaData = req.meta_data;
      job.endTime ??= now;
    }
    if (next === 'running' && job.startTime === null) job.startTime = now;
    if (next !== old) job.stateChangeTime = now;
    job.status = next;
    return answer(command);
  }

  getStatus(ids: number[]): Envelope {
    const now = this.clock.now();
    return ok(
      ids.map((id) => {
        const job = this.jobs.get(id);
        if (!job || (job.archivedAt !== null && now - job.modificationTime > this.timers.archivedVisibleMs)) {
          return { status: 'unknown', command: 'tobekilled' };
        }
        return { status: job.status, command: job.commandToPilot === '' ? null : job.commandToPilot };
      }),
    );
  }

  updateWorkers(harvesterId: string, workers: unknown[]): Envelope {
    const now = this.clock.now();
    const results: boolean[] = [];
    for (const raw of workers) {
      if (
        typeof raw !== 'object' ||
        raw === null ||
        typeof (raw as { workerID?: unknown }).workerID !== 'number'
      ) {
        return fail(DB_ERROR);
      }
      const w = raw as Record<string, unknown> & { workerID: number };
      const key = `${harvesterId}:${w.workerID}`;
      let worker = this.workers.get(key);
      if (!worker) {
        worker = {
          harvesterID: harvesterId,
          workerID: w.workerID,
          status: 'submitted',
          computingSite: null,
          batchID: null,
          fields: {},
          pandaIDs: [],
          lastUpdate: now,
          pilotStatus: null,
          pilotStartTime: null,
          pilotEndTime: null,
          pilotStatusSyncTime: null,
        };
        this.workers.set(key, worker);
      }
      const sticky =
        FINAL_WORKER_STATES.has(worker.status) && now - worker.lastUpdate < this.timers.finalWorkerStickyMs;
      Object.assign(worker.fields, w);
      if (typeof w.status === 'string' && !sticky) worker.status = w.status;
      if (typeof w.computingSite === 'string') worker.computingSite = w.computingSite;
      if (typeof w.batchID === 'string') worker.batchID = w.batchID;
      if (Array.isArray(w.pandaid_list))
        worker.pandaIDs = w.pandaid_list.filter((x): x is number => typeof x === 'number');
      worker.lastUpdate = now;
      if (FINAL_WORKER_STATES.has(worker.status)) this.onWorkerFinal(worker, w);
      this.workerUpdates.push({
        seq: this.nextSeq(),
        at: now,
        harvesterId,
        request: w,
        storedStatus: worker.status,
      });
      results.push(true);
    }
    return ok(results);
  }

  /** syncLevel=1 fails the worker's still-running jobs (EC_WorkerDone); errorCode goes to supErrorCode. */
  private onWorkerFinal(worker: SimWorker, w: Record<string, unknown>): void {
    for (const id of worker.pandaIDs) {
      const job = this.jobs.get(id);
      if (!job || job.archivedAt !== null) continue;
      if (typeof w.errorCode === 'number' && w.errorCode !== 0) {
        job.supErrorCode = w.errorCode;
        job.supErrorDiag = `worker already ${worker.status}`;
      }
      if (w.syncLevel === 1 && (job.status === 'running' || job.status === 'starting')) {
        job.taskBufferErrorCode = 300;
        job.status = 'holding';
        job.pendingFinalStatus = 'failed';
        job.stateChangeTime = this.clock.now();
      }
    }
  }

  heartbeat(harvesterId: string, data: Record<string, unknown> | null, owner: string): Envelope {
    const now = this.clock.now();
    const d = data ?? {};
    const known = new Set(['startTime', 'sw_version', 'commit_stamp', 'commands']);
    let inst = this.instances.get(harvesterId);
    let result: Envelope;
    if (!inst) {
      inst = {
        harvester_id: harvesterId,
        owner,
        startTime: null,
        sw_version: null,
        commit_stamp: null,
        firstSeen: now,
        lastUpdate: now,
      };
      this.instances.set(harvesterId, inst);
      // The server inserts the row but answers as if it failed ("no instance record").
      result = fail(DB_ERROR);
    } else if (Object.keys(d).some((k) => !known.has(k))) {
      // Each data key becomes a column in the UPDATE; an unknown one makes the SQL fail.
      result = fail(DB_ERROR);
    } else {
      inst.lastUpdate = now;
      inst.owner = owner;
      for (const k of ['startTime', 'sw_version', 'commit_stamp'] as const) {
        if (typeof d[k] === 'string') inst[k] = d[k] as string;
      }
      if (Array.isArray(d.commands)) {
        for (const c of d.commands as Record<string, unknown>[]) {
          const lock: SimCommandLock = {
            harvester_id: harvesterId,
            command: String(c.command),
            computingSite: String(c.computingSite),
            resourceType: String(c.resourceType),
            lockedTime: null,
          };
          const exists = this.commandLocks.some(
            (l) =>
              l.harvester_id === lock.harvester_id &&
              l.command === lock.command &&
              l.computingSite === lock.computingSite &&
              l.resourceType === lock.resourceType,
          );
          if (!exists) this.commandLocks.push(lock);
        }
      }
      result = ok(null);
    }
    this.heartbeats.push({ seq: this.nextSeq(), at: now, harvesterId, data: d, success: result.success });
    return result;
  }

  acquireCommands(harvesterId: string, n: number): Envelope {
    const now = this.clock.now();
    const picked = this.commands
      .filter((c) => c.harvester_id === harvesterId && c.status === 'new')
      .sort((a, b) => a.creation_date - b.creation_date || a.command_id - b.command_id)
      .slice(0, Math.max(0, n));
    for (const c of picked) {
      c.status = 'retrieved';
      c.status_date = now;
    }
    return ok(
      picked.map((c) => ({
        command_id: c.command_id,
        command: c.command,
        ack_requested: c.ack_requested,
        creation_date: isoSeconds(c.creation_date),
        params: c.params,
      })),
    );
  }

  acknowledgeCommands(ids: number[]): Envelope {
    const now = this.clock.now();
    for (const c of this.commands) {
      if (ids.includes(c.command_id)) {
        c.status = 'acknowledged';
        c.status_date = now;
      }
    }
    return ok(null);
  }

  reportWorkerStatistics(harvesterId: string, queue: string, statistics: string): Envelope {
    let parsed: unknown;
    try {
      parsed = JSON.parse(statistics);
    } catch {
      return fail(DB_ERROR);
    }
    this.workerStats.set(`${harvesterId}|${queue}`, {
      harvesterId,
      queue,
      stats: parsed,
      at: this.clock.now(),
    });
    return ok(null, 'OK');
  }

  getWorkerStatistics(): Envelope {
    const now = this.clock.now();
    const out: Record<string, Record<string, unknown>> = {};
    for (const row of this.workerStats.values()) {
      if (now - row.at > this.timers.workerStatsWindowMs) continue;
      const perQueue = out[row.queue] ?? {};
      perQueue[row.harvesterId] = row.stats;
      out[row.queue] = perQueue;
    }
    return ok(out);
  }

  getCurrentWorkerId(harvesterId: string): Envelope {
    let max: number | null = null;
    for (const w of this.workers.values()) {
      if (w.harvesterID === harvesterId && (max === null || w.workerID > max)) max = w.workerID;
    }
    return max === null ? fail(DB_ERROR) : ok(max);
  }

  /** pilot/update_worker_status: what the pilot says about its own worker (feeds stuck-pilot sync). */
  updateWorkerPilotStatus(harvesterId: string, workerId: number, status: string, nodeId?: string): Envelope {
    const now = this.clock.now();
    if (status !== 'started' && status !== 'finished') {
      return fail(`Worker status '${status}' is not supported. Only 'started' and 'finished' are allowed`);
    }
    const worker = this.workers.get(`${harvesterId}:${workerId}`);
    if (!worker) return fail(`Worker ${workerId} of ${harvesterId} not found`);
    if (status === 'started') {
      worker.pilotStatus = 'running';
      worker.pilotStartTime = now;
    } else {
      worker.pilotStatus = 'finished';
      worker.pilotEndTime = now;
    }
    if (nodeId) worker.fields.nodeID = nodeId;
    return ok(null);
  }

  addSweepCommand(queue: string, statusList?: unknown[], ceList?: unknown[], hostList?: unknown[]): Envelope {
    const q = this.queues.get(queue);
    const harvesterIds = new Set<string>();
    if (q?.harvesterId) harvesterIds.add(q.harvesterId);
    for (const w of this.workers.values()) if (w.computingSite === queue) harvesterIds.add(w.harvesterID);
    for (const hid of harvesterIds) {
      this.addCommand(hid, 'KILL_WORKERS', {
        status: statusList ?? ['submitted'],
        computingSite: [queue],
        computingElement: ceList ?? 'ALL',
        submissionHost: hostList ?? 'ALL',
      });
    }
    return ok(null);
  }

  acquireEventRanges(jobId: number, nRanges: number): Envelope {
    const list = this.eventRanges.get(jobId) ?? [];
    const picked = list.filter((r) => r.status === 'ready').slice(0, nRanges);
    for (const r of picked) r.status = 'sent';
    // v1 returns the bare list (the legacy server wrapped it).
    return ok(picked.map(({ status: _s, ...r }) => r));
  }

  updateEventRanges(eventRangesJson: string): Envelope {
    let groups: unknown;
    try {
      groups = JSON.parse(eventRangesJson);
    } catch {
      return fail('failed to parse event_ranges');
    }
    const returns: boolean[] = [];
    for (const g of Array.isArray(groups) ? groups : []) {
      for (const u of ((g as { eventRanges?: unknown[] }).eventRanges ?? []) as Record<string, unknown>[]) {
        let found = false;
        for (const list of this.eventRanges.values()) {
          const r = list.find((x) => x.eventRangeID === u.eventRangeID);
          if (r) {
            r.status = u.eventStatus;
            found = true;
          }
        }
        returns.push(found);
      }
    }
    return ok({ Returns: returns, Commands: {} });
  }

  availableEventRangeCount(jobId: number): Envelope {
    return ok((this.eventRanges.get(jobId) ?? []).filter((r) => r.status === 'ready').length);
  }

  activeJobStatsBySite(): Envelope {
    const out: Record<string, Record<string, number>> = {};
    for (const j of this.jobs.values()) {
      if (j.archivedAt !== null) continue;
      const site = out[j.computingSite] ?? {};
      out[j.computingSite] = site;
      site[j.status] = (site[j.status] ?? 0) + 1;
    }
    return ok(out);
  }
}
