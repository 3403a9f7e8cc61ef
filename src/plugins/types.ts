/**
 * Plugin interfaces. Each method corresponds one-to-one to a Harvester plugin method
 * (Harvester name in the comment); calls are list-based where Harvester's are, so that one
 * batch command can serve many workers (one squeue per queue per cycle).
 *
 * Harvester returns True / False / None for success / permanent failure / temporary failure;
 * here that is PluginOutcome, so the caller can tell "give up" from "try again".
 */
import type { FileSpec, JobSpec, WorkSpec } from '../core/specs';
import type { WorkerStatus } from '../core/workerStatus';

export type PluginOutcome = 'success' | 'permanentFailure' | 'temporaryFailure';

export interface PluginResult {
  outcome: PluginOutcome;
  /** Diagnostic text: empty on success, says what and where on failure. */
  diag: string;
}

/** Extra keys of a plugin section in the queue config, with queueName/siteName injected (as Harvester does). */
export type PluginParams = Record<string, unknown> & { module: string; name: string };

/** What SimpleThrottler asks the caller to count (Harvester: db_proxy.get_num_missed_workers). */
export interface MissedWorkerQuery {
  /** PanDA queue whose workers are counted. */
  queueName: string;
  /** Exactly one of these narrows the count, following the rule's level (site | pq | ce). */
  siteName?: string;
  computingSite?: string;
  computingElement?: string;
  /** Count workers that went `missed` with submitTime at or after this instant (ISO-8601). */
  since: string;
}

/** What every plugin instance receives besides its params. */
export interface PluginContext {
  harvesterID: string;
  /** PanDA queue the plugin serves. */
  queueName: string;
  /** Clock for time-based plugin decisions; tests and demos inject one. Default: the wall clock. */
  now?: () => Date;
  /**
   * Which attempt of the submit activity this is (1 = first). A first attempt cannot have made a
   * batch job yet, so submitters may skip their look-up for existing jobs; later attempts must not.
   */
  submitAttempt?: number;
  /**
   * Counts missed workers for SimpleThrottler's rulesForMissed. Plugins have no DB access of their
   * own here, so the caller (an activity with the pool) supplies this when the queue uses such rules.
   */
  countMissedWorkers?: (query: MissedWorkerQuery) => Promise<number>;
}

/** Result of submitWorkers for one worker (Harvester: (bool|None, diag) plus the attributes set on the WorkSpec). */
export interface SubmitResult extends PluginResult {
  batchID?: string;
  submissionHost?: string;
  computingElement?: string;
  /** Batch queue / partition. */
  queueName?: string;
  nodeID?: string;
  /** Log file URLs by kind (Harvester: set_log_file('stdout'|'stderr'|'batch_log'|'jdl', url)). */
  logFiles?: Partial<Record<'stdout' | 'stderr' | 'batch_log' | 'jdl', string>>;
}

/** Harvester: BaseSubmitter */
export interface Submitter {
  /** Harvester: submit_workers(workspec_list) — one result per worker, aligned with the input. */
  submitWorkers(workers: WorkSpec[]): Promise<SubmitResult[]>;
  /**
   * Looks workers up in the batch system by the worker id carried in the job name, so a submit
   * retried after a crash finds the job it already made. Not in Harvester (which never retries a
   * submit); returns the batch id per worker id for the ones found.
   */
  findSubmittedWorkers?(workers: WorkSpec[]): Promise<Map<number, SubmitResult>>;
}

/** Per-worker result of checkWorkers (Harvester: (status|None, diag) plus attributes set on the WorkSpec). */
export interface CheckResult {
  /** null = the plugin could not tell this time (Harvester's None): keep the last known status. */
  status: WorkerStatus | null;
  diag: string;
  nativeStatus?: string;
  nativeExitCode?: number;
  errorCode?: number;
  nodeID?: string;
  startTime?: string;
  endTime?: string;
  /** The pilot closed the worker itself (Harvester: set_pilot_closed). */
  pilotClosed?: boolean;
}

export interface CheckWorkersReply {
  /** false = the whole status query failed: counts are unknown, never zero. */
  ok: boolean;
  diag: string;
  /** Aligned with the input when ok. */
  results: CheckResult[];
}

/** Harvester: BaseMonitor */
export interface Monitor {
  /** Harvester: check_workers(workspec_list) -> (bool, [(status, diag)]) */
  checkWorkers(workers: WorkSpec[]): Promise<CheckWorkersReply>;
}

/** Harvester: BaseSweeper */
export interface Sweeper {
  /** Harvester: kill_workers(workspec_list) -> [(bool, diag)] */
  killWorkers(workers: WorkSpec[]): Promise<PluginResult[]>;
  /** Harvester: sweep_worker(workspec) -> (bool, diag): clean up files etc. after the worker is final. */
  sweepWorker(worker: WorkSpec): Promise<PluginResult>;
}

