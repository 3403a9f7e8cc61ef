/**
 * Worker statistics for PanDA (report_worker_statistics, REPORT_WORKER_STATS) and service metrics
 * (Harvester's sm_table, pushed with update_service_metrics).
 */
import { type Queryable, type TimeInput, toDate, toSafeNumber, withTransaction } from './sql';

/** jobType -> resourceType -> status -> number of workers: the `statistics` PanDA expects per queue. */
export type QueueWorkerStats = Record<string, Record<string, Record<string, number>>>;

/** queue -> QueueWorkerStats. */
export type WorkerStatsByQueue = Record<string, QueueWorkerStats>;

/** The nested map under key, created empty if missing. */
function child<T>(parent: Record<string, Record<string, T>>, key: string): Record<string, T> {
  let c = parent[key];
  if (c === undefined) {
    c = {};
    parent[key] = c;
  }
  return c;
}

/**
 * Live workers of every queue of the instance counted per (jobType, resourceType, status), plus
 * `to_submit` from the queue's nNewWorkers, as Harvester's get_worker_stats reports them. Every
 * registered queue appears, possibly empty, so the caller can send an explicit zero.
 */
export async function workerStatsByQueue(db: Queryable, harvesterID: string): Promise<WorkerStatsByQueue> {
  const res = await db.query<{
    queue: string;
    job_type: string | null;
    resource_type: string | null;
    status: string | null;
    n: number | null;
  }>(
    `SELECT q.queue_name AS queue, s.job_type, s.resource_type, s.status, s.n
     FROM queues q
     LEFT JOIN (
       SELECT computing_site, job_type, resource_type, status, count(*)::int AS n
       FROM workers
       WHERE harvester_id = $1 AND swept_at IS NULL
         AND status IN ('pending', 'submitted', 'idle', 'ready', 'running')
       GROUP BY computing_site, job_type, resource_type, status
       UNION ALL
       SELECT queue_name, job_type, resource_type, 'to_submit', n_new_workers
       FROM queue_new_workers WHERE harvester_id = $1 AND n_new_workers > 0
     ) s ON s.computing_site = q.queue_name
     WHERE q.harvester_id = $1
     UNION ALL
     -- Workers of a queue this instance no longer has registered still exist on the resource.
     SELECT w.computing_site, w.job_type, w.resource_type, w.status, count(*)::int
     FROM workers w
     WHERE w.harvester_id = $1 AND w.swept_at IS NULL
       AND w.status IN ('pending', 'submitted', 'idle', 'ready', 'running')
       AND NOT EXISTS (SELECT 1 FROM queues q WHERE q.harvester_id = $1 AND q.queue_name = w.computing_site)
     GROUP BY w.computing_site, w.job_type, w.resource_type, w.status`,
    [harvesterID],
  );
  const out: WorkerStatsByQueue = {};
  for (const r of res.rows) {
    out[r.queue] ??= {};
    if (r.job_type === null || r.resource_type === null || r.status === null || r.n === null) continue;
    const byStatus = child(child(out[r.queue], r.job_type), r.resource_type);
    byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
  }
  return out;
}

/**
 * Records what was reported to PanDA for one queue, replacing the previous report as PanDA's
 * Harvester_Worker_Stats does, so operators can compare it with the live counts.
 */
export async function recordWorkerStatsReport(
  db: Queryable,
  harvesterID: string,
  queueName: string,
  stats: QueueWorkerStats,
  at: TimeInput,
): Promise<void> {
  const rows = Object.entries(stats).flatMap(([jobType, byRt]) =>
    Object.entries(byRt).flatMap(([resourceType, byStatus]) =>
      Object.entries(byStatus).map(([status, n]) => ({
        job_type: jobType,
        resource_type: resourceType,
        status,
        n,
      })),
    ),
  );
  await withTransaction(db, async (client) => {
    await client.query('DELETE FROM worker_stats WHERE harvester_id = $1 AND computing_site = $2', [
      harvesterID,
      queueName,
    ]);
    if (rows.length === 0) return;
    await client.query(
      `INSERT INTO worker_stats (harvester_id, computing_site, job_type, resource_type, status, n_workers, reported_at)
       SELECT $1, $2, x.job_type, x.resource_type, x.status, x.n, $4::timestamptz
       FROM jsonb_to_recordset($3::jsonb) AS x(job_type text, resource_type text, status text, n integer)`,
      [harvesterID, queueName, JSON.stringify(rows), toDate(at)],
    );
  });
}

