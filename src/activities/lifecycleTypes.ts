/**
 * Inputs and outputs of the activities the worker lifecycle calls. Kept apart from the
 * implementations so workflow code imports types only.
 */
import type { CompactRecords } from '../core/compactRecords';
import type { HeartbeatReadings } from '../core/monitorDiff';
import type { WorkSpec } from '../core/specs';
import type { WorkerPolicy } from '../core/workerPolicy';
import type { CheckWorkersReply, PluginParams } from '../plugins/types';
import type { Packed } from '../util/packed';

export interface PluginCall {
  params: PluginParams;
  harvesterID: string;
  queueName: string;
}

export interface WorkerPluginCall extends PluginCall {
  worker: WorkSpec;
  /** Submit only: look the worker up in the batch system even on the first attempt. */
  lookupFirst?: boolean;
}

export interface WorkersPluginCall extends PluginCall {
  workers: WorkSpec[];
}

/**
 * Push mode: one PanDA job bound to a worker, as the pilot needs it. jobParams is the job dict
 * PanDA's acquire_jobs returned (Harvester's JobSpec.jobParams), written as it is into the access point.
 */
export interface PushJob {
  PandaID: number;
  jobParams: Record<string, unknown>;
}

/**
 * The monitor's bulk call. Late binding (useJobLateBinding): the workers listed here have no job
 * yet; the messenger is asked whether their pilot requested one (Harvester's job_requested), and
 * a live worker whose pilot did is reported `ready`.
 */
export interface CheckWorkersCall extends WorkersPluginCall {
  jobRequests?: { messenger: PluginParams; workerIDs: number[] };
  /**
   * A queue whose messenger sets worker_heartbeat: the pilots' heartbeat files of these workers are
   * read (those the plugin reports running), for the lost-heartbeat rule. Workers already marked to
   * be killed are not listed (Harvester marks a kill only once).
   */
  heartbeats?: { messenger: PluginParams; limitMinutes: number; workerIDs: number[] };
}

/** The monitor's bulk answer, with the heartbeat files read when the call asked for them. */
export type CheckWorkersActivityReply = CheckWorkersReply & { heartbeats?: HeartbeatReadings };

/** Late binding: jobs for workers that are already running, through the messenger (bulk feed_jobs). */
export interface FeedWorkersCall extends PluginCall {
  workers: WorkSpec[];
  jobs: Record<string, PushJob[]>;
}

/**
 * The queue's bulk submission (Harvester's submitter agent: one submit_workers call for the
 * cycle's workers). params is the submitter section; push-mode jobs are fed through the messenger
 * section first, keyed by workerID.
 */
export interface BulkSubmitCall extends WorkersPluginCall {
  messenger?: PluginParams;
  jobs?: Record<string, PushJob[]>;
  /** Look every worker up in the batch system before submitting (a repeated cycle). */
  lookupFirst?: boolean;
}

/**
 * An edge queue's bulk submission as it crosses the queue workflow's history: the submitter and
 * messenger sections once, the workers compact (shared fields once, per worker what differs), all
 * gzip'd. Push-mode job descriptions travel too: the edge writes them where the pilot reads them.
 */
export interface PackedSubmission {
  params: PluginParams;
  messenger?: PluginParams;
  workers: CompactRecords<WorkSpec>;
  jobs?: Record<string, PushJob[]>;
}

export interface PackedSubmitCall {
  harvesterID: string;
  queueName: string;
  submission: Packed<PackedSubmission>;
}

/** The outcomes of a packed submission, compact and packed the same way (batch ids, diagnostics). */
export type PackedOutcomes = Packed<CompactRecords<SubmissionOutcome>>;

/** One worker's submission outcome, small enough to pass through the queue's history in bulk. */
export interface SubmissionOutcome {
  workerID: number;
  outcome: 'success' | 'failure';
  diag: string;
  batchID?: string;
  submissionHost?: string;
  computingElement?: string;
  queueName?: string;
  /** When the batch system took it (ISO); the lifecycle's submitTime. */
  submittedAt?: string;
  /**
   * A failure the plugin called temporary (Harvester's None): the worker is missed, but its PanDA
   * jobs are released for the next cycle instead of failing with it (harvester-spec, submitter step 8).
   */
  temporary?: boolean;
}

/** feedJobs: the messenger section is the params; the jobs go into the worker's access point. */
export interface FeedJobsCall extends WorkerPluginCall {
  jobs: PushJob[];
}

/** What the pilot reported per bound job (Harvester's workAttributes keyed by PandaID). */
export type PilotJobAttributes = Record<string, Record<string, unknown>>;

export type WorkerEventKind =
  | 'submitted'
  | 'missed'
  | 'status'
  | 'kill-requested'
  | 'kill-attempted'
  | 'swept';

export interface RecordWorkerInput {
  worker: WorkSpec;
  event: WorkerEventKind;
  /** Kill bookkeeping, when event is kill-*. */
  killReason?: string;
}

export type ReportKind = 'change' | 'final' | 'heartbeat';

export interface ReportWorkerInput {
  worker: WorkSpec;
  kind: ReportKind;
  /** For heartbeats: when it was due (the lag is a metric). */
  dueAt?: string;
  /** Write this event to the harvester DB first (idempotent), then report. */
  record?: Extract<WorkerEventKind, 'submitted' | 'missed' | 'status'>;
  policy: Pick<WorkerPolicy, 'truePilot' | 'noHeartbeat' | 'mapType' | 'queueName' | 'harvesterID'>;
  /**
   * Push mode, final report: the pilot's reports read from the access point (jobStatus, metaData,
   * output files...), keyed by PandaID. Merged into the jobs' jobAttributes before the report, so
   * the pilot's job status and output report travel with it.
   */
  jobAttributes?: PilotJobAttributes;
}

export interface ReportWorkerResult {
  /** PanDA answered a job of this worker with a kill command (tobekilled), or the job is unknown to PanDA. */
  killRequested: boolean;
  detail: string;
  /** How many jobs' states were sent along with the worker (push mode). */
  jobsReported: number;
  /** Seconds since the queue's bulk monitor last succeeded (DB clock); lets a worker notice a silent monitor. */
  monitorSilentSeconds?: number;
}