/** Harvester: BaseMessenger (shared-file messenger and friends). */
export interface Messenger {
  /** setup_access_points(workspec_list) */
  setupAccessPoints(workers: WorkSpec[]): Promise<boolean>;
  /** feed_jobs(workspec, jobspec_list) */
  feedJobs(worker: WorkSpec, jobs: JobSpec[]): Promise<boolean>;
  /** job_requested(workspec) -> number of jobs the worker asks for */
  jobRequested(worker: WorkSpec): Promise<number>;
  /** get_work_attributes(workspec) -> dict, may be keyed by PandaID */
  getWorkAttributes(worker: WorkSpec): Promise<Record<string, unknown>>;
  /** get_files_to_stage_out(workspec) -> {PandaID: {lfn: [{path, fsize, ...}]}} */
  getFilesToStageOut(
    worker: WorkSpec,
  ): Promise<Record<string, Record<string, Array<Record<string, unknown>>>>>;
  /** get_panda_ids(workspec) */
  getPandaIDs(worker: WorkSpec): Promise<number[]>;
  /** kill_requested(workspec) -> the pilot asked to be killed (kill_worker.json) */
  killRequested(worker: WorkSpec): Promise<boolean>;
  /** is_alive(workspec, time_limit_minutes) -> true, or null when unknown/expired */
  isAlive(worker: WorkSpec, timeLimitMinutes: number): Promise<boolean | null>;
  /**
   * Not in Harvester (its is_alive decides on the spot): when the pilot last wrote its heartbeat
   * (ISO), undefined when it never did. The queue's monitor applies the lost-heartbeat rule to it
   * (core/stuckRules), so the decision is a pure rule and the reason names the time.
   */
  lastHeartbeat?(worker: WorkSpec): Promise<string | undefined>;
  /** clean_up(workspec) */
  cleanUp(worker: WorkSpec): Promise<PluginResult>;
}

/** Harvester: BasePreparator (stage-in). */
export interface Preparator {
  /** trigger_preparation(jobspec) */
  triggerPreparation(job: JobSpec): Promise<PluginResult>;
  /** check_stage_in_status(jobspec) */
  checkStageInStatus(job: JobSpec): Promise<PluginResult>;
  /** resolve_input_paths(jobspec) */
  resolveInputPaths(job: JobSpec): Promise<PluginResult & { files?: FileSpec[] }>;
}

/** Harvester: BaseStager (stage-out). */
export interface Stager {
  /** trigger_stage_out(jobspec) */
  triggerStageOut(job: JobSpec, files: FileSpec[]): Promise<PluginResult>;
  /** check_stage_out_status(jobspec) */
  checkStageOutStatus(job: JobSpec, files: FileSpec[]): Promise<PluginResult & { files: FileSpec[] }>;
}

/** Harvester: BaseCredManager */
export interface CredManager {
  /** check_credential() */
  checkCredential(): Promise<boolean>;
  /** renew_credential() -> (bool, str) */
  renewCredential(): Promise<PluginResult>;
  /** check_credential_lifetime() -> hours left, or null if unknown */
  checkCredentialLifetime?(): Promise<number | null>;
}

/** Harvester: BaseWorkerMaker */
export interface WorkerMaker {
  /** make_worker(jobspec_list, queue_config, job_type, resource_type) -> the resource request of the new worker */
  makeWorker(
    jobs: JobSpec[],
    jobType: string,
    resourceType: string,
  ): Promise<Pick<WorkSpec, 'nCore' | 'minRamCount' | 'maxDiskCount' | 'maxWalltime' | 'pilotType'> | null>;
  /** get_num_jobs_per_worker(n) */
  getNumJobsPerWorker(nWorkers: number): number;
  /** get_num_workers_per_job(n) */
  getNumWorkersPerJob(nWorkers: number): number;
}

/** Harvester: BaseThrottler */
export interface Throttler {
  /** to_be_throttled(queue_config) -> (bool, msg) */
  toBeThrottled(): Promise<{ throttled: boolean; message: string }>;
}

export interface PluginKinds {
  submitter: Submitter;
  monitor: Monitor;
  sweeper: Sweeper;
  messenger: Messenger;
  preparator: Preparator;
  stager: Stager;
  credmanager: CredManager;
  workerMaker: WorkerMaker;
  throttler: Throttler;
}

export type PluginKind = keyof PluginKinds;

/** A plugin constructor as registered: one call per use, like Harvester's plugin factory. */
export type PluginFactory<K extends PluginKind> = (
  params: PluginParams,
  ctx: PluginContext,
) => PluginKinds[K];
