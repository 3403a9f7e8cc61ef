/**
 * Data access for PanDA queues served by an instance (Harvester's pq_table): the limits PanDA set,
 * operator pause/drain flags, and nNewWorkers per (jobType, resourceType) from SET_N_WORKERS_JOBTYPE.
 */
import { isoOrUndefined, orUndefined, type Queryable, withTransaction } from './sql';

/** Queue limits as PanDA/CRIC set them; null = not set (the adjuster then uses its default). */
export interface QueueLimits {
  nQueueLimitJob: number | null;
  nQueueLimitJobRatio: number | null;
  nQueueLimitJobMax: number | null;
  nQueueLimitJobMin: number | null;
  nQueueLimitWorker: number | null;
  nQueueLimitWorkerRatio: number | null;
  nQueueLimitWorkerMax: number | null;
  nQueueLimitWorkerMin: number | null;
  maxWorkers: number | null;
  maxNewWorkersPerCycle: number | null;
}

/** Limit field -> column. Column names in SQL come only from this fixed map, never from input. */
const LIMIT_COLUMNS: Readonly<Record<keyof QueueLimits, string>> = {
  nQueueLimitJob: 'n_queue_limit_job',
  nQueueLimitJobRatio: 'n_queue_limit_job_ratio',
  nQueueLimitJobMax: 'n_queue_limit_job_max',
  nQueueLimitJobMin: 'n_queue_limit_job_min',
  nQueueLimitWorker: 'n_queue_limit_worker',
  nQueueLimitWorkerRatio: 'n_queue_limit_worker_ratio',
  nQueueLimitWorkerMax: 'n_queue_limit_worker_max',
  nQueueLimitWorkerMin: 'n_queue_limit_worker_min',
  maxWorkers: 'max_workers',
  maxNewWorkersPerCycle: 'max_new_workers_per_cycle',
};
const LIMIT_KEYS = Object.keys(LIMIT_COLUMNS) as (keyof QueueLimits)[];

/** jobType -> resourceType -> n. */
export type NNewWorkers = Record<string, Record<string, number>>;

export interface QueueRecord {
  harvesterID: string;
  queueName: string;
  configID: string;
  siteName?: string;
  pandaStatus?: string;
  paused: boolean;
  draining: boolean;
  pauseReason?: string;
  limits: QueueLimits;
  limitsUpdatedAt?: string;
  nNewWorkers: NNewWorkers;
  createdAt: string;
  updatedAt: string;
}

type QueueRow = {
  harvester_id: string;
  queue_name: string;
  config_id: string;
  site_name: string | null;
  panda_status: string | null;
  paused: boolean;
  draining: boolean;
  pause_reason: string | null;
  limits_updated_at: Date | null;
  created_at: Date;
  updated_at: Date;
  new_workers: { job_type: string; resource_type: string; n: number }[];
} & Record<string, unknown>;

const SELECT_QUEUE = `SELECT q.*,
  COALESCE((SELECT jsonb_agg(jsonb_build_object('job_type', n.job_type, 'resource_type', n.resource_type,
                                                 'n', n.n_new_workers) ORDER BY n.job_type, n.resource_type)
            FROM queue_new_workers n WHERE n.harvester_id = q.harvester_id AND n.queue_name = q.queue_name),
           '[]'::jsonb) AS new_workers
  FROM queues q`;

