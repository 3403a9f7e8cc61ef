/**
 * Monitoring upload: copies the workers and jobs tables to a central PostgreSQL database, where the
 * monitor (BigPandaMon in Harvester's set-up) reads a mirror of every instance's DB. Harvester's Q&A:
 * "periodically upload contents of harvester DB ... a full or slimmed mirror table".
 *
 * The export is incremental: rows are read in (modification_time, key) order from a high-water mark
 * kept in the local DB (monitor_export_state, migration 0005). Each run re-reads an overlap window
 * before the mark, because modification_time is the writing transaction's start time and a long
 * transaction can commit a row older than the mark after the mark moved past it. The re-read is
 * harmless: the upsert changes a mirror row only when its modification_time differs, so re-running
 * an export writes nothing and counts nothing. Deleted rows (purged jobs) are recorded by a trigger
 * in monitor_export_tombstones and marked with deleted_at in the mirror; swept workers carry swept_at.
 */
import pg from 'pg';
import { describeDatabaseUrl } from '../db/pool';
import type { Queryable } from '../db/sql';

export interface MonitorExportOptions {
  /** Rows per read and per upsert statement. */
  batchSize?: number;
  /** Upper bound of rows read per table per run, so one run stays within its activity timeout. */
  maxRowsPerRun?: number;
  /** How far before the high-water mark each run re-reads (late-committing transactions). */
  overlapSeconds?: number;
  /** Tombstones are kept this long, then purged whether or not every instance has read them. */
  tombstoneKeepDays?: number;
}

export interface TableExportResult {
  /** Rows read from the local table (includes the re-read overlap). */
  read: number;
  /** Mirror rows inserted or changed. */
  upserted: number;
  /** Mirror rows newly marked deleted. */
  markedDeleted: number;
  /** false = stopped at maxRowsPerRun; the next run continues where this one stopped. */
  caughtUp: boolean;
}

export interface MonitorExportResult {
  workers: TableExportResult;
  jobs: TableExportResult;
  /** Mirror rows written (upserted + marked deleted) over both tables. */
  rowsExported: number;
}

type TableName = 'workers' | 'jobs';

interface MirrorTable {
  local: TableName;
  mirror: string;
  key: string;
  /** Columns copied, with their type for jsonb_to_recordset and the mirror table. */
  columns: readonly (readonly [name: string, type: string])[];
  /** Local selection of this instance's rows; $1 = harvester id. */
  ownedBy: string;
  /** The mirror's conflict target. */
  conflict: string;
}

// Column lists are constants of this module, never input: they are interpolated into SQL as identifiers.
const WORKERS: MirrorTable = {
  local: 'workers',
  mirror: 'harvester_workers_mirror',
  key: 'worker_id',
  columns: [
    ['worker_id', 'bigint'],
    ['computing_site', 'text'],
    ['config_id', 'text'],
    ['map_type', 'text'],
    ['status', 'text'],
    ['resource_type', 'text'],
    ['job_type', 'text'],
    ['n_core', 'integer'],
    ['batch_id', 'text'],
    ['queue_name', 'text'],
    ['computing_element', 'text'],
    ['submission_host', 'text'],
    ['node_id', 'text'],
    ['creation_time', 'timestamptz'],
    ['submit_time', 'timestamptz'],
    ['start_time', 'timestamptz'],
    ['end_time', 'timestamptz'],
    ['native_status', 'text'],
    ['native_exit_code', 'integer'],
    ['diag_message', 'text'],
    ['error_code', 'integer'],
    ['error_diag', 'text'],
    ['kill_time', 'timestamptz'],
    ['kill_reason', 'text'],
    ['swept_at', 'timestamptz'],
    ['modification_time', 'timestamptz'],
  ],
  ownedBy: 't.harvester_id = $1',
  conflict: '(harvester_id, worker_id)',
};

