import type { WorkerStatus } from './workerStatus';

/** How jobs map to workers (Harvester's WorkSpec.mapType). NoJob = pull mode: the pilot fetches its own jobs. */
export type MapType = 'NoJob' | 'OneToOne' | 'ManyToOne' | 'OneToMany';

/**
 * One worker (pilot batch job). Field names follow Harvester's work_table columns so that
 * templates with ${attribute} placeholders and configs written for Harvester keep working.
 * Timestamps are ISO-8601 strings: the spec crosses the Temporal payload boundary as JSON.
 */
export interface WorkSpec {
  workerID: number;
  /** PanDA queue name (Harvester: computingSite). */
  computingSite: string;
  /** Harvester instance (harvesterID) that owns the worker. */
  harvesterID: string;
  configID: string;
  mapType: MapType;
  status: WorkerStatus;
  resourceType: string;
  jobType: string;
  pilotType?: string;
  prodSourceLabel?: string;
  nCore: number;
  minRamCount?: number;
  maxDiskCount?: number;
  maxWalltime?: number;
  /** Batch-system id once submitted (Slurm job id, condor cluster.proc, local pid...). */
  batchID?: string;
  /** Batch queue / partition. */
  queueName?: string;
  computingElement?: string;
  submissionHost?: string;
  nodeID?: string;
  accessPoint?: string;
  creationTime: string;
  submitTime?: string;
  startTime?: string;
  endTime?: string;
  nativeStatus?: string;
  nativeExitCode?: number;
  diagMessage?: string;
  errorCode?: number;
  /** Pilot-side job ids bound to this worker (push mode). */
  pandaIDs?: number[];
  /** Free-form attributes reported by the worker (Harvester: workAttributes). */
  workAttributes?: Record<string, unknown>;
}

/** Harvester's JobSpec.status. */
export type JobStatus = 'starting' | 'running' | 'finished' | 'failed' | 'cancelled' | 'missed';

/** Harvester's JobSpec.subStatus lifecycle (see harvester-spec §3.2). */
export type JobSubStatus =
  | 'fetched'
  | 'preparing'
  | 'prepared'
  | 'queued'
  | 'submitted'
  | 'ready'
  | 'running'
  | 'idle'
  | 'to_transfer'
  | 'transferring'
  | 'staged'
  | 'failed_to_stage_out'
  | 'done'
  | 'failed_to_make'
  | 'failed_to_prepare'
  | 'killed'
  | 'missed';

export interface JobSpec {
  PandaID: number;
  taskID?: number;
  attemptNr?: number;
  status: JobStatus;
  subStatus: JobSubStatus;
  computingSite: string;
  configID?: string;
  resourceType?: string;
  nCore?: number;
  /** The full job description PanDA returned (Harvester: jobParams). */
  jobParams: Record<string, unknown>;
  /** Attributes collected from the pilot/worker (Harvester: jobAttributes); JSONB in the DB. */
  jobAttributes: Record<string, unknown>;
  startTime?: string;
  endTime?: string;
}

export type FileType = 'input' | 'aux_input' | 'output' | 'log' | 'zip_output' | 'checkpoint' | 'es_output';

export interface FileSpec {
  fileID?: number;
  PandaID: number;
  lfn: string;
  fileType: FileType;
  status: string;
  scope?: string;
  fsize?: number;
  chksum?: string;
  path?: string;
  workerID?: number;
  fileAttributes?: Record<string, unknown>;
}
