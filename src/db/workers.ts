/**
 * Data access for the workers table (Harvester's work_table). Called by Temporal activities; every
 * function is safe to repeat after a crash (activities are retried), and the status rules of
 * harvester-spec §3.1 are enforced in the SQL itself, not only here.
 */
import type { MapType, WorkSpec } from '../core/specs';
import { isFinalWorkerStatus, type WorkerStatus } from '../core/workerStatus';
import type { Db } from './pool';
import {
  isoOrUndefined,
  orUndefined,
  type Queryable,
  type TimeInput,
  toDate,
  toDateOrNull,
  toSafeNumber,
  withTransaction,
} from './sql';

/** Statuses after which a worker never changes (mirrors FINAL_WORKER_STATUSES, as an SQL list). */
const FINAL_SQL = `('finished', 'failed', 'cancelled', 'missed')`;
/** Statuses of a worker that still occupies the resource or the batch queue. */
const LIVE_SQL = `('pending', 'submitted', 'idle', 'ready', 'running')`;
/** Harvester truncates diagMessage to 500 characters; so do we, in SQL, for every writer. */
const DIAG_MAX = 500;
/** Harvester's errorDiag limit. */
const ERROR_DIAG_MAX = 256;

/** A worker as stored: the spec plus the bookkeeping columns the sweeper and propagator use. */
export interface WorkerRecord extends WorkSpec {
  /** Always present here (possibly empty): the PandaIDs bound through job_workers. */
  pandaIDs: number[];
  workAttributes: Record<string, unknown>;
  /** Text that goes with errorCode (Harvester's errorDiag, <= 256 characters). */
  errorDiag?: string;
  killTime?: string;
  killReason?: string;
  /** Set while a state change has not been reported to PanDA; absent once it has. */
  lastUpdate?: string;
  reportedAt?: string;
  modificationTime: string;
  sweptAt?: string;
  /** The last bulk status query could not tell this worker's status (migration 0007). */
  monitorUnknown: boolean;
}

interface WorkerRow {
  worker_id: string;
  harvester_id: string;
  computing_site: string;
  config_id: string;
  map_type: MapType;
  status: WorkerStatus;
  resource_type: string;
  job_type: string;
  pilot_type: string | null;
  prod_source_label: string | null;
  n_core: number;
  min_ram_count: number | null;
  max_disk_count: number | null;
  max_walltime: number | null;
  batch_id: string | null;
  queue_name: string | null;
  computing_element: string | null;
  submission_host: string | null;
  node_id: string | null;
  access_point: string | null;
  creation_time: Date;
  submit_time: Date | null;
  start_time: Date | null;
  end_time: Date | null;
  native_status: string | null;
  native_exit_code: number | null;
  diag_message: string | null;
  error_code: number | null;
  /** Added by migration 0003. */
  error_diag: string | null;
  work_attributes: Record<string, unknown>;
  kill_time: Date | null;
  kill_reason: string | null;
  last_update: Date | null;
  reported_at: Date | null;
  modification_time: Date;
  swept_at: Date | null;
  monitor_unknown: boolean;
  /** int8 arrives as a string. */
  monitor_seq: string;
  /** int8[] arrives as strings. */
  panda_ids: string[];
}

/** Every worker column plus the bound PandaIDs (one index lookup per row on job_workers). */
const SELECT_WORKER = `SELECT w.*,
  ARRAY(SELECT jw.panda_id FROM job_workers jw WHERE jw.worker_id = w.worker_id ORDER BY jw.panda_id) AS panda_ids
  FROM workers w`;

function toWorker(r: WorkerRow): WorkerRecord {
  return {
    workerID: toSafeNumber(r.worker_id),
    harvesterID: r.harvester_id,
    computingSite: r.computing_site,
    configID: r.config_id,
    mapType: r.map_type,
    status: r.status,
    resourceType: r.resource_type,
    jobType: r.job_type,
    pilotType: orUndefined(r.pilot_type),
    prodSourceLabel: orUndefined(r.prod_source_label),
    nCore: r.n_core,
    minRamCount: orUndefined(r.min_ram_count),
    maxDiskCount: orUndefined(r.max_disk_count),
    maxWalltime: orUndefined(r.max_walltime),
    batchID: orUndefined(r.batch_id),
    queueName: orUndefined(r.queue_name),
    computingElement: orUndefined(r.computing_element),
    submissionHost: orUndefined(r.submission_host),
    nodeID: orUndefined(r.node_id),
    accessPoint: orUndefined(r.access_point),
    creationTime: r.creation_time.toISOString(),
    submitTime: isoOrUndefined(r.submit_time),
    startTime: isoOrUndefined(r.start_time),
    endTime: isoOrUndefined(r.end_time),
    nativeStatus: orUndefined(r.native_status),
    nativeExitCode: orUndefined(r.native_exit_code),
    diagMessage: orUndefined(r.diag_message),
    errorCode: orUndefined(r.error_code),
    errorDiag: orUndefined(r.error_diag),
    pandaIDs: r.panda_ids.map(toSafeNumber),
    workAttributes: r.work_attributes,
    killTime: isoOrUndefined(r.kill_time),
    killReason: orUndefined(r.kill_reason),
    lastUpdate: isoOrUndefined(r.last_update),
    reportedAt: isoOrUndefined(r.reported_at),
    modificationTime: r.modification_time.toISOString(),
    sweptAt: isoOrUndefined(r.swept_at),
    monitorUnknown: r.monitor_unknown,
  };
}