function toQueue(r: QueueRow): QueueRecord {
  const limits = {} as QueueLimits;
  for (const k of LIMIT_KEYS) limits[k] = (r[LIMIT_COLUMNS[k]] as number | null) ?? null;
  const nNewWorkers: NNewWorkers = {};
  for (const n of r.new_workers) {
    nNewWorkers[n.job_type] ??= {};
    nNewWorkers[n.job_type][n.resource_type] = n.n;
  }
  return {
    harvesterID: r.harvester_id,
    queueName: r.queue_name,
    configID: r.config_id,
    siteName: orUndefined(r.site_name),
    pandaStatus: orUndefined(r.panda_status),
    paused: r.paused,
    draining: r.draining,
    pauseReason: orUndefined(r.pause_reason),
    limits,
    limitsUpdatedAt: isoOrUndefined(r.limits_updated_at),
    nNewWorkers,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export interface QueueUpsert {
  harvesterID: string;
  queueName: string;
  configID: string;
  siteName?: string;
  pandaStatus?: string;
}

/**
 * Registers a queue for an instance or refreshes its config id / site / PanDA status. Operator
 * flags (paused, draining) and limits are left as they are: they have their own setters.
 */
export async function upsertQueue(db: Queryable, q: QueueUpsert): Promise<QueueRecord> {
  await db.query(
    `INSERT INTO queues (harvester_id, queue_name, config_id, site_name, panda_status)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (harvester_id, queue_name) DO UPDATE SET
       config_id = EXCLUDED.config_id,
       site_name = COALESCE(EXCLUDED.site_name, queues.site_name),
       panda_status = COALESCE(EXCLUDED.panda_status, queues.panda_status),
       updated_at = now()`,
    [q.harvesterID, q.queueName, q.configID, q.siteName ?? null, q.pandaStatus ?? null],
  );
  const rec = await getQueue(db, q.harvesterID, q.queueName);
  if (!rec) throw new Error(`queue ${q.harvesterID}/${q.queueName} vanished right after its upsert`);
  return rec;
}

export async function getQueue(
  db: Queryable,
  harvesterID: string,
  queueName: string,
): Promise<QueueRecord | null> {
  const res = await db.query<QueueRow>(`${SELECT_QUEUE} WHERE q.harvester_id = $1 AND q.queue_name = $2`, [
    harvesterID,
    queueName,
  ]);
  return res.rows[0] ? toQueue(res.rows[0]) : null;
}

export async function listQueues(db: Queryable, harvesterID: string): Promise<QueueRecord[]> {
  const res = await db.query<QueueRow>(`${SELECT_QUEUE} WHERE q.harvester_id = $1 ORDER BY q.queue_name`, [
    harvesterID,
  ]);
  return res.rows.map(toQueue);
}

/**
 * Sets the given limits; a field left out keeps its value, null clears it. Returns false if the
 * queue is unknown.
 */
export async function setQueueLimits(
  db: Queryable,
  harvesterID: string,
  queueName: string,
  limits: Partial<QueueLimits>,
): Promise<boolean> {
  const keys = LIMIT_KEYS.filter((k) => limits[k] !== undefined);
  for (const k of keys) {
    const v = limits[k];
    if (v !== null && (!Number.isInteger(v) || (v as number) < 0)) {
      throw new RangeError(
        `setQueueLimits ${queueName}: ${k} must be a non-negative integer or null, got ${v}`,
      );
    }
  }
  const sets = keys.map((k, i) => `${LIMIT_COLUMNS[k]} = $${i + 3}::integer`);
  const res = await db.query(
    `UPDATE queues SET ${[...sets, 'limits_updated_at = now()', 'updated_at = now()'].join(', ')}
     WHERE harvester_id = $1 AND queue_name = $2`,
    [harvesterID, queueName, ...keys.map((k) => limits[k])],
  );
  return (res.rowCount ?? 0) > 0;
}

/** Operator flags. A field left out keeps its value; resuming (paused=false) clears the reason. */
export async function setQueueFlags(
  db: Queryable,
  harvesterID: string,
  queueName: string,
  flags: { paused?: boolean; draining?: boolean; reason?: string },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE queues SET
       paused = COALESCE($3::boolean, paused),
       draining = COALESCE($4::boolean, draining),
       pause_reason = CASE WHEN COALESCE($3::boolean, paused) THEN COALESCE($5::text, pause_reason) ELSE NULL END,
       updated_at = now()
     WHERE harvester_id = $1 AND queue_name = $2`,
    [harvesterID, queueName, flags.paused ?? null, flags.draining ?? null, flags.reason ?? null],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * SET_N_WORKERS_JOBTYPE: as Harvester's set_queue_limit, every nNewWorkers of the queue is zeroed
 * and the given (jobType, resourceType) pairs are set, all in one transaction so the adjuster never
 * sees the half-applied state. Returns false (and changes nothing) if the queue is unknown.
 */
export async function setNNewWorkers(
  db: Queryable,
  harvesterID: string,
  queueName: string,
  nNewWorkers: NNewWorkers,
): Promise<boolean> {
  const rows = Object.entries(nNewWorkers).flatMap(([jobType, byRt]) =>
    Object.entries(byRt).map(([resourceType, n]) => {
      if (!Number.isInteger(n) || n < 0) {
        throw new RangeError(
          `setNNewWorkers ${queueName}: ${jobType}/${resourceType} must be a non-negative integer, got ${n}`,
        );
      }
      return { job_type: jobType, resource_type: resourceType, n };
    }),
  );
  return withTransaction(db, async (client) => {
    // Lock the queue row: two commands for the same queue apply one after the other.
    const q = await client.query(
      'SELECT 1 FROM queues WHERE harvester_id = $1 AND queue_name = $2 FOR UPDATE',
      [harvesterID, queueName],
    );
    if (q.rowCount === 0) return false;
    await client.query(
      `UPDATE queue_new_workers SET n_new_workers = 0, updated_at = now()
       WHERE harvester_id = $1 AND queue_name = $2 AND n_new_workers <> 0`,
      [harvesterID, queueName],
    );
    if (rows.length > 0) {
      await client.query(
        `INSERT INTO queue_new_workers (harvester_id, queue_name, job_type, resource_type, n_new_workers)
         SELECT $1, $2, x.job_type, x.resource_type, x.n
         FROM jsonb_to_recordset($3::jsonb) AS x(job_type text, resource_type text, n integer)
         ON CONFLICT (harvester_id, queue_name, job_type, resource_type) DO UPDATE SET
           n_new_workers = EXCLUDED.n_new_workers, updated_at = now()`,
        [harvesterID, queueName, JSON.stringify(rows)],
      );
    }
    return true;
  });
}

/**
 * Slave mode: the budget PanDA dictated shrinks by the workers made for it (Harvester's
 * register_worker: pq.nNewWorkers -= 1 per new worker), never below 0. Callers pass only workers
 * inserted now, so a repeated step does not consume twice.
 */
export async function consumeNNewWorkers(
  db: Queryable,
  harvesterID: string,
  queueName: string,
  made: readonly { jobType: string; resourceType: string; n: number }[],
): Promise<void> {
  const rows = made.filter((m) => m.n > 0);
  if (rows.length === 0) return;
  await db.query(
    `UPDATE queue_new_workers t SET n_new_workers = GREATEST(t.n_new_workers - x.n, 0), updated_at = now()
     FROM jsonb_to_recordset($3::jsonb) AS x(job_type text, resource_type text, n integer)
     WHERE t.harvester_id = $1 AND t.queue_name = $2 AND t.job_type = x.job_type
       AND t.resource_type = x.resource_type`,
    [
      harvesterID,
      queueName,
      JSON.stringify(rows.map((m) => ({ job_type: m.jobType, resource_type: m.resourceType, n: m.n }))),
    ],
  );
}
