/**
 * Request and reply shapes of the PanDA REST API (v1) as Harvester uses it; see
 * reference/panda-api.md §2. Request field names are the wire names (snake_case for pilot/job calls,
 * camelCase for worker dicts) so each type can be compared with the server's signature line by line;
 * the server rejects unknown keys on POST, so adding a field here is a contract change.
 */

/** The v1 endpoints Harvester calls, as `<module>/<method>`. */
export type PandaEndpoint =
  | 'system/is_alive'
  | 'harvester/heartbeat'
  | 'pilot/acquire_jobs'
  | 'pilot/update_jobs_bulk'
  | 'job/get_status'
  | 'harvester/update_workers'
  | 'harvester/report_worker_statistics'
  | 'harvester/get_worker_statistics'
  | 'harvester/acquire_commands'
  | 'harvester/acknowledge_commands'
  | 'harvester/update_service_metrics'
  | 'harvester/add_dialogs'
  | 'harvester/get_current_worker_id'
  | 'event/acquire_event_ranges'
  | 'event/update_event_ranges'
  | 'event/get_available_event_range_count'
  | 'metaconfig/get_resource_types'
  | 'statistics/active_job_stats_by_site';

/** Every v1 reply body (HTTP 200 even for logical failures). */
export interface PandaEnvelope<T = unknown> {
  success: boolean;
  message: string;
  data: T;
}

/** Values that travel in a GET query string (lists become repeated keys). */
export type QueryValue = string | number | boolean | readonly (string | number)[];

/** Per-call knobs; activities pass their cancellation signal so a cancelled activity stops waiting. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

// ---------------------------------------------------------------- pilot/acquire_jobs

/** Body of `pilot/acquire_jobs` minus harvester-set fields. `site_name` is the PanDA queue. */
export interface AcquireJobsRequest {
  site_name: string;
  n_jobs?: number;
  node?: string;
  prod_source_label?: string;
  computing_element?: string;
  /** Defaults to `harvester-<harvesterId>` like Harvester does. */
  scheduler_id?: string;
  resource_type?: string;
  job_type?: string;
  memory?: number;
  disk_space?: number;
  task_id?: number;
  worker_id?: number;
  timeout?: number;
  remaining_time?: number;
  get_proxy_key?: boolean;
  background?: boolean;
}

/**
 * One job as PanDA hands it out. Only the fields Harvester requires are typed strictly; the whole
 * dict is kept as the job's jobParams.
 */
export interface PandaJobDescription {
  PandaID: number;
  /** May be the string "NULL". */
  taskID: number | 'NULL';
  attemptNr: number;
  jobsetID: number | 'NULL';
  currentPriority: number;
  coreCount?: number;
  resource_type?: string;
  prodSourceLabel?: string;
  [key: string]: unknown;
}

// ---------------------------------------------------------------- pilot/update_jobs_bulk

/** Job states PanDA accepts in a heartbeat (anything else comes back with StatusCode 50). */
export type ReportedJobStatus = 'running' | 'failed' | 'finished' | 'holding' | 'starting' | 'transferring';

/** One job heartbeat; the keys are `update_job`'s parameters (unknown keys are refused per job). */
export interface JobUpdate {
  job_id: number;
  job_status: ReportedJobStatus;
  job_sub_status?: string;
  attempt_nr?: number;
  site_name?: string;
  node?: string;
  scheduler_id?: string;
  pilot_id?: string;
  batch_id?: string;
  /** "%Y-%m-%d %H:%M:%S" UTC, see format.ts. */
  start_time?: string;
  end_time?: string;
  n_events?: number;
  n_input_files?: number;
  core_count?: number;
  mean_core_count?: number;
  cpu_consumption_time?: number;
  cpu_consumption_unit?: string;
  cpu_conversion_factor?: number;
  cpu_architecture_level?: string;
  trans_exit_code?: number;
  pilot_error_code?: number;
  pilot_error_diag?: string;
  exe_error_code?: number;
  exe_error_diag?: string;
  pilot_timing?: string;
  job_metrics?: string;
  max_rss?: number;
  max_vmem?: number;
  max_swap?: number;
  max_pss?: number;
  avg_rss?: number;
  avg_vmem?: number;
  avg_swap?: number;
  avg_pss?: number;
  tot_rchar?: number;
  tot_wchar?: number;
  tot_rbytes?: number;
  tot_wbytes?: number;
  rate_rchar?: number;
  rate_wchar?: number;
  rate_rbytes?: number;
  rate_wbytes?: number;
  corrupted_files?: string;
  grid?: string;
  source_site?: string;
  destination_site?: string;
  pilot_log?: string;
  stdout?: string;
  /** JSON text; only on the final update. */
  meta_data?: string;
  /** JSON text `{lfn: {guid, fsize, adler32, ...}}`; must be in the *first* final update. */
  job_output_report?: string;
  timeout?: number;
}