const JOBS: MirrorTable = {
  local: 'jobs',
  mirror: 'harvester_jobs_mirror',
  key: 'panda_id',
  columns: [
    ['panda_id', 'bigint'],
    ['task_id', 'bigint'],
    ['attempt_nr', 'integer'],
    ['status', 'text'],
    ['sub_status', 'text'],
    ['computing_site', 'text'],
    ['config_id', 'text'],
    ['resource_type', 'text'],
    ['n_core', 'integer'],
    ['creation_time', 'timestamptz'],
    ['state_change_time', 'timestamptz'],
    ['start_time', 'timestamptz'],
    ['end_time', 'timestamptz'],
    ['done_at', 'timestamptz'],
    ['modification_time', 'timestamptz'],
  ],
  // Jobs carry no instance id: a job is this instance's if its queue is, or a worker of it ran the job.
  ownedBy: `(t.computing_site IN (SELECT queue_name FROM queues WHERE harvester_id = $1)
     OR EXISTS (SELECT 1 FROM job_workers jw JOIN workers w ON w.worker_id = jw.worker_id
                WHERE jw.panda_id = t.panda_id AND w.harvester_id = $1))`,
  conflict: '(panda_id)',
};

const TABLES = [WORKERS, JOBS] as const;

/** Creates the mirror tables if missing. Serialised by an advisory lock: instances start together. */
export async function ensureCentralSchema(central: pg.Pool): Promise<void> {
  const client = await central.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('temporal-harvester monitor mirror schema'))");
    for (const t of TABLES) {
      const cols = t.columns.map(([n, type]) => `${n} ${type}`).join(',\n  ');
      await client.query(`CREATE TABLE IF NOT EXISTS ${t.mirror} (
  harvester_id text NOT NULL,
  ${cols},
  deleted_at timestamptz,
  exported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ${t.conflict}
)`);
      // The monitor's views list an instance's rows by queue and recency.
      await client.query(
        `CREATE INDEX IF NOT EXISTS ${t.mirror}_site_idx ON ${t.mirror} (harvester_id, computing_site, modification_time)`,
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

interface ExportState {
  target: string;
  hwm_time: string | null;
  hwm_key: string | null;
  caught_up: boolean;
  tombstone_seq: string;
}

/** Reads (creating or resetting) the export state of one table. */
async function loadState(
  local: Queryable,
  harvesterID: string,
  table: TableName,
  target: string,
): Promise<ExportState> {
  // The text cast keeps the microseconds a JS Date would drop; the mark is compared in SQL again.
  const read = async () =>
    (
      await local.query<ExportState>(
        `SELECT target, hwm_time::text AS hwm_time, hwm_key::text AS hwm_key, caught_up, tombstone_seq::text AS tombstone_seq
         FROM monitor_export_state WHERE harvester_id = $1 AND table_name = $2`,
        [harvesterID, table],
      )
    ).rows[0];
  const s = await read();
  if (s && s.target === target) return s;
  // First export, or a different central DB: everything is exported again. Tombstones older than
  // this moment concern rows the new mirror never had.
  await local.query(
    `INSERT INTO monitor_export_state (harvester_id, table_name, target, tombstone_seq)
     VALUES ($1, $2, $3, (SELECT COALESCE(max(seq), 0) FROM monitor_export_tombstones))
     ON CONFLICT (harvester_id, table_name) DO UPDATE SET target = EXCLUDED.target, hwm_time = NULL,
       hwm_key = NULL, caught_up = true, tombstone_seq = EXCLUDED.tombstone_seq, rows_exported = 0`,
    [harvesterID, table, target],
  );
  const fresh = await read();
  if (!fresh) throw new Error(`monitor export state for ${harvesterID}/${table} vanished`);
  return fresh;
}

async function markDeleted(
  local: Queryable,
  central: pg.Pool,
  harvesterID: string,
  t: MirrorTable,
  state: ExportState,
  limit: number,
): Promise<number> {
  const { rows } = await local.query<{ seq: string; row_key: string }>(
    `SELECT seq, row_key FROM monitor_export_tombstones
     WHERE table_name = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3`,
    [t.local, state.tombstone_seq, limit],
  );
  if (rows.length === 0) return 0;
  const res = await central.query(
    `UPDATE ${t.mirror} SET deleted_at = now(), exported_at = now()
     WHERE harvester_id = $1 AND ${t.key} = ANY($2::bigint[]) AND deleted_at IS NULL`,
    [harvesterID, rows.map((r) => r.row_key)],
  );
  const lastSeq = rows[rows.length - 1].seq;
  await local.query(
    'UPDATE monitor_export_state SET tombstone_seq = $3::bigint WHERE harvester_id = $1 AND table_name = $2',
    [harvesterID, t.local, lastSeq],
  );
  state.tombstone_seq = lastSeq;
  return res.rowCount ?? 0;
}

async function exportTable(
  local: Queryable,
  central: pg.Pool,
  harvesterID: string,
  target: string,
  t: MirrorTable,
  o: Required<MonitorExportOptions>,
): Promise<TableExportResult> {
  const state = await loadState(local, harvesterID, t.local, target);
  // Deletions first: a key deleted and then inserted again must end up live, and the upsert below clears deleted_at.
  const markedDeleted = await markDeleted(local, central, harvesterID, t, state, o.maxRowsPerRun);

  // Start of the read: the exact key after a run cut short, else the overlap window before the mark.
  let fromTime: string;
  let fromKey: string;
  if (state.hwm_time === null) {
    fromTime = '-infinity';
    fromKey = '-1';
  } else if (!state.caught_up && state.hwm_key !== null) {
    fromTime = state.hwm_time;
    fromKey = state.hwm_key;
  } else {
    fromTime = (
      await local.query<{ t: string }>('SELECT ($1::timestamptz - make_interval(secs => $2))::text AS t', [
        state.hwm_time,
        o.overlapSeconds,
      ])
    ).rows[0].t;
    fromKey = '-1';
  }

  const names = t.columns.map(([n]) => n);
  const selectList = names.map((n) => `t.${n}`).join(', ');
  const recordType = t.columns.map(([n, type]) => `${n} ${type}`).join(', ');
  const updateList = [
    'harvester_id = EXCLUDED.harvester_id',
    ...names.filter((n) => n !== t.key).map((n) => `${n} = EXCLUDED.${n}`),
    'deleted_at = NULL',
    'exported_at = now()',
  ].join(', ');

  let read = 0;
  let upserted = 0;
  let caughtUp = true;
  for (;;) {
    const limit = Math.min(o.batchSize, o.maxRowsPerRun - read);
    if (limit <= 0) {
      caughtUp = false;
      break;
    }
    // to_jsonb renders timestamps as ISO 8601 with microseconds, so the rows travel to the central
    // DB and the keyset position back into the next query without losing precision.
    const page = await local.query<{ r: Record<string, unknown>; mt: string; k: string }>(
      `SELECT to_jsonb(s) AS r, s.modification_time::text AS mt, s.${t.key}::text AS k FROM (
         SELECT ${selectList} FROM ${t.local} t
         WHERE ${t.ownedBy} AND (t.modification_time, t.${t.key}) > ($2::timestamptz, $3::bigint)
         ORDER BY t.modification_time, t.${t.key}
         LIMIT $4
       ) s ORDER BY s.modification_time, s.${t.key}`,
      [harvesterID, fromTime, fromKey, limit],
    );
    if (page.rows.length === 0) break;
    read += page.rows.length;
    const res = await central.query(
      `INSERT INTO ${t.mirror} AS m (harvester_id, ${names.join(', ')}, deleted_at, exported_at)
       SELECT $1, ${names.map((n) => `x.${n}`).join(', ')}, NULL, now()
       FROM jsonb_to_recordset($2::jsonb) AS x(${recordType})
       ON CONFLICT ${t.conflict} DO UPDATE SET ${updateList}
       WHERE m.modification_time IS DISTINCT FROM EXCLUDED.modification_time
          OR m.deleted_at IS NOT NULL OR m.harvester_id IS DISTINCT FROM EXCLUDED.harvester_id`,
      [harvesterID, JSON.stringify(page.rows.map((p) => p.r))],
    );
    upserted += res.rowCount ?? 0;
    const last = page.rows[page.rows.length - 1];
    fromTime = last.mt;
    fromKey = last.k;
    // Saved after every batch so that a failed run resumes after what already reached the mirror.
    // The mark only moves forward: the overlap re-read can end below it.
    await local.query(
      `UPDATE monitor_export_state
       SET hwm_time = CASE WHEN hwm_time IS NULL OR $3::timestamptz >= hwm_time THEN $3::timestamptz ELSE hwm_time END,
           hwm_key = CASE WHEN hwm_time IS NULL OR $3::timestamptz >= hwm_time THEN $4::bigint ELSE hwm_key END,
           rows_exported = rows_exported + $5, last_export_at = now(), caught_up = false
       WHERE harvester_id = $1 AND table_name = $2`,
      [harvesterID, t.local, last.mt, last.k, res.rowCount ?? 0],
    );
    if (page.rows.length < limit) break;
  }
  await local.query(
    `UPDATE monitor_export_state SET caught_up = $3, last_export_at = now(),
       rows_exported = rows_exported + $4
     WHERE harvester_id = $1 AND table_name = $2`,
    [harvesterID, t.local, caughtUp, markedDeleted],
  );
  return { read, upserted, markedDeleted, caughtUp };
}

/**
 * One export run for one instance. Concurrent runs for the same instance (an activity retried while
 * the timed-out attempt still runs) are skipped through a session advisory lock: they would only
 * repeat the same idempotent writes. Returns undefined when another run holds the lock.
 */
export async function exportToCentral(
  localPool: pg.Pool,
  central: pg.Pool,
  harvesterID: string,
  target: string,
  options: MonitorExportOptions = {},
): Promise<MonitorExportResult | undefined> {
  const o: Required<MonitorExportOptions> = {
    batchSize: options.batchSize ?? 500,
    maxRowsPerRun: options.maxRowsPerRun ?? 20000,
    overlapSeconds: options.overlapSeconds ?? 120,
    tombstoneKeepDays: options.tombstoneKeepDays ?? 7,
  };
  const local = await localPool.connect();
  const lockKey = `temporal-harvester monitor export ${harvesterID}`;
  let locked = false;
  try {
    locked = (
      await local.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [lockKey])
    ).rows[0].ok;
    if (!locked) return undefined;
    const workers = await exportTable(local, central, harvesterID, target, WORKERS, o);
    const jobs = await exportTable(local, central, harvesterID, target, JOBS, o);
    await local.query(
      'DELETE FROM monitor_export_tombstones WHERE deleted_at < now() - make_interval(days => $1)',
      [o.tombstoneKeepDays],
    );
    return {
      workers,
      jobs,
      rowsExported: workers.upserted + workers.markedDeleted + jobs.upserted + jobs.markedDeleted,
    };
  } finally {
    if (locked) await local.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => {});
    local.release();
  }
}