/** Result of a status write: whether the status changed, and what it was before (null: no such worker). */
export interface StatusChange {
  changed: boolean;
  previous: WorkerStatus | null;
}

// ---------------------------------------------------------------------------------------------
// Ids and creation

/**
 * Takes n ids from the worker-id sequence. Ids are taken before the rows exist because the id
 * names the batch job; ids of workers that are never inserted are simply skipped (gaps are fine).
 */
export async function allocateWorkerIds(db: Queryable, n: number): Promise<number[]> {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`allocateWorkerIds: n must be a non-negative integer, got ${n}`);
  if (n === 0) return [];
  const res = await db.query<{ id: string }>(
    `SELECT nextval('harvester_worker_id_seq') AS id FROM generate_series(1, $1::int) ORDER BY 1`,
    [n],
  );
  return res.rows.map((r) => toSafeNumber(r.id));
}

/**
 * Makes sure future ids are above maxUsedID. PanDA keys workers by (harvesterID, workerID): after
 * the local DB was lost, the instance must continue above the largest id PanDA already has
 * (harvester/get_current_worker_id), or new workers would overwrite old records there.
 */
export async function reserveWorkerIdsUpTo(db: Queryable, maxUsedID: number): Promise<void> {
  if (!Number.isSafeInteger(maxUsedID) || maxUsedID < 1) return;
  await db.query(
    `SELECT setval('harvester_worker_id_seq', $1::bigint)
       WHERE $1::bigint > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END
                             FROM harvester_worker_id_seq)`,
    [maxUsedID],
  );
}

/**
 * Inserts workers in status `pending` (submission about to start), and binds their PandaIDs.
 * Idempotent on worker_id: a retried activity inserts nothing twice. Returns the ids inserted now.
 */
