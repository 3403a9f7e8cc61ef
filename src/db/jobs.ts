/**
 * Data access for jobs (Harvester's job_table) and their relation to workers (jw_table).
 * Job parameters and attributes are JSONB: PanDA and the pilot add attributes over time, and
 * those must round-trip without a migration.
 */
import type { JobSpec, JobStatus, JobSubStatus } from '../core/specs';
import type { WorkerStatus } from '../core/workerStatus';
import {
  isoOrUndefined,
  orUndefined,
  type Queryable,
  type TimeInput,
  toDate,
  toDateOrNull,
  toSafeNumber,
} from './sql';

const FINAL_JOB_SQL = `('finished', 'failed', 'cancelled', 'missed')`;

/** A job as stored: the spec plus the propagation bookkeeping. */
export interface JobRecord extends JobSpec {
  creationTime: string;
  modificationTime: string;
  stateChangeTime?: string;
  /** Last report to PanDA (epoch = report at once); absent = nothing more to report. */
  propagatorTime?: string;
  /** When the job reached subStatus `done` (its final report was accepted). */
  doneAt?: string;
}

interface JobRow {
  panda_id: string;
  task_id: string | null;
  attempt_nr: number | null;
  status: JobStatus;
  sub_status: JobSubStatus;
  computing_site: string;
  config_id: string | null;
  resource_type: string | null;
  n_core: number | null;
  job_params: Record<string, unknown>;
  job_attributes: Record<string, unknown>;
  creation_time: Date;
  modification_time: Date;
  state_change_time: Date | null;
  start_time: Date | null;
  end_time: Date | null;
  propagator_time: Date | null;
  done_at: Date | null;
}

function toJob(r: JobRow): JobRecord {
  return {
    PandaID: toSafeNumber(r.panda_id),
    taskID: r.task_id == null ? undefined : toSafeNumber(r.task_id),
    attemptNr: orUndefined(r.attempt_nr),
    status: r.status,
    subStatus: r.sub_status,
    computingSite: r.computing_site,
    configID: orUndefined(r.config_id),
    resourceType: orUndefined(r.resource_type),
    nCore: orUndefined(r.n_core),
    jobParams: r.job_params,
    jobAttributes: r.job_attributes,
    startTime: isoOrUndefined(r.start_time),
    endTime: isoOrUndefined(r.end_time),
    creationTime: r.creation_time.toISOString(),
    modificationTime: r.modification_time.toISOString(),
    stateChangeTime: isoOrUndefined(r.state_change_time),
    propagatorTime: isoOrUndefined(r.propagator_time),
    doneAt: isoOrUndefined(r.done_at),
  };
}

export interface UpsertJobsResult {
  inserted: number[];
  updated: number[];
}

/**
 * Inserts jobs, or refreshes jobs already known (PanDA can hand out the same job again after a
 * lost reply). A job already in a final status is left untouched. A new non-final job's first
 * heartbeat is due one interval after it arrived; a status change makes a report due at once.
 */