/** The last report recorded for a queue (empty if none). */
export async function getReportedWorkerStats(
  db: Queryable,
  harvesterID: string,
  queueName: string,
): Promise<{ stats: QueueWorkerStats; reportedAt?: string }> {
  const res = await db.query<{
    job_type: string;
    resource_type: string;
    status: string;
    n_workers: number;
    reported_at: Date;
  }>(
    `SELECT job_type, resource_type, status, n_workers, reported_at FROM worker_stats
     WHERE harvester_id = $1 AND computing_site = $2`,
    [harvesterID, queueName],
  );
  const stats: QueueWorkerStats = {};
  let reportedAt: string | undefined;
  for (const r of res.rows) {
    const byStatus = child(child(stats, r.job_type), r.resource_type);
    byStatus[r.status] = r.n_workers;
    reportedAt = r.reported_at.toISOString();
  }
  return { stats, reportedAt };
}

export interface ServiceMetric {
  metricID: number;
  harvesterID: string;
  hostName: string;
  creationTime: string;
  metrics: Record<string, unknown>;
}

export interface NewServiceMetric {
  hostName: string;
  metrics: Record<string, unknown>;
  creationTime?: TimeInput;
}

/** Stores service metric samples (pushed to PanDA later). Returns their ids. */
export async function insertServiceMetrics(
  db: Queryable,
  harvesterID: string,
  entries: readonly NewServiceMetric[],
): Promise<number[]> {
  if (entries.length === 0) return [];
  const input = entries.map((e) => ({
    host_name: e.hostName,
    metrics: e.metrics,
    creation_time: e.creationTime === undefined ? null : toDate(e.creationTime).toISOString(),
  }));
  const res = await db.query<{ metric_id: string }>(
    `INSERT INTO service_metrics (harvester_id, host_name, metrics, creation_time)
     SELECT $1, x.host_name, x.metrics, COALESCE(x.creation_time, now())
     FROM jsonb_to_recordset($2::jsonb) AS x(host_name text, metrics jsonb, creation_time timestamptz)
     RETURNING metric_id`,
    [harvesterID, JSON.stringify(input)],
  );
  return res.rows.map((r) => toSafeNumber(r.metric_id)).sort((a, b) => a - b);
}

/** Samples created after `since` (exclusive), oldest first: what the next push sends. */
export async function listServiceMetricsSince(
  db: Queryable,
  harvesterID: string,
  since: TimeInput,
): Promise<ServiceMetric[]> {
  const res = await db.query<{
    metric_id: string;
    harvester_id: string;
    host_name: string;
    creation_time: Date;
    metrics: Record<string, unknown>;
  }>(
    `SELECT * FROM service_metrics WHERE harvester_id = $1 AND creation_time > $2::timestamptz
     ORDER BY creation_time, metric_id`,
    [harvesterID, toDate(since)],
  );
  return res.rows.map((r) => ({
    metricID: toSafeNumber(r.metric_id),
    harvesterID: r.harvester_id,
    hostName: r.host_name,
    creationTime: r.creation_time.toISOString(),
    metrics: r.metrics,
  }));
}

/** Deletes samples older than `before` (Harvester keeps a week). Returns how many. */
export async function purgeServiceMetrics(db: Queryable, before: TimeInput): Promise<number> {
  const res = await db.query('DELETE FROM service_metrics WHERE creation_time < $1::timestamptz', [
    toDate(before),
  ]);
  return res.rowCount ?? 0;
}