/** The central database connection of one process, opened on first use, with its schema ensured once. */
export interface MonitorExporter {
  readonly target: string;
  run(harvesterID: string): Promise<MonitorExportResult | undefined>;
  close(): Promise<void>;
}

export function createMonitorExporter(
  localPool: pg.Pool,
  url: string,
  options: MonitorExportOptions = {},
): MonitorExporter {
  const target = describeDatabaseUrl(url);
  let pool: pg.Pool | undefined;
  let schemaReady = false;
  const centralPool = () => {
    pool ??= new pg.Pool({
      connectionString: url,
      max: 2,
      connectionTimeoutMillis: 10000,
      // A stuck central DB must fail the statement, not hold the activity past its timeout.
      statement_timeout: 60000,
      idleTimeoutMillis: 30000,
      // The export is periodic; idle connections must not keep a stopping process alive.
      allowExitOnIdle: true,
      application_name: 'temporal-harvester-monitor-export',
    });
    // A central DB that drops an idle connection must not crash the worker; the next run reconnects.
    pool.on('error', () => {});
    return pool;
  };
  return {
    target,
    async run(harvesterID) {
      const central = centralPool();
      if (!schemaReady) {
        await ensureCentralSchema(central);
        schemaReady = true;
      }
      return exportToCentral(localPool, central, harvesterID, target, options);
    },
    async close() {
      const p = pool;
      pool = undefined;
      schemaReady = false;
      await p?.end();
    },
  };
}