export async function upsertJobs(db: Queryable, jobs: readonly JobSpec[]): Promise<UpsertJobsResult> {
  if (jobs.length === 0) return { inserted: [], updated: [] };
  // One statement cannot upsert the same key twice; the last spec given for a PandaID wins.
  const unique = [...new Map(jobs.map((j) => [j.PandaID, j])).values()];
  const input = unique.map((j) => ({
    panda_id: j.PandaID,
    task_id: j.taskID ?? null,
    attempt_nr: j.attemptNr ?? null,
    status: j.status,
    sub_status: j.subStatus,
    computing_site: j.computingSite,
    config_id: j.configID ?? null,
    resource_type: j.resourceType ?? null,
    n_core: j.nCore ?? null,
    job_params: j.jobParams,
    job_attributes: j.jobAttributes,
    start_time: j.startTime ? toDate(j.startTime).toISOString() : null,
    end_time: j.endTime ? toDate(j.endTime).toISOString() : null,
  }));
  // xmax = 0 only on a freshly inserted tuple: the usual way to tell insert from update in one upsert.
  const res = await db.query<{ panda_id: string; inserted: boolean }>(
    `INSERT INTO jobs AS j (panda_id, task_id, attempt_nr, status, sub_status, computing_site, config_id,
        resource_type, n_core, job_params, job_attributes, start_time, end_time, state_change_time, propagator_time)
     SELECT x.panda_id, x.task_id, x.attempt_nr, x.status, x.sub_status, x.computing_site, x.config_id,
        x.resource_type, x.n_core, COALESCE(x.job_params, '{}'::jsonb), COALESCE(x.job_attributes, '{}'::jsonb),
        x.start_time, x.end_time, now(),
        CASE WHEN x.status IN ${FINAL_JOB_SQL} THEN 'epoch'::timestamptz ELSE now() END
     FROM jsonb_to_recordset($1::jsonb) AS x(panda_id bigint, task_id bigint, attempt_nr integer, status text,
        sub_status text, computing_site text, config_id text, resource_type text, n_core integer,
        job_params jsonb, job_attributes jsonb, start_time timestamptz, end_time timestamptz)
     ON CONFLICT (panda_id) DO UPDATE SET
        task_id = COALESCE(EXCLUDED.task_id, j.task_id),
        attempt_nr = COALESCE(EXCLUDED.attempt_nr, j.attempt_nr),
        status = EXCLUDED.status,
        sub_status = EXCLUDED.sub_status,
        computing_site = EXCLUDED.computing_site,
        config_id = COALESCE(EXCLUDED.config_id, j.config_id),
        resource_type = COALESCE(EXCLUDED.resource_type, j.resource_type),
        n_core = COALESCE(EXCLUDED.n_core, j.n_core),
        job_params = EXCLUDED.job_params,
        job_attributes = EXCLUDED.job_attributes,
        start_time = COALESCE(j.start_time, EXCLUDED.start_time),
        end_time = COALESCE(j.end_time, EXCLUDED.end_time),
        state_change_time = CASE WHEN (j.status, j.sub_status) IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.sub_status)
                                 THEN now() ELSE j.state_change_time END,
        propagator_time = CASE WHEN j.status IS DISTINCT FROM EXCLUDED.status THEN 'epoch'::timestamptz
                               ELSE j.propagator_time END,
        modification_time = now()
     WHERE j.status NOT IN ${FINAL_JOB_SQL}
     RETURNING j.panda_id, (j.xmax = 0) AS inserted`,
    [JSON.stringify(input)],
  );
  const out: UpsertJobsResult = { inserted: [], updated: [] };
  for (const r of res.rows) (r.inserted ? out.inserted : out.updated).push(toSafeNumber(r.panda_id));
  out.inserted.sort((a, b) => a - b);
  out.updated.sort((a, b) => a - b);
  return out;
}

export async function getJob(db: Queryable, pandaID: number): Promise<JobRecord | null> {
  const res = await db.query<JobRow>('SELECT * FROM jobs WHERE panda_id = $1', [pandaID]);
  return res.rows[0] ? toJob(res.rows[0]) : null;
}

/** Binds jobs to a worker (idempotent). Returns how many bindings are new. */
export async function bindJobsToWorker(
  db: Queryable,
  workerID: number,
  pandaIDs: readonly number[],
  relationType?: string,
): Promise<number> {
  if (pandaIDs.length === 0) return 0;
  const res = await db.query(
    `INSERT INTO job_workers (panda_id, worker_id, relation_type)
     SELECT p, $1::bigint, $3::text FROM unnest($2::bigint[]) AS p
     ON CONFLICT (panda_id, worker_id) DO NOTHING`,
    [workerID, pandaIDs, relationType ?? null],
  );
  return res.rowCount ?? 0;
}

/**
 * Push mode: jobs fetched for a queue that no worker took yet (a ManyToOne/OneToMany cycle or a
 * failed submission can leave some), oldest first, fetched less than maxAgeSeconds ago; the next
 * submitter cycle uses them before asking PanDA for more.
 */
export async function listUnboundJobs(
  db: Queryable,
  computingSite: string,
  maxAgeSeconds = UNBOUND_JOB_MAX_AGE_SECONDS,
): Promise<JobRecord[]> {
  const res = await db.query<JobRow>(
    `SELECT j.* FROM jobs j
     WHERE j.computing_site = $1 AND j.status = 'starting' AND j.sub_status = 'prepared'
       AND j.creation_time > now() - make_interval(secs => $2)
       AND NOT EXISTS (SELECT 1 FROM job_workers jw WHERE jw.panda_id = j.panda_id)
     ORDER BY j.panda_id`,
    [computingSite, maxAgeSeconds],
  );
  return res.rows.map(toJob);
}

/**
 * PanDA's watcher fails a job dispatched (`sent`) but not started within 30 minutes: a job left over
 * longer than this is not given to a new pilot.
 */
export const UNBOUND_JOB_MAX_AGE_SECONDS = 20 * 60;