export async function insertPendingWorkers(db: Queryable, workers: readonly WorkSpec[]): Promise<number[]> {
  if (workers.length === 0) return [];
  for (const w of workers) {
    if (w.status !== 'pending') {
      throw new Error(
        `insertPendingWorkers: worker ${w.workerID} has status ${w.status}; new workers start as pending`,
      );
    }
  }
  // One statement for any number of workers: the rows travel as one JSON parameter.
  const input = workers.map((w) => ({
    worker_id: w.workerID,
    harvester_id: w.harvesterID,
    computing_site: w.computingSite,
    config_id: w.configID,
    map_type: w.mapType,
    resource_type: w.resourceType,
    job_type: w.jobType,
    pilot_type: w.pilotType ?? null,
    prod_source_label: w.prodSourceLabel ?? null,
    n_core: w.nCore,
    min_ram_count: w.minRamCount ?? null,
    max_disk_count: w.maxDiskCount ?? null,
    max_walltime: w.maxWalltime ?? null,
    queue_name: w.queueName ?? null,
    computing_element: w.computingElement ?? null,
    submission_host: w.submissionHost ?? null,
    access_point: w.accessPoint ?? null,
    creation_time: w.creationTime ? toDate(w.creationTime).toISOString() : null,
    work_attributes: w.workAttributes ?? {},
  }));
  return withTransaction(db, async (client) => {
    const res = await client.query<{ worker_id: string }>(
      `INSERT INTO workers (worker_id, harvester_id, computing_site, config_id, map_type, status, resource_type,
          job_type, pilot_type, prod_source_label, n_core, min_ram_count, max_disk_count, max_walltime,
          queue_name, computing_element, submission_host, access_point, creation_time, work_attributes,
          last_update)
       SELECT x.worker_id, x.harvester_id, x.computing_site, x.config_id, x.map_type, 'pending', x.resource_type,
          x.job_type, x.pilot_type, x.prod_source_label, x.n_core, x.min_ram_count, x.max_disk_count, x.max_walltime,
          x.queue_name, x.computing_element, x.submission_host, x.access_point, COALESCE(x.creation_time, now()),
          COALESCE(x.work_attributes, '{}'::jsonb),
          NULL -- pending is local only: nothing to tell PanDA yet
       FROM jsonb_to_recordset($1::jsonb) AS x(worker_id bigint, harvester_id text, computing_site text,
          config_id text, map_type text, resource_type text, job_type text, pilot_type text,
          prod_source_label text, n_core integer, min_ram_count integer, max_disk_count integer,
          max_walltime integer, queue_name text, computing_element text, submission_host text,
          access_point text, creation_time timestamptz, work_attributes jsonb)
       ON CONFLICT (worker_id) DO NOTHING
       RETURNING worker_id`,
      [JSON.stringify(input)],
    );
    const inserted = res.rows.map((r) => toSafeNumber(r.worker_id));
    // Bind jobs only for rows inserted now: a repeated call must not re-bind what a later step changed.
    const insertedSet = new Set(inserted);
    const pairs = workers
      .filter((w) => insertedSet.has(w.workerID))
      .flatMap((w) => (w.pandaIDs ?? []).map((p) => ({ panda_id: p, worker_id: w.workerID })));
    if (pairs.length > 0) {
      await client.query(
        `INSERT INTO job_workers (panda_id, worker_id)
         SELECT panda_id, worker_id FROM jsonb_to_recordset($1::jsonb) AS x(panda_id bigint, worker_id bigint)
         ON CONFLICT DO NOTHING`,
        [JSON.stringify(pairs)],
      );
    }
    return inserted.sort((a, b) => a - b);
  });
}

// ---------------------------------------------------------------------------------------------
// Status

export interface SubmissionResult {
  batchID?: string;
  submissionHost?: string;
  computingElement?: string;
  queueName?: string;
  submitTime: TimeInput;
  status: 'submitted' | 'missed';
  diag?: string;
}

/**
 * Records the outcome of a submit: pending -> submitted (with the batch id) or pending -> missed.
 * Only a pending worker is changed, so a retried activity, or one that lost a race with the monitor
 * that already saw the worker running, changes nothing.
 */
export async function recordSubmission(
  db: Queryable,
  workerID: number,
  result: SubmissionResult,
): Promise<StatusChange> {
  const res = await db.query<{ old_status: WorkerStatus; n: number }>(
    `WITH prev AS (
       SELECT worker_id, status FROM workers WHERE worker_id = $1 FOR UPDATE
     ), upd AS (
       UPDATE workers w SET
         status = $2::text,
         batch_id = COALESCE($3::text, w.batch_id),
         submission_host = COALESCE($4::text, w.submission_host),
         computing_element = COALESCE($5::text, w.computing_element),
         queue_name = COALESCE($6::text, w.queue_name),
         submit_time = $7::timestamptz,
         end_time = CASE WHEN $2::text = 'missed' THEN $7::timestamptz ELSE w.end_time END,
         diag_message = COALESCE(left($8::text, ${DIAG_MAX}), w.diag_message),
         last_update = now(),
         modification_time = now()
       FROM prev
       WHERE w.worker_id = prev.worker_id AND prev.status = 'pending'
       RETURNING w.worker_id
     )
     SELECT prev.status AS old_status, (SELECT count(*) FROM upd)::int AS n FROM prev`,
    [
      workerID,
      result.status,
      result.batchID ?? null,
      result.submissionHost ?? null,
      result.computingElement ?? null,
      result.queueName ?? null,
      toDate(result.submitTime),
      result.diag ?? null,
    ],
  );
  const row = res.rows[0];
  if (!row) return { changed: false, previous: null };
  return { changed: row.n > 0, previous: row.old_status };
}

export interface WorkerStatusUpdate {
  status: WorkerStatus;
  diag?: string;
  nativeStatus?: string;
  nativeExitCode?: number;
  startTime?: TimeInput;
  endTime?: TimeInput;
  nodeID?: string;
  errorCode?: number;
  errorDiag?: string;
}

/**
 * Applies a status observed by a monitor, with Harvester's set_status rules (harvester-spec §3.1):
 * a worker in a final status is never changed; `submitted` is ignored for a running/idle worker
 * (the batch system can briefly report a started job as queued); start_time is set once, on the
 * first move to running; end_time once, on the move to a final status. A status change marks
 * the worker for propagation (last_update). Other fields given are stored even when the status
 * itself is ignored, as long as the worker is not final.
 */