/** Per-job envelope inside the update_jobs_bulk reply. */
export interface JobUpdateReplyItem {
  success: boolean;
  message: string;
  data: { StatusCode: number; command?: string; pilotSecrets?: unknown } | null;
}

/** What the client makes of one per-job reply. */
export interface JobUpdateResult {
  PandaID: number;
  /** The per-job `success` flag. */
  success: boolean;
  message: string;
  /** Pilot-protocol StatusCode; null when the server gave no data (argument error). */
  statusCode: number | null;
  /** Raw `command` string; "NULL" means nothing to do and is normalised to null. */
  command: string | null;
  /** The comma-separated command split into words ("debug,tobekilled" → ["debug","tobekilled"]). */
  commands: string[];
  /** True when PanDA wants the job's worker dead. */
  killRequested: boolean;
  pilotSecrets?: unknown;
}

// ---------------------------------------------------------------- job/get_status

export interface JobStatusReplyItem {
  status: string;
  command: string | null;
}

export interface JobStatusResult {
  PandaID: number;
  status: string;
  command: string | null;
  killRequested: boolean;
}

// ---------------------------------------------------------------- harvester/update_workers

/** Worker dict as Harvester's convert_to_propagate builds it; datetimes in "datetime/..." form. */
export interface WorkerUpdate {
  workerID: number;
  batchID?: string;
  queueName?: string;
  status?: string;
  computingSite?: string;
  nCore?: number;
  nodeID?: string;
  submitTime?: string;
  startTime?: string;
  endTime?: string;
  jobType?: string;
  resourceType?: string;
  nativeExitCode?: number;
  nativeStatus?: string;
  diagMessage?: string;
  nJobs?: number;
  computingElement?: string;
  syncLevel?: number;
  submissionHost?: string;
  harvesterHost?: string;
  errorCode?: number;
  minRamCount?: number;
  stdOut?: string;
  stdErr?: string;
  batchLog?: string;
  jdl?: string;
  pandaid_list?: number[];
}

// ---------------------------------------------------------------- harvester/heartbeat

export interface CommandLockRequest {
  command: string;
  computingSite: string;
  resourceType: string;
}

/** `data` of the instance heartbeat; every key becomes a column on the server (unknown keys fail). */
export interface HarvesterHeartbeatData {
  startTime?: string;
  sw_version?: string;
  commit_stamp?: string;
  commands?: CommandLockRequest[];
}

// ---------------------------------------------------------------- commands

export interface PandaCommand {
  command_id: number;
  command: string;
  ack_requested: number | boolean;
  creation_date: string;
  /** KILL_WORKERS: filter dict; SYNC_WORKERS_KILL: worker ids; SET_N_WORKERS_JOBTYPE: {jobType:{rt:n}}. */
  params: unknown;
}

// ---------------------------------------------------------------- statistics, metrics, dialogs

/** {jobType: {resourceType: {workerStatus: n}}}; sent as a JSON *string*. */
export type WorkerStatistics = Record<string, Record<string, Record<string, number>>>;

/** {queue: {harvesterID: {jobType: {resourceType: {status: n}}}}} */
export type PandaWorkerStatistics = Record<string, Record<string, WorkerStatistics>>;

export interface ServiceMetric {
  time: Date;
  host: string;
  metrics: Record<string, unknown>;
}

export interface HarvesterDialog {
  diagID: number;
  moduleName: string;
  identifier: string;
  /** "%Y-%m-%d %H:%M:%S.%f" */
  creationTime: string;
  messageLevel: string;
  diagMessage: string;
}

// ---------------------------------------------------------------- event service, misc

export interface AcquireEventRangesRequest {
  job_id: number;
  jobset_id: number;
  task_id?: number;
  n_ranges?: number;
  scattered?: boolean;
}

export interface EventRange {
  eventRangeID: string;
  startEvent: number;
  lastEvent: number;
  LFN: string;
  GUID: string;
  scope: string;
  [key: string]: unknown;
}

export interface EventRangeUpdate {
  eventRangeID: string;
  eventStatus: string;
  [key: string]: unknown;
}

export interface ResourceType {
  resource_name: string;
  mincore: number | null;
  maxcore: number | null;
  minrampercore: number | null;
  maxrampercore: number | null;
}