/** The workers bound to each job and their statuses (OneToMany: one job, several workers). */
export async function workersOfJobs(
  db: Queryable,
  pandaIDs: readonly number[],
): Promise<Map<number, { workerID: number; status: WorkerStatus }[]>> {
  const out = new Map<number, { workerID: number; status: WorkerStatus }[]>();
  if (pandaIDs.length === 0) return out;
  const res = await db.query<{ panda_id: string; worker_id: string; status: WorkerStatus }>(
    `SELECT jw.panda_id, jw.worker_id, w.status FROM job_workers jw
     JOIN workers w ON w.worker_id = jw.worker_id
     WHERE jw.panda_id = ANY($1::bigint[]) ORDER BY jw.panda_id, jw.worker_id`,
    [pandaIDs],
  );
  for (const r of res.rows) {
    const list = out.get(Number(r.panda_id)) ?? [];
    list.push({ workerID: Number(r.worker_id), status: r.status });
    out.set(Number(r.panda_id), list);
  }
  return out;
}

/** Releases a worker's jobs (a submission that failed for now): they become free for other workers. */
export async function unbindJobsFromWorker(db: Queryable, workerID: number): Promise<number> {
  const res = await db.query('DELETE FROM job_workers WHERE worker_id = $1', [workerID]);
  return res.rowCount ?? 0;
}

/** Jobs bound to a worker that are in the jobs table (pull-mode PandaIDs may not be). */
export async function listJobsOfWorker(db: Queryable, workerID: number): Promise<JobRecord[]> {
  const res = await db.query<JobRow>(
    `SELECT j.* FROM jobs j JOIN job_workers jw ON jw.panda_id = j.panda_id
     WHERE jw.worker_id = $1 ORDER BY j.panda_id`,
    [workerID],
  );
  return res.rows.map(toJob);
}

export interface JobStatusUpdate {
  status: JobStatus;
  subStatus: JobSubStatus;
  /** Merged (top level) into job_attributes, e.g. the pilot's job report. */
  attributes?: Record<string, unknown>;
  startTime?: TimeInput;
  endTime?: TimeInput;
}

export interface JobStatusChange {
  changed: boolean;
  previous: { status: JobStatus; subStatus: JobSubStatus } | null;
}

/**
 * Moves a job to a new (status, subStatus), e.g. from its worker's status (convert_to_job_status).
 * A final job status is never replaced, but its subStatus still advances (to_transfer ->
 * transferring -> staged ...) except after `done`. A change makes a report to PanDA due at once.
 */
export async function updateJobStatus(
  db: Queryable,
  pandaID: number,
  update: JobStatusUpdate,
): Promise<JobStatusChange> {
  const res = await db.query<{
    old_status: JobStatus;
    old_sub_status: JobSubStatus;
    new_status: JobStatus;
    new_sub_status: JobSubStatus;
  }>(
    `WITH prev AS (
       SELECT panda_id, status, sub_status FROM jobs WHERE panda_id = $1 FOR UPDATE
     ), decision AS (
       SELECT panda_id, status AS old_status, sub_status AS old_sub_status,
         CASE WHEN status IN ${FINAL_JOB_SQL} THEN status ELSE $2::text END AS new_status,
         CASE WHEN sub_status = 'done' THEN sub_status ELSE $3::text END AS new_sub_status
       FROM prev
     ), upd AS (
       UPDATE jobs j SET
         status = d.new_status,
         sub_status = d.new_sub_status,
         job_attributes = j.job_attributes || COALESCE($4::jsonb, '{}'::jsonb),
         start_time = CASE WHEN d.new_status = 'running' AND j.start_time IS NULL
                           THEN COALESCE($5::timestamptz, now()) ELSE j.start_time END,
         end_time = CASE WHEN d.new_status IN ${FINAL_JOB_SQL} AND j.end_time IS NULL
                         THEN COALESCE($6::timestamptz, now()) ELSE j.end_time END,
         state_change_time = CASE WHEN (d.new_status, d.new_sub_status) IS DISTINCT FROM (d.old_status, d.old_sub_status)
                                  THEN now() ELSE j.state_change_time END,
         propagator_time = CASE WHEN (d.new_status, d.new_sub_status) IS DISTINCT FROM (d.old_status, d.old_sub_status)
                                     AND j.propagator_time IS NOT NULL
                                THEN 'epoch'::timestamptz ELSE j.propagator_time END,
         modification_time = now()
       FROM decision d
       WHERE j.panda_id = d.panda_id
       RETURNING j.panda_id
     )
     SELECT old_status, old_sub_status, new_status, new_sub_status FROM decision`,
    [
      pandaID,
      update.status,
      update.subStatus,
      update.attributes === undefined ? null : JSON.stringify(update.attributes),
      toDateOrNull(update.startTime),
      toDateOrNull(update.endTime),
    ],
  );
  const row = res.rows[0];
  if (!row) return { changed: false, previous: null };
  return {
    changed: row.new_status !== row.old_status || row.new_sub_status !== row.old_sub_status,
    previous: { status: row.old_status, subStatus: row.old_sub_status },
  };
}