export async function recordWorkerStatus(
  db: Queryable,
  workerID: number,
  update: WorkerStatusUpdate,
): Promise<StatusChange> {
  // prev locks the row so that the decision and the write see the same status; the UPDATE's own
  // WHERE repeats the final-status rule, and the table's trigger backs both up.
  const res = await db.query<{ old_status: WorkerStatus; new_status: WorkerStatus }>(
    `WITH prev AS (
       SELECT worker_id, status FROM workers WHERE worker_id = $1 FOR UPDATE
     ), decision AS (
       SELECT worker_id, status AS old_status,
         CASE
           WHEN status IN ${FINAL_SQL} THEN status
           WHEN $2::text = 'submitted' AND status IN ('running', 'idle') THEN status
           WHEN $2::text = 'pending' THEN status
           ELSE $2::text
         END AS new_status
       FROM prev
     ), upd AS (
       UPDATE workers w SET
         status = d.new_status,
         diag_message = COALESCE(left($3::text, ${DIAG_MAX}), w.diag_message),
         native_status = COALESCE($4::text, w.native_status),
         native_exit_code = COALESCE($5::integer, w.native_exit_code),
         start_time = CASE WHEN d.new_status = 'running' AND w.start_time IS NULL
                           THEN COALESCE($6::timestamptz, now()) ELSE w.start_time END,
         end_time = CASE WHEN d.new_status IN ${FINAL_SQL} AND w.end_time IS NULL
                         THEN COALESCE($7::timestamptz, now()) ELSE w.end_time END,
         node_id = COALESCE($8::text, w.node_id),
         error_code = COALESCE($9::integer, w.error_code),
         error_diag = COALESCE(left($10::text, ${ERROR_DIAG_MAX}), w.error_diag),
         last_update = CASE WHEN d.new_status <> d.old_status THEN now() ELSE w.last_update END,
         modification_time = now()
       FROM decision d
       WHERE w.worker_id = d.worker_id AND w.status NOT IN ${FINAL_SQL}
       RETURNING w.worker_id
     )
     SELECT d.old_status, d.new_status FROM decision d`,
    [
      workerID,
      update.status,
      update.diag ?? null,
      update.nativeStatus ?? null,
      update.nativeExitCode ?? null,
      toDateOrNull(update.startTime),
      toDateOrNull(update.endTime),
      update.nodeID ?? null,
      update.errorCode ?? null,
      update.errorDiag ?? null,
    ],
  );
  const row = res.rows[0];
  if (!row) return { changed: false, previous: null };
  return { changed: row.new_status !== row.old_status, previous: row.old_status };
}

/** What was sent to PanDA for one worker. */
export interface ReportedWorker {
  workerID: number;
  status: WorkerStatus;
}

/**
 * After a successful update_workers: the change is propagated if the status sent is still the
 * current one (a change that arrived while the report was in flight stays pending). Returns the
 * workers that now have nothing left to propagate.
 */
export async function markWorkersReported(
  db: Queryable,
  reports: readonly ReportedWorker[],
  at: TimeInput,
): Promise<number[]> {
  if (reports.length === 0) return [];
  const res = await db.query<{ worker_id: string; last_update: Date | null }>(
    `UPDATE workers w SET
       reported_at = $2::timestamptz,
       last_update = CASE WHEN w.status = r.status THEN NULL ELSE w.last_update END
     FROM jsonb_to_recordset($1::jsonb) AS r(worker_id bigint, status text)
     WHERE w.worker_id = r.worker_id
     RETURNING w.worker_id, w.last_update`,
    [JSON.stringify(reports.map((r) => ({ worker_id: r.workerID, status: r.status }))), toDate(at)],
  );
  return res.rows
    .filter((r) => r.last_update === null)
    .map((r) => toSafeNumber(r.worker_id))
    .sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Reads

export async function getWorker(db: Queryable, workerID: number): Promise<WorkerRecord | null> {
  const res = await db.query<WorkerRow>(`${SELECT_WORKER} WHERE w.worker_id = $1`, [workerID]);
  return res.rows[0] ? toWorker(res.rows[0]) : null;
}

/** Several workers by id, in id order (ids not found are left out). */
export async function getWorkers(db: Queryable, workerIDs: readonly number[]): Promise<WorkerRecord[]> {
  if (workerIDs.length === 0) return [];
  const res = await db.query<WorkerRow>(
    `${SELECT_WORKER} WHERE w.worker_id = ANY($1::bigint[]) ORDER BY w.worker_id`,
    [workerIDs],
  );
  return res.rows.map(toWorker);
}

/** The optional WorkSpec fields a record may carry. */
const OPTIONAL_SPEC_FIELDS = [
  'pilotType',
  'prodSourceLabel',
  'minRamCount',
  'maxDiskCount',
  'maxWalltime',
  'batchID',
  'queueName',
  'computingElement',
  'submissionHost',
  'nodeID',
  'accessPoint',
  'submitTime',
  'startTime',
  'endTime',
  'nativeStatus',
  'nativeExitCode',
  'diagMessage',
  'errorCode',
  'pandaIDs',
] as const satisfies readonly (keyof WorkSpec)[];

/**
 * The WorkSpec part of a record, without the DB's bookkeeping, for workflow inputs: what travels
 * through a history should be what the plugins need, no more. `fields` narrows the optional part
 * (the required identity fields always come along).
 */
export function workSpecOf(
  w: WorkerRecord,
  fields: readonly (typeof OPTIONAL_SPEC_FIELDS)[number][] = OPTIONAL_SPEC_FIELDS,
): WorkSpec {
  const spec: WorkSpec = {
    workerID: w.workerID,
    computingSite: w.computingSite,
    harvesterID: w.harvesterID,
    configID: w.configID,
    mapType: w.mapType,
    status: w.status,
    resourceType: w.resourceType,
    jobType: w.jobType,
    nCore: w.nCore,
    creationTime: w.creationTime,
  };
  for (const key of fields) {
    const value = w[key];
    if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
    (spec as unknown as Record<string, unknown>)[key] = Array.isArray(value) ? [...value] : value;
  }
  return spec;
}

/** Workers of a queue that still occupy the resource (non-final, not swept), oldest first. */
export async function listLiveWorkers(
  db: Queryable,
  queueName: string,
  harvesterID?: string,
  page?: { afterWorkerID: number; limit: number; withBatchIDOnly?: boolean },
): Promise<WorkerRecord[]> {
  const res = await db.query<WorkerRow>(
    `${SELECT_WORKER}
     WHERE w.computing_site = $1 AND ($2::text IS NULL OR w.harvester_id = $2)
       AND w.swept_at IS NULL AND w.status IN ${LIVE_SQL}
       AND w.worker_id > $3 AND (NOT $5::boolean OR (w.batch_id IS NOT NULL AND w.status <> 'pending'))
     ORDER BY w.worker_id
     LIMIT $4`,
    [
      queueName,
      harvesterID ?? null,
      page?.afterWorkerID ?? 0,
      page?.limit ?? null,
      page?.withBatchIDOnly ?? false,
    ],
  );
  return res.rows.map(toWorker);
}

/** Workers of a queue by batch id: the queue monitor maps one bulk batch-system answer back to workers. */
export async function findWorkersByBatchIDs(
  db: Queryable,
  queueName: string,
  batchIDs: readonly string[],
): Promise<WorkerRecord[]> {
  if (batchIDs.length === 0) return [];
  const res = await db.query<WorkerRow>(
    `${SELECT_WORKER} WHERE w.computing_site = $1 AND w.batch_id = ANY($2::text[]) ORDER BY w.worker_id`,
    [queueName, batchIDs],
  );
  return res.rows.map(toWorker);
}

/** Harvester's static_num_workers entry for one (jobType, resourceType). */
export interface WorkerStateCounts {
  /** pending + submitted + idle: workers waiting in (or on their way to) the batch queue. */
  nQueue: number;
  nReady: number;
  nRunning: number;
  /** Sum of nCore over the counted (live) workers. */
  cores: number;
  /** Sum of minRamCount (MB) over the counted (live) workers. */
  memory: number;
  /** nCore and minRamCount (MB) summed over the queued (nQueue) and the running workers only: the adjuster's cores/memory limits. */
  queuedCores: number;
  queuedMemory: number;
  runningCores: number;
  runningMemory: number;
}

/** jobType -> resourceType -> counts. */
export type WorkerCountsByType = Record<string, Record<string, WorkerStateCounts>>;

/**
 * Live workers of one queue and instance counted by state, per (jobType, resourceType): the input
 * of the worker adjuster. Kill-marked workers still count: they occupy the queue until they end.
 */
export async function countWorkersByState(
  db: Queryable,
  queueName: string,
  harvesterID: string,
): Promise<WorkerCountsByType> {
  const res = await db.query<{
    job_type: string;
    resource_type: string;
    n_queue: number;
    n_ready: number;
    n_running: number;
    cores: string;
    memory: string;
    queued_cores: string;
    queued_memory: string;
    running_cores: string;
    running_memory: string;
  }>(
    `SELECT job_type, resource_type,
       count(*) FILTER (WHERE status IN ('pending', 'submitted', 'idle'))::int AS n_queue,
       count(*) FILTER (WHERE status = 'ready')::int AS n_ready,
       count(*) FILTER (WHERE status = 'running')::int AS n_running,
       COALESCE(sum(n_core), 0)::bigint AS cores,
       COALESCE(sum(min_ram_count), 0)::bigint AS memory,
       COALESCE(sum(n_core) FILTER (WHERE status IN ('pending', 'submitted', 'idle')), 0)::bigint AS queued_cores,
       COALESCE(sum(min_ram_count) FILTER (WHERE status IN ('pending', 'submitted', 'idle')), 0)::bigint
         AS queued_memory,
       COALESCE(sum(n_core) FILTER (WHERE status = 'running'), 0)::bigint AS running_cores,
       COALESCE(sum(min_ram_count) FILTER (WHERE status = 'running'), 0)::bigint AS running_memory
     FROM workers
     WHERE computing_site = $1 AND harvester_id = $2 AND swept_at IS NULL AND status IN ${LIVE_SQL}
     GROUP BY job_type, resource_type`,
    [queueName, harvesterID],
  );
  const out: WorkerCountsByType = {};
  for (const r of res.rows) {
    out[r.job_type] ??= {};
    out[r.job_type][r.resource_type] = {
      nQueue: r.n_queue,
      nReady: r.n_ready,
      nRunning: r.n_running,
      cores: toSafeNumber(r.cores),
      memory: toSafeNumber(r.memory),
      queuedCores: toSafeNumber(r.queued_cores),
      queuedMemory: toSafeNumber(r.queued_memory),
      runningCores: toSafeNumber(r.running_cores),
      runningMemory: toSafeNumber(r.running_memory),
    };
  }
  return out;
}

/**
 * Workers that went `missed` since an instant, for SimpleThrottler's rulesForMissed (Harvester:
 * get_num_missed_workers). The window is on the submit time, or the creation time of a worker whose
 * submit never got as far as a time. Exactly one of siteName / computingSite / computingElement narrows it.
 */
export async function countMissedWorkers(
  db: Queryable,
  harvesterID: string,
  q: { since: string; siteName?: string; computingSite?: string; computingElement?: string },
): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers w
     LEFT JOIN queues q ON q.harvester_id = w.harvester_id AND q.queue_name = w.computing_site
     WHERE w.harvester_id = $1 AND w.status = 'missed'
       AND COALESCE(w.submit_time, w.creation_time) >= $2::timestamptz
       AND ($3::text IS NULL OR COALESCE(q.site_name, w.computing_site) = $3)
       AND ($4::text IS NULL OR w.computing_site = $4)
       AND ($5::text IS NULL OR w.computing_element = $5)`,
    [harvesterID, q.since, q.siteName ?? null, q.computingSite ?? null, q.computingElement ?? null],
  );
  return res.rows[0].n;
}

// ---------------------------------------------------------------------------------------------
// Kill and sweep

/** A list of values to match, or 'ALL' (no restriction), as in KILL_WORKERS parameters. */
export type Selector<T extends string = string> = readonly T[] | 'ALL';

/**
 * Which workers to mark. A missing field does not restrict; 'ALL' says so explicitly; an empty
 * list matches nothing. KILL_WORKERS' own rules (default status [submitted], a missing list makes
 * the command a no-op) belong to the command handler, which builds this filter.
 */
export interface KillFilter {
  workerIDs?: readonly number[];
  /** Workers bound to these jobs (PanDA answered `tobekilled` for them). */
  pandaIDs?: readonly number[];
  harvesterID?: string;
  computingSite?: Selector;
  status?: Selector<WorkerStatus>;
  computingElement?: Selector;
  submissionHost?: Selector;
}

function selectorParam(s: Selector | undefined): readonly string[] | null {
  return s === undefined || s === 'ALL' ? null : s;
}

/**
 * Marks matching workers to be killed: only non-final, unswept workers; a worker marked already
 * keeps its first reason and time. Returns the ids marked now, or with `alsoMarked` every matching
 * live worker, marked now or before: a command applied again after it failed half-way (its
 * signals cut off) then reaches the workers it had marked but not yet told.
 * A filter with no field at all is refused: "kill everything" must be said with 'ALL'.
 */
export async function markWorkersToKill(
  db: Queryable,
  filter: KillFilter,
  reason: string,
  opts: { killAt?: TimeInput; alsoMarked?: boolean } = {},
): Promise<number[]> {
  const given = Object.values(filter).filter((v) => v !== undefined);
  if (given.length === 0)
    throw new Error('markWorkersToKill: empty filter; pass "ALL" explicitly to match every worker');
  const res = await db.query<{ worker_id: string }>(
    `UPDATE workers w SET
       kill_time = COALESCE(w.kill_time, $1::timestamptz, now()),
       kill_reason = CASE WHEN w.kill_time IS NULL THEN left($2::text, ${DIAG_MAX}) ELSE w.kill_reason END,
       modification_time = CASE WHEN w.kill_time IS NULL THEN now() ELSE w.modification_time END
     WHERE (w.kill_time IS NULL OR $10::boolean) AND w.swept_at IS NULL AND w.status IN ${LIVE_SQL}
       AND ($3::bigint[] IS NULL OR w.worker_id = ANY($3::bigint[]))
       AND ($4::bigint[] IS NULL OR EXISTS (
             SELECT 1 FROM job_workers jw WHERE jw.worker_id = w.worker_id AND jw.panda_id = ANY($4::bigint[])))
       AND ($5::text IS NULL OR w.harvester_id = $5::text)
       AND ($6::text[] IS NULL OR w.computing_site = ANY($6::text[]))
       AND ($7::text[] IS NULL OR w.status = ANY($7::text[]))
       AND ($8::text[] IS NULL OR w.computing_element = ANY($8::text[]))
       AND ($9::text[] IS NULL OR w.submission_host = ANY($9::text[]))
     RETURNING w.worker_id`,
    [
      toDateOrNull(opts.killAt),
      reason,
      filter.workerIDs ?? null,
      filter.pandaIDs ?? null,
      filter.harvesterID ?? null,
      selectorParam(filter.computingSite),
      selectorParam(filter.status),
      selectorParam(filter.computingElement),
      selectorParam(filter.submissionHost),
      opts.alsoMarked === true,
    ],
  );
  return res.rows.map((r) => toSafeNumber(r.worker_id)).sort((a, b) => a - b);
}

/** Kill-marked workers of a queue whose kill is due (kill_time <= now) and not yet effective. */
export async function listKillMarkedWorkers(
  db: Queryable,
  queueName: string,
  now: TimeInput,
  harvesterID?: string,
): Promise<WorkerRecord[]> {
  const res = await db.query<WorkerRow>(
    `${SELECT_WORKER}
     WHERE w.kill_time IS NOT NULL AND w.kill_time <= $2::timestamptz AND w.status IN ${LIVE_SQL}
       AND w.swept_at IS NULL AND w.computing_site = $1 AND ($3::text IS NULL OR w.harvester_id = $3)
     ORDER BY w.kill_time, w.worker_id`,
    [queueName, toDate(now), harvesterID ?? null],
  );
  return res.rows.map(toWorker);
}

/** Hours a worker is kept after it ended, per final status (pending: after creation). */
export interface KeepHours {
  finished: number;
  failed: number;
  cancelled: number;
  missed: number;
  pending: number;
}

/** Harvester's defaults (harvester-spec §9). */
export const DEFAULT_KEEP_HOURS: Readonly<KeepHours> = {
  finished: 24,
  failed: 72,
  cancelled: 72,
  missed: 24,
  pending: 24,
};

/**
 * Workers due for cleanup: final, fully reported to PanDA (last_update NULL), ended longer ago than
 * the keep time of their status, with no bound job still waiting to be reported; plus workers stuck
 * in pending (an orphaned submission) for longer than keepHours.pending.
 */
export async function listWorkersToSweep(
  db: Queryable,
  now: TimeInput,
  keepHours: KeepHours,
  opts: { queueName?: string; harvesterID?: string; limit?: number } = {},
): Promise<WorkerRecord[]> {
  const res = await db.query<WorkerRow>(
    `${SELECT_WORKER}
     WHERE w.swept_at IS NULL
       AND ($7::text IS NULL OR w.computing_site = $7::text)
       AND ($8::text IS NULL OR w.harvester_id = $8::text)
       AND (
         (w.status IN ${FINAL_SQL}
          AND w.last_update IS NULL
          AND COALESCE(w.end_time, w.modification_time) <= $1::timestamptz - (CASE w.status
                WHEN 'finished' THEN $2::float8 WHEN 'failed' THEN $3::float8
                WHEN 'cancelled' THEN $4::float8 ELSE $5::float8 END) * interval '1 hour'
          AND NOT EXISTS (SELECT 1 FROM job_workers jw JOIN jobs j ON j.panda_id = jw.panda_id
                          WHERE jw.worker_id = w.worker_id AND j.propagator_time IS NOT NULL))
         OR (w.status = 'pending' AND w.creation_time <= $1::timestamptz - $6::float8 * interval '1 hour')
       )
     ORDER BY COALESCE(w.end_time, w.creation_time), w.worker_id
     LIMIT $9`,
    [
      toDate(now),
      keepHours.finished,
      keepHours.failed,
      keepHours.cancelled,
      keepHours.missed,
      keepHours.pending,
      opts.queueName ?? null,
      opts.harvesterID ?? null,
      opts.limit ?? null,
    ],
  );
  return res.rows.map(toWorker);
}

/** Records that a worker was cleaned up. Returns false if it was already marked (a repeated call). */
export async function markSwept(db: Queryable, workerID: number): Promise<boolean> {
  const res = await db.query(
    `UPDATE workers SET swept_at = now(), modification_time = now() WHERE worker_id = $1 AND swept_at IS NULL`,
    [workerID],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Records which workers the last bulk status query could not tell (true) or can tell again
 * (false): the monitor's "unknown before" for the next cycle, kept here instead of in the queue
 * workflow's history.
 */
export async function setMonitorUnknown(
  db: Queryable,
  workerIDs: readonly number[],
  unknown: boolean,
): Promise<void> {
  if (workerIDs.length === 0) return;
  await db.query(
    'UPDATE workers SET monitor_unknown = $2 WHERE worker_id = ANY($1::bigint[]) AND monitor_unknown <> $2',
    [workerIDs, unknown],
  );
}

/**
 * The highest monitor_seq every committed change is at or below. A writer takes its sequence
 * number inside its statement and commits after, so a bare max(monitor_seq) could pass over a row
 * that commits later with a lower number; a SHARE lock waits for the writers in flight (their
 * statements are short) and holds new ones for the one read.
 */
export async function monitorSeqHorizon(db: Db): Promise<number> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query('LOCK TABLE workers IN SHARE MODE');
    const res = await client.query<{ last_value: string; is_called: boolean }>(
      'SELECT last_value, is_called FROM worker_monitor_seq',
    );
    await client.query('COMMIT');
    const row = res.rows[0];
    return row.is_called ? toSafeNumber(row.last_value) : 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/** A worker row changed for the monitor, with its sequence number. */
export interface MonitorChangeRow {
  seq: number;
  worker: WorkerRecord;
  /** Still a live worker with a batch job (else it leaves the monitor's view). */
  live: boolean;
}

/**
 * Rows of a queue whose monitor-relevant columns changed after afterSeq, up to horizon, in
 * sequence order; from 0 only live rows (a full sync needs no removals).
 */
export async function listMonitorChanges(
  db: Queryable,
  queueName: string,
  harvesterID: string,
  range: { afterSeq: number; horizon: number; limit: number },
): Promise<MonitorChangeRow[]> {
  const res = await db.query<WorkerRow>(
    `${SELECT_WORKER}
     WHERE w.computing_site = $1 AND w.harvester_id = $2 AND w.monitor_seq > $3 AND w.monitor_seq <= $4
       AND ($3 > 0 OR (w.swept_at IS NULL AND w.status IN ${LIVE_SQL}))
     ORDER BY w.monitor_seq
     LIMIT $5`,
    [queueName, harvesterID, range.afterSeq, range.horizon, range.limit],
  );
  return res.rows.map((r) => {
    const worker = toWorker(r);
    const live =
      !r.swept_at && !isFinalWorkerStatus(r.status) && r.status !== 'pending' && worker.batchID !== undefined;
    return { seq: toSafeNumber(r.monitor_seq), worker, live };
  });
}

/** The configs a queue's live workers were made with (the monitor's groups). */
export async function liveConfigIDs(
  db: Queryable,
  queueName: string,
  harvesterID: string,
): Promise<string[]> {
  const res = await db.query<{ config_id: string }>(
    `SELECT DISTINCT config_id FROM workers
     WHERE computing_site = $1 AND harvester_id = $2 AND swept_at IS NULL AND status IN ${LIVE_SQL}
     ORDER BY config_id`,
    [queueName, harvesterID],
  );
  return res.rows.map((r) => r.config_id);
}