/** Merges attributes into job_attributes (top-level keys replaced). Returns false if there is no such job. */
export async function mergeJobAttributes(
  db: Queryable,
  pandaID: number,
  attributes: Record<string, unknown>,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE jobs SET job_attributes = job_attributes || $2::jsonb, modification_time = now() WHERE panda_id = $1`,
    [pandaID, JSON.stringify(attributes)],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * Jobs of a queue whose heartbeat is due: last reported at least intervalSeconds before now (or
 * flagged for an immediate report). Oldest first, so a limited batch never starves a job.
 */
export async function listDueJobHeartbeats(
  db: Queryable,
  queueName: string,
  now: TimeInput,
  intervalSeconds: number,
  limit?: number,
): Promise<JobRecord[]> {
  const res = await db.query<JobRow>(
    `SELECT * FROM jobs
     WHERE computing_site = $1 AND propagator_time IS NOT NULL
       AND propagator_time <= $2::timestamptz - $3::float8 * interval '1 second'
     ORDER BY propagator_time, panda_id
     LIMIT $4`,
    [queueName, toDate(now), intervalSeconds, limit ?? null],
  );
  return res.rows.map(toJob);
}

/**
 * A job reported to PanDA. finalStatus is set only when the report was the job's final one (status
 * finished/failed/cancelled/missed, output report included), not a `transferring` heartbeat.
 */
export interface ReportedJob {
  pandaID: number;
  finalStatus?: JobStatus;
}

/**
 * After a successful update_jobs. A plain PandaID (or no finalStatus) means "heartbeat sent": the
 * next one is due one interval after `at`. A final report completes the job (subStatus done,
 * nothing more to send) only if the job still has that status, so a report built from a stale
 * read never closes a job PanDA has not seen in its final state. Returns the jobs completed now.
 */
export async function markJobsReported(
  db: Queryable,
  reports: readonly (number | ReportedJob)[],
  at: TimeInput,
): Promise<number[]> {
  if (reports.length === 0) return [];
  const input = reports.map((r) =>
    typeof r === 'number'
      ? { panda_id: r, final_status: null }
      : { panda_id: r.pandaID, final_status: r.finalStatus ?? null },
  );
  // The final report closes the job only if the job still has the status that was reported.
  const isFinal = `(r.final_status IN ${FINAL_JOB_SQL} AND j.status = r.final_status)`;
  const res = await db.query<{ panda_id: string; done: boolean }>(
    `WITH r AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(panda_id bigint, final_status text)
     )
     UPDATE jobs j SET
       propagator_time = CASE WHEN ${isFinal} THEN NULL ELSE $2::timestamptz END,
       sub_status = CASE WHEN ${isFinal} THEN 'done' ELSE j.sub_status END,
       done_at = CASE WHEN ${isFinal} THEN $2::timestamptz ELSE j.done_at END,
       modification_time = now()
     FROM r
     WHERE j.panda_id = r.panda_id AND j.propagator_time IS NOT NULL
     RETURNING j.panda_id, j.propagator_time IS NULL AS done`,
    [JSON.stringify(input), toDate(at)],
  );
  return res.rows
    .filter((r) => r.done)
    .map((r) => toSafeNumber(r.panda_id))
    .sort((a, b) => a - b);
}

/** Jobs done longer than keepHours before now: Harvester deletes them max(keep)+1 h after `done`. */
export async function listJobsToPurge(
  db: Queryable,
  now: TimeInput,
  keepHours: number,
  limit?: number,
): Promise<number[]> {
  const res = await db.query<{ panda_id: string }>(
    `SELECT panda_id FROM jobs WHERE done_at IS NOT NULL AND done_at <= $1::timestamptz - $2::float8 * interval '1 hour'
     ORDER BY done_at, panda_id LIMIT $3`,
    [toDate(now), keepHours, limit ?? null],
  );
  return res.rows.map((r) => toSafeNumber(r.panda_id));
}

/** Deletes jobs (their files go with them). Worker relations stay: they are the workers' record. */
export async function deleteJobs(db: Queryable, pandaIDs: readonly number[]): Promise<number> {
  if (pandaIDs.length === 0) return 0;
  const res = await db.query('DELETE FROM jobs WHERE panda_id = ANY($1::bigint[])', [pandaIDs]);
  return res.rowCount ?? 0;
}
