/**
 * The harvester DB layer against a real PostgreSQL. Each run creates its own databases on the
 * server named by HARVESTER_TEST_DATABASE_URL (so migrations are tested from empty) and drops
 * them at the end.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { JobSpec, WorkSpec } from '../../src/core/specs';
import {
  getCommand,
  insertCommands,
  listCommandsToAcknowledge,
  listPendingCommands,
  markCommandAcknowledged,
  markCommandApplied,
} from '../../src/db/commands';
import {
  ConfigDumpConflictError,
  configChecksum,
  findConfigDumpByChecksum,
  getConfigDump,
  saveConfigDump,
} from '../../src/db/configDumps';
import { insertFiles, listFilesOfJob, updateFileStatus } from '../../src/db/files';
import {
  bindJobsToWorker,
  deleteJobs,
  getJob,
  listDueJobHeartbeats,
  listJobsOfWorker,
  listJobsToPurge,
  markJobsReported,
  mergeJobAttributes,
  updateJobStatus,
  upsertJobs,
} from '../../src/db/jobs';
import {
  getReportedWorkerStats,
  insertServiceMetrics,
  listServiceMetricsSince,
  purgeServiceMetrics,
  recordWorkerStatsReport,
  workerStatsByQueue,
} from '../../src/db/metrics';
import { loadMigrations, migrate, migrationStatus } from '../../src/db/migrate';
import { type Db, inTransaction, openDatabase } from '../../src/db/pool';
import {
  getQueue,
  listQueues,
  setNNewWorkers,
  setQueueFlags,
  setQueueLimits,
  upsertQueue,
} from '../../src/db/queues';
import {
  allocateWorkerIds,
  countWorkersByState,
  DEFAULT_KEEP_HOURS,
  findWorkersByBatchIDs,
  getWorker,
  insertPendingWorkers,
  listKillMarkedWorkers,
  listLiveWorkers,
  listWorkersToSweep,
  markSwept,
  markWorkersReported,
  markWorkersToKill,
  recordSubmission,
  recordWorkerStatus,
  reserveWorkerIdsUpTo,
} from '../../src/db/workers';

const SERVER_URL = process.env.HARVESTER_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LATEST = Math.max(...loadMigrations().map((m) => m.version));

function urlFor(database: string): string {
  const u = new URL(SERVER_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Databases created by this file; dropped in after(). Names are generated here, never from input. */
const created: string[] = [];
const pools: Db[] = [];

async function createDatabase(): Promise<{ name: string; db: Db }> {
  const name = `harvester_dbtest_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  created.push(name);
  const db = await openDatabase(urlFor(name), { max: 8, applicationName: 'harvester-db-test' });
  pools.push(db);
  return { name, db };
}

let db: Db; // migrated to the latest version in before(); shared by the domain tests
let emptyDb: Db; // starts empty; the first test migrates it
let upgradeDb: Db; // starts empty; the upgrade-path test migrates it in two steps

before(async () => {
  db = (await createDatabase()).db;
  emptyDb = (await createDatabase()).db;
  upgradeDb = (await createDatabase()).db;
  await migrate(db);
});

after(async () => {
  for (const p of pools) await p.end().catch(() => {});
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  try {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

/** Each test uses its own instance and queue names so tests cannot see each other's rows. */
let seq = 0;
function names(): { harvesterID: string; queue: string } {
  seq += 1;
  return { harvesterID: `hv-${seq}`, queue: `PQ_${seq}` };
}

function spec(
  workerID: number,
  over: Partial<WorkSpec> & { harvesterID: string; computingSite: string },
): WorkSpec {
  return {
    workerID,
    configID: 'cfg-1',
    mapType: 'NoJob',
    status: 'pending',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    minRamCount: 2000,
    creationTime: new Date().toISOString(),
    ...over,
  };
}

async function makeWorkers(
  n: number,
  over: Partial<WorkSpec> & { harvesterID: string; computingSite: string },
): Promise<number[]> {
  const ids = await allocateWorkerIds(db, n);
  await insertPendingWorkers(
    db,
    ids.map((id) => spec(id, over)),
  );
  return ids;
}

async function submitted(ids: number[], over: { computingElement?: string; submissionHost?: string } = {}) {
  for (const id of ids) {
    await recordSubmission(db, id, {
      batchID: `b${id}`,
      submitTime: new Date(),
      status: 'submitted',
      ...over,
    });
  }
}

// ------------------------------------------------------------------------------------------------
// Migrations

test('migrations apply to an empty database, and a re-run applies nothing', async () => {
  const applied = await migrate(emptyDb);
  assert.deepEqual(
    applied,
    loadMigrations().map((m) => m.version),
  );
  assert.ok(applied.includes(2) && applied.includes(3));
  const tables = (
    await emptyDb.query<{ t: string }>(
      `SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    )
  ).rows.map((r) => r.t);
  for (const t of [
    'workers',
    'jobs',
    'files',
    'job_workers',
    'queues',
    'queue_new_workers',
    'queue_config_dumps',
    'commands',
    'worker_stats',
    'service_metrics',
  ]) {
    assert.ok(tables.includes(t), `table ${t} exists`);
  }
  assert.deepEqual(await migrate(emptyDb), []);
  assert.ok((await migrationStatus(emptyDb)).every((m) => m.appliedAt !== null));
});

test('a database at any earlier migration (the previous release first) upgrades to the same schema as a new one', async () => {
  const versions = loadMigrations().map((m) => m.version);
  const latest = Math.max(...versions);
  const schemaOf = async (target: Db) =>
    (
      await target.query<{ c: string }>(
        `SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable AS c
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1`,
      )
    ).rows.map((r) => r.c);
  const fresh = (await createDatabase()).db;
  await migrate(fresh);
  const expected = await schemaOf(fresh);
  // latest − 1 is the database of the release before this one; the older ones follow.
  for (const from of versions.filter((v) => v < latest).sort((a, b) => b - a)) {
    const old = (await createDatabase()).db;
    await migrate(old, { target: from });
    assert.deepEqual(
      await migrate(old),
      versions.filter((v) => v > from),
      `from ${from}: the later migrations apply`,
    );
    assert.deepEqual(await schemaOf(old), expected, `from ${from}: same schema as a new database`);
  }
});

test('a database at migration 0002 upgrades to the latest version and keeps its data', async () => {
  assert.deepEqual(await migrate(upgradeDb, { target: 2 }), [1, 2]);
  // Rows written by the previous release: a job already done, a worker.
  await upgradeDb.query(
    `INSERT INTO jobs (panda_id, status, sub_status, computing_site, job_attributes, modification_time)
     VALUES (42, 'finished', 'done', 'PQ_OLD', '{"k": "v"}', '2026-01-02T03:04:05Z'),
            (43, 'running', 'running', 'PQ_OLD', '{}', now())`,
  );
  await upgradeDb.query(
    `INSERT INTO workers (worker_id, harvester_id, computing_site, config_id, map_type, status, resource_type, job_type, n_core)
     VALUES (7, 'hv-old', 'PQ_OLD', 'c', 'NoJob', 'running', 'SCORE', 'managed', 1)`,
  );
  const cols0 = await upgradeDb.query(
    `SELECT 1 FROM information_schema.columns WHERE table_name = 'jobs' AND column_name = 'done_at'`,
  );
  assert.equal(cols0.rowCount, 0);

  const applied = await migrate(upgradeDb);
  assert.deepEqual(
    applied,
    loadMigrations()
      .map((m) => m.version)
      .filter((v) => v > 2),
  );
  const job42 = await getJob(upgradeDb, 42);
  assert.equal(job42?.doneAt, '2026-01-02T03:04:05.000Z', 'done_at backfilled from modification_time');
  assert.deepEqual(job42?.jobAttributes, { k: 'v' });
  assert.equal((await getJob(upgradeDb, 43))?.doneAt, undefined);
  const w = await getWorker(upgradeDb, 7);
  assert.equal(w?.status, 'running');
  assert.equal(w?.errorDiag, undefined);
  // The new column is usable by the current code.
  await recordWorkerStatus(upgradeDb, 7, { status: 'failed', errorCode: 1, errorDiag: 'x'.repeat(300) });
  assert.equal((await getWorker(upgradeDb, 7))?.errorDiag?.length, 256);
  assert.deepEqual(await migrate(upgradeDb), []);
  const versions = (await migrationStatus(upgradeDb)).map((m) => m.version);
  assert.equal(Math.max(...versions), LATEST);
});

// ------------------------------------------------------------------------------------------------
// Workers

test('worker ids come from a sequence; inserting pending workers is idempotent', async () => {
  const { harvesterID, queue } = names();
  const ids = await allocateWorkerIds(db, 3);
  assert.equal(ids.length, 3);
  assert.equal(new Set(ids).size, 3);
  assert.deepEqual(await allocateWorkerIds(db, 0), []);

  const specs = ids.map((id, i) =>
    spec(id, { harvesterID, computingSite: queue, pandaIDs: i === 0 ? [9001, 9002] : undefined }),
  );
  assert.deepEqual(await insertPendingWorkers(db, specs), ids);
  assert.deepEqual(await insertPendingWorkers(db, specs), [], 'a repeated insert inserts nothing');
  const w = await getWorker(db, ids[0]);
  assert.equal(w?.status, 'pending');
  assert.deepEqual(w?.pandaIDs, [9001, 9002]);
  assert.equal(w?.lastUpdate, undefined, 'pending is not propagated');
  await assert.rejects(insertPendingWorkers(db, [{ ...specs[1], status: 'running' }]), /start as pending/);

  // After the DB was lost, ids continue above what PanDA already has.
  const max = ids[2] + 1000;
  await reserveWorkerIdsUpTo(db, max);
  const [next] = await allocateWorkerIds(db, 1);
  assert.equal(next, max + 1);
  await reserveWorkerIdsUpTo(db, 5); // never moves the sequence back
  const [after2] = await allocateWorkerIds(db, 1);
  assert.equal(after2, max + 2);
});

test('submission: pending -> submitted once; missed ends the worker', async () => {
  const { harvesterID, queue } = names();
  const [a, b] = await makeWorkers(2, { harvesterID, computingSite: queue });
  const t = new Date('2026-03-01T10:00:00Z');
  const r1 = await recordSubmission(db, a, {
    batchID: '1234',
    submissionHost: 'login1',
    computingElement: 'ce1',
    queueName: 'short',
    submitTime: t,
    status: 'submitted',
  });
  assert.deepEqual(r1, { changed: true, previous: 'pending' });
  const wa = await getWorker(db, a);
  assert.equal(wa?.status, 'submitted');
  assert.equal(wa?.batchID, '1234');
  assert.equal(wa?.submitTime, t.toISOString());
  assert.ok(wa?.lastUpdate, 'a status change is due for propagation');
  // A retried activity changes nothing.
  assert.deepEqual(await recordSubmission(db, a, { batchID: '9999', submitTime: t, status: 'submitted' }), {
    changed: false,
    previous: 'submitted',
  });
  assert.equal((await getWorker(db, a))?.batchID, '1234');

  const r2 = await recordSubmission(db, b, { submitTime: t, status: 'missed', diag: 'sbatch: error' });
  assert.deepEqual(r2, { changed: true, previous: 'pending' });
  const wb = await getWorker(db, b);
  assert.equal(wb?.status, 'missed');
  assert.equal(wb?.endTime, t.toISOString());
  assert.equal(wb?.diagMessage, 'sbatch: error');
  assert.deepEqual(await recordSubmission(db, 424242424, { submitTime: t, status: 'submitted' }), {
    changed: false,
    previous: null,
  });
  assert.deepEqual(
    (await findWorkersByBatchIDs(db, queue, ['1234', 'nope'])).map((w) => w.workerID),
    [a],
  );
});

test('status: running sets start_time once, never back to submitted, final never overwritten', async () => {
  const { harvesterID, queue } = names();
  const [id] = await makeWorkers(1, { harvesterID, computingSite: queue });
  await submitted([id]);
  await markWorkersReported(db, [{ workerID: id, status: 'submitted' }], new Date());
  assert.equal((await getWorker(db, id))?.lastUpdate, undefined);

  const t1 = '2026-03-01T11:00:00.000Z';
  assert.deepEqual(await recordWorkerStatus(db, id, { status: 'running', startTime: t1, nodeID: 'node7' }), {
    changed: true,
    previous: 'submitted',
  });
  let w = await getWorker(db, id);
  assert.equal(w?.startTime, t1);
  assert.equal(w?.nodeID, 'node7');
  assert.ok(w?.lastUpdate, 'change marked for propagation');

  // The batch system briefly reports the started job as queued: ignored.
  assert.deepEqual(await recordWorkerStatus(db, id, { status: 'submitted', nativeStatus: 'PD' }), {
    changed: false,
    previous: 'running',
  });
  w = await getWorker(db, id);
  assert.equal(w?.status, 'running');
  assert.equal(w?.nativeStatus, 'PD', 'other fields are still recorded');

  // idle -> running again keeps the first start time; idle -> submitted is refused too.
  await recordWorkerStatus(db, id, { status: 'idle' });
  assert.deepEqual(await recordWorkerStatus(db, id, { status: 'submitted' }), {
    changed: false,
    previous: 'idle',
  });
  await recordWorkerStatus(db, id, { status: 'running', startTime: '2026-03-01T12:00:00Z' });
  assert.equal((await getWorker(db, id))?.startTime, t1);

  const tEnd = '2026-03-01T13:00:00.000Z';
  assert.deepEqual(
    await recordWorkerStatus(db, id, { status: 'finished', endTime: tEnd, nativeExitCode: 0 }),
    {
      changed: true,
      previous: 'running',
    },
  );
  for (const status of ['failed', 'cancelled', 'running', 'submitted', 'missed'] as const) {
    assert.deepEqual(
      await recordWorkerStatus(db, id, { status, diag: 'late', endTime: '2030-01-01T00:00:00Z' }),
      { changed: false, previous: 'finished' },
      `finished is not overwritten by ${status}`,
    );
  }
  w = await getWorker(db, id);
  assert.equal(w?.status, 'finished');
  assert.equal(w?.endTime, tEnd, 'end_time set once');
  assert.equal(w?.diagMessage, undefined, 'a final worker is not changed at all');
  // The rule is enforced by the table itself, whatever code writes.
  await assert.rejects(
    db.query(`UPDATE workers SET status = 'running' WHERE worker_id = $1`, [id]),
    /final status is never overwritten/,
  );
  assert.deepEqual(await recordWorkerStatus(db, 987654321, { status: 'running' }), {
    changed: false,
    previous: null,
  });
});

test('status: concurrent final statuses, only one wins', async () => {
  const { harvesterID, queue } = names();
  const [id] = await makeWorkers(1, { harvesterID, computingSite: queue });
  await submitted([id]);
  const results = await Promise.all(
    (['finished', 'failed', 'cancelled', 'finished', 'failed'] as const).map((status) =>
      recordWorkerStatus(db, id, { status }),
    ),
  );
  assert.equal(results.filter((r) => r.changed).length, 1);
  const w = await getWorker(db, id);
  assert.ok(['finished', 'failed', 'cancelled'].includes(w?.status ?? ''));
  assert.ok(w?.endTime);
});

test('diag messages are truncated to 500 characters', async () => {
  const { harvesterID, queue } = names();
  const [id] = await makeWorkers(1, { harvesterID, computingSite: queue });
  await recordWorkerStatus(db, id, { status: 'submitted', diag: 'é'.repeat(600) });
  assert.equal((await getWorker(db, id))?.diagMessage, 'é'.repeat(500));
});

test('kill marking: only non-final workers, only once, by filter', async () => {
  const { harvesterID, queue } = names();
  const other = `${queue}_B`;
  const ids = await makeWorkers(4, { harvesterID, computingSite: queue });
  const [o1] = await makeWorkers(1, { harvesterID, computingSite: other });
  await submitted(ids.slice(0, 3), { computingElement: 'ce1', submissionHost: 'sub1' });
  await submitted([o1], { computingElement: 'ce2', submissionHost: 'sub1' });
  await recordWorkerStatus(db, ids[1], { status: 'running' });
  await recordWorkerStatus(db, ids[2], { status: 'finished' });
  // ids[3] stays pending.

  await assert.rejects(markWorkersToKill(db, {}, 'oops'), /empty filter/);
  assert.deepEqual(
    await markWorkersToKill(db, { computingSite: [] }, 'nothing'),
    [],
    'an empty list matches nothing',
  );

  // KILL_WORKERS-like: submitted workers of the queue on ce1.
  assert.deepEqual(
    await markWorkersToKill(
      db,
      { computingSite: [queue], status: ['submitted'], computingElement: ['ce1'] },
      'cmd 1',
    ),
    [ids[0]],
  );
  // All live workers of the queue: the finished one is never marked, ids[0] not twice.
  assert.deepEqual(
    await markWorkersToKill(db, { computingSite: [queue], status: 'ALL', computingElement: 'ALL' }, 'cmd 2'),
    [ids[1], ids[3]],
  );
  assert.deepEqual(await markWorkersToKill(db, { workerIDs: ids }, 'again'), []);
  const w0 = await getWorker(db, ids[0]);
  assert.equal(w0?.killReason, 'cmd 1', 'the first reason stays');
  assert.ok(w0?.killTime);
  // A command applied again (its signals were cut off half-way) reaches the workers it had marked.
  assert.deepEqual(await markWorkersToKill(db, { workerIDs: ids }, 'again', { alsoMarked: true }), [
    ids[0],
    ids[1],
    ids[3],
  ]);
  const again = await getWorker(db, ids[0]);
  assert.equal(again?.killReason, 'cmd 1', 'still the first reason');
  assert.equal(again?.killTime, w0?.killTime, 'and the first time');
  assert.equal((await getWorker(db, ids[2]))?.killTime, undefined);

  // By submission host across queues, and by PandaID (PanDA said tobekilled).
  const [o2] = await makeWorkers(1, { harvesterID, computingSite: other });
  await bindJobsToWorker(db, o2, [777001]);
  assert.deepEqual(await markWorkersToKill(db, { pandaIDs: [777001] }, 'tobekilled'), [o2]);
  assert.deepEqual(await markWorkersToKill(db, { submissionHost: ['sub1'], harvesterID }, 'host'), [o1]);

  // Concurrent markers: each worker is marked exactly once.
  const [c1] = await makeWorkers(1, { harvesterID, computingSite: queue });
  const marked = await Promise.all(
    [1, 2, 3, 4].map((i) => markWorkersToKill(db, { workerIDs: [c1] }, `m${i}`)),
  );
  assert.equal(marked.flat().length, 1);

  // Kill due list: marked, still live. A delayed kill is not due yet.
  const [d1] = await makeWorkers(1, { harvesterID, computingSite: queue });
  const future = new Date(Date.now() + 3600_000);
  assert.deepEqual(await markWorkersToKill(db, { workerIDs: [d1] }, 'later', { killAt: future }), [d1]);
  const due = (await listKillMarkedWorkers(db, queue, new Date(), harvesterID)).map((w) => w.workerID);
  assert.deepEqual(
    due.sort((a, b) => a - b),
    [ids[0], ids[1], ids[3], c1].sort((a, b) => a - b),
  );
  await recordWorkerStatus(db, ids[1], { status: 'cancelled' });
  assert.ok(!(await listKillMarkedWorkers(db, queue, new Date())).some((w) => w.workerID === ids[1]));
});

test('counts by state per (jobType, resourceType)', async () => {
  const { harvesterID, queue } = names();
  const score = await makeWorkers(5, { harvesterID, computingSite: queue, nCore: 1, minRamCount: 2000 });
  const mcore = await makeWorkers(3, {
    harvesterID,
    computingSite: queue,
    resourceType: 'MCORE',
    nCore: 8,
    minRamCount: 16000,
  });
  const user = await makeWorkers(1, { harvesterID, computingSite: queue, jobType: 'user' });
  await makeWorkers(2, { harvesterID: `${harvesterID}-other`, computingSite: queue }); // other instance
  // SCORE: 1 pending, 1 submitted, 1 idle, 1 running, 1 finished.
  await submitted(score.slice(1));
  await recordWorkerStatus(db, score[2], { status: 'idle' });
  await recordWorkerStatus(db, score[3], { status: 'running' });
  await recordWorkerStatus(db, score[4], { status: 'finished' });
  // MCORE: 1 ready, 2 running (one of them kill-marked: still counts).
  await submitted(mcore);
  await recordWorkerStatus(db, mcore[0], { status: 'ready' });
  await recordWorkerStatus(db, mcore[1], { status: 'running' });
  await recordWorkerStatus(db, mcore[2], { status: 'running' });
  await markWorkersToKill(db, { workerIDs: [mcore[2]] }, 'x');
  // user: swept pending worker does not count.
  await markSwept(db, user[0]);

  assert.deepEqual(await countWorkersByState(db, queue, harvesterID), {
    managed: {
      SCORE: {
        nQueue: 3,
        nReady: 0,
        nRunning: 1,
        cores: 4,
        memory: 8000,
        queuedCores: 3,
        queuedMemory: 6000,
        runningCores: 1,
        runningMemory: 2000,
      },
      MCORE: {
        nQueue: 0,
        nReady: 1,
        nRunning: 2,
        cores: 24,
        memory: 48000,
        queuedCores: 0,
        queuedMemory: 0,
        runningCores: 16,
        runningMemory: 32000,
      },
    },
  });
  assert.deepEqual(await countWorkersByState(db, 'PQ_NONE', harvesterID), {});
  const live = await listLiveWorkers(db, queue, harvesterID);
  assert.equal(live.length, 7);
  assert.ok(live.every((w) => w.harvesterID === harvesterID && w.status !== 'finished'));
  assert.equal((await listLiveWorkers(db, queue)).length, 9, 'without an instance: every instance');
  // The monitor's pages: workers with a batch id (not pending), by worker id, a page at a time.
  const monitored = live.filter((w) => w.status !== 'pending' && w.batchID).map((w) => w.workerID);
  const paged: number[] = [];
  for (let after = 0; ; ) {
    const page = await listLiveWorkers(db, queue, harvesterID, {
      afterWorkerID: after,
      limit: 2,
      withBatchIDOnly: true,
    });
    paged.push(...page.map((w) => w.workerID));
    if (page.length < 2) break;
    after = page[1].workerID;
  }
  assert.ok(monitored.length >= 4, `${monitored.length} monitored workers`);
  assert.deepEqual(paged, monitored);
});

test('sweep selection by keep times', async () => {
  const { harvesterID, queue } = names();
  const now = new Date('2026-06-10T12:00:00Z');
  const hoursAgo = (h: number) => new Date(now.getTime() - h * 3600_000);
  const ids = await makeWorkers(9, { harvesterID, computingSite: queue });
  const [fin25, fin23, failed71, failed73, canc73, missed25, unreported, jobPending, running] = ids;
  await submitted(ids.filter((id) => id !== missed25));
  const end = async (id: number, status: 'finished' | 'failed' | 'cancelled', h: number) =>
    recordWorkerStatus(db, id, { status, endTime: hoursAgo(h) });
  await end(fin25, 'finished', 25);
  await end(fin23, 'finished', 23);
  await end(failed71, 'failed', 71);
  await end(failed73, 'failed', 73);
  await end(canc73, 'cancelled', 73);
  await recordSubmission(db, missed25, { submitTime: hoursAgo(25), status: 'missed' });
  await end(unreported, 'finished', 100);
  await end(jobPending, 'finished', 100);
  await recordWorkerStatus(db, running, { status: 'running' });
  // Everything but `unreported` has had its final state accepted by PanDA.
  await markWorkersReported(
    db,
    ids
      .filter((id) => id !== unreported)
      .map((id) => ({
        workerID: id,
        status: id === running ? 'running' : id === missed25 ? 'missed' : 'finished',
      })),
    now,
  );
  // markWorkersReported only clears what was reported: the failed/cancelled ones need their own status.
  await markWorkersReported(
    db,
    [
      { workerID: failed71, status: 'failed' },
      { workerID: failed73, status: 'failed' },
      { workerID: canc73, status: 'cancelled' },
    ],
    now,
  );
  // A job of jobPending still waits for its final report.
  await upsertJobs(db, [
    {
      PandaID: 880001,
      status: 'finished',
      subStatus: 'to_transfer',
      computingSite: queue,
      jobParams: {},
      jobAttributes: {},
    },
  ]);
  await bindJobsToWorker(db, jobPending, [880001]);
  // An orphaned pending worker, created 30 h ago.
  const [orphan] = await allocateWorkerIds(db, 1);
  await insertPendingWorkers(db, [
    spec(orphan, { harvesterID, computingSite: queue, creationTime: hoursAgo(30).toISOString() }),
  ]);

  const sweep = async () =>
    (await listWorkersToSweep(db, now, DEFAULT_KEEP_HOURS, { queueName: queue })).map((w) => w.workerID);
  assert.deepEqual(
    (await sweep()).sort((a, b) => a - b),
    [fin25, failed73, canc73, missed25, orphan].sort((a, b) => a - b),
  );

  // Once the job's final report went through, its worker can go too.
  assert.deepEqual(await markJobsReported(db, [{ pandaID: 880001, finalStatus: 'finished' }], now), [880001]);
  assert.ok((await sweep()).includes(jobPending));
  // Shorter keep times select more.
  const all = await listWorkersToSweep(
    db,
    now,
    { finished: 1, failed: 1, cancelled: 1, missed: 1, pending: 1 },
    {
      queueName: queue,
      harvesterID,
    },
  );
  assert.ok(all.some((w) => w.workerID === fin23) && all.some((w) => w.workerID === failed71));
  assert.ok(!all.some((w) => w.workerID === unreported || w.workerID === running));
  // Swept workers are not selected again.
  assert.equal(await markSwept(db, fin25), true);
  assert.equal(await markSwept(db, fin25), false);
  assert.ok(!(await sweep()).includes(fin25));
  assert.ok((await getWorker(db, fin25))?.sweptAt);
  assert.equal(
    (await listWorkersToSweep(db, now, DEFAULT_KEEP_HOURS, { queueName: queue, limit: 2 })).length,
    2,
  );
});

// ------------------------------------------------------------------------------------------------
// Jobs

function job(pandaID: number, queue: string, over: Partial<JobSpec> = {}): JobSpec {
  return {
    PandaID: pandaID,
    status: 'starting',
    subStatus: 'fetched',
    computingSite: queue,
    jobParams: { PandaID: pandaID },
    jobAttributes: {},
    ...over,
  };
}

test('JSONB job attributes round-trip: nested objects, unicode, numbers', async () => {
  const { queue } = names();
  const attributes = {
    nested: { a: { b: { c: [1, 2, { d: 'deep' }] } }, empty: {}, list: [] },
    unicode: 'Zürich — 東京 — emoji 🚀 — quotes "\' \\ backslash\nnewline\ttab',
    'key with spaces/ünïcode': true,
    numbers: { int: 42, negative: -7, float: 1234.5678, small: 1e-10, big: 9007199254740991, zero: 0 },
    nothing: null,
    flag: false,
  };
  const jobParams = {
    PandaID: 600001,
    jobName: 'tâche',
    coreCount: 8,
    maxRSS: 2.5e6,
    transformation: 'Sim_tf.py',
  };
  const r = await upsertJobs(db, [
    job(600001, queue, { jobParams, jobAttributes: attributes, taskID: 12345678901 }),
  ]);
  assert.deepEqual(r, { inserted: [600001], updated: [] });
  const j = await getJob(db, 600001);
  assert.deepEqual(j?.jobAttributes, attributes);
  assert.deepEqual(j?.jobParams, jobParams);
  assert.equal(j?.taskID, 12345678901);

  // Upsert again: an update, not an insert; the final job is then frozen.
  const r2 = await upsertJobs(db, [
    job(600001, queue, { status: 'running', subStatus: 'running', jobAttributes: attributes }),
  ]);
  assert.deepEqual(r2, { inserted: [], updated: [600001] });
  await updateJobStatus(db, 600001, { status: 'finished', subStatus: 'to_transfer' });
  assert.deepEqual(await upsertJobs(db, [job(600001, queue)]), { inserted: [], updated: [] });
  assert.equal((await getJob(db, 600001))?.status, 'finished');

  // Merging keeps existing keys and adds new ones.
  assert.equal(await mergeJobAttributes(db, 600001, { pilotErrorCode: 1305, unicode: 'ü' }), true);
  const merged = (await getJob(db, 600001))?.jobAttributes;
  assert.equal(merged?.pilotErrorCode, 1305);
  assert.equal(merged?.unicode, 'ü');
  assert.deepEqual(merged?.nested, attributes.nested);
  assert.equal(await mergeJobAttributes(db, 1, {}), false);
});

test('job status: final sticks, subStatus advances, heartbeats due and reported', async () => {
  const { harvesterID, queue } = names();
  const [wid] = await makeWorkers(1, { harvesterID, computingSite: queue, mapType: 'OneToOne' });
  await upsertJobs(db, [job(700001, queue), job(700002, queue), job(700003, `${queue}_other`)]);
  assert.equal(await bindJobsToWorker(db, wid, [700001, 700002]), 2);
  assert.equal(await bindJobsToWorker(db, wid, [700001, 700002]), 0, 'idempotent');
  assert.deepEqual(
    (await listJobsOfWorker(db, wid)).map((j) => j.PandaID),
    [700001, 700002],
  );
  assert.deepEqual((await getWorker(db, wid))?.pandaIDs, [700001, 700002]);

  // New jobs: first heartbeat one interval after arrival.
  const now = new Date(Date.now() + 1000);
  assert.deepEqual(await listDueJobHeartbeats(db, queue, now, 600), []);
  const later = new Date(Date.now() + 601_000);
  assert.deepEqual(
    (await listDueJobHeartbeats(db, queue, later, 600)).map((j) => j.PandaID),
    [700001, 700002],
  );

  // A status change makes a report due at once.
  assert.deepEqual(
    await updateJobStatus(db, 700001, {
      status: 'running',
      subStatus: 'running',
      attributes: { node: 'n1' },
    }),
    { changed: true, previous: { status: 'starting', subStatus: 'fetched' } },
  );
  const due = await listDueJobHeartbeats(db, queue, now, 600);
  assert.deepEqual(
    due.map((j) => j.PandaID),
    [700001],
  );
  assert.ok(due[0].startTime);
  assert.equal(due[0].jobAttributes.node, 'n1');
  await markJobsReported(db, [700001], now);
  assert.deepEqual(await listDueJobHeartbeats(db, queue, now, 600), []);

  // Final: status sticks, subStatus advances until done.
  await updateJobStatus(db, 700001, { status: 'failed', subStatus: 'to_transfer' });
  assert.deepEqual(await updateJobStatus(db, 700001, { status: 'running', subStatus: 'transferring' }), {
    changed: true,
    previous: { status: 'failed', subStatus: 'to_transfer' },
  });
  let j = await getJob(db, 700001);
  assert.equal(j?.status, 'failed');
  assert.equal(j?.subStatus, 'transferring');
  assert.ok(j?.endTime);

  // A heartbeat (transferring) is not a final report; a final report for another status does not close it.
  assert.deepEqual(await markJobsReported(db, [{ pandaID: 700001 }], now), []);
  assert.deepEqual(await markJobsReported(db, [{ pandaID: 700001, finalStatus: 'finished' }], now), []);
  assert.equal((await getJob(db, 700001))?.subStatus, 'transferring');
  assert.deepEqual(await markJobsReported(db, [{ pandaID: 700001, finalStatus: 'failed' }], now), [700001]);
  j = await getJob(db, 700001);
  assert.equal(j?.subStatus, 'done');
  assert.equal(j?.propagatorTime, undefined);
  assert.equal(j?.doneAt, now.toISOString());
  assert.deepEqual(await updateJobStatus(db, 700001, { status: 'failed', subStatus: 'staged' }), {
    changed: false,
    previous: { status: 'failed', subStatus: 'done' },
  });
  assert.ok(!(await listDueJobHeartbeats(db, queue, later, 0)).some((x) => x.PandaID === 700001));
  assert.deepEqual(await updateJobStatus(db, 1, { status: 'running', subStatus: 'running' }), {
    changed: false,
    previous: null,
  });

  // Purge: done jobs older than the keep time; files go with the job.
  await insertFiles(db, [{ PandaID: 700001, lfn: 'log.tgz', fileType: 'log', status: 'finished' }]);
  const purgeNow = new Date(now.getTime() + 74 * 3600_000);
  // Other tests' done jobs share this DB: look only at this one.
  assert.ok((await listJobsToPurge(db, purgeNow, 73)).includes(700001));
  assert.ok(!(await listJobsToPurge(db, now, 73)).includes(700001));
  assert.equal(await deleteJobs(db, [700001]), 1);
  assert.equal(await getJob(db, 700001), null);
  assert.deepEqual(await listFilesOfJob(db, 700001), []);
});

test('files: insert, list, status', async () => {
  const { queue } = names();
  await upsertJobs(db, [job(710001, queue)]);
  const files = await insertFiles(db, [
    {
      PandaID: 710001,
      lfn: 'EVNT.01._000001.pool.root.1',
      fileType: 'input',
      status: 'to_prepare',
      scope: 'mc23',
      fsize: 5_000_000_000,
    },
    {
      PandaID: 710001,
      lfn: 'HITS.01._000001.pool.root.1',
      fileType: 'output',
      status: 'defined',
      fileAttributes: { guid: 'g-1' },
    },
  ]);
  assert.equal(files.length, 2);
  assert.ok(files[0].fileID! < files[1].fileID!);
  assert.equal(files[0].lfn, 'EVNT.01._000001.pool.root.1');
  assert.equal(await updateFileStatus(db, [files[1].fileID!], 'transferring'), 1);
  const listed = await listFilesOfJob(db, 710001);
  assert.equal(listed[0].fsize, 5_000_000_000);
  assert.equal(listed[1].status, 'transferring');
  assert.deepEqual(listed[1].fileAttributes, { guid: 'g-1' });
});

// ------------------------------------------------------------------------------------------------
// Queues, config dumps, commands, metrics

test('queues: upsert, limits, flags, nNewWorkers', async () => {
  const { harvesterID, queue } = names();
  assert.equal(await setQueueLimits(db, harvesterID, queue, { maxWorkers: 1 }), false, 'unknown queue');
  assert.equal(await setNNewWorkers(db, harvesterID, queue, { managed: { SCORE: 1 } }), false);
  const q0 = await upsertQueue(db, {
    harvesterID,
    queueName: queue,
    configID: 'c1',
    siteName: 'SITE',
    pandaStatus: 'online',
  });
  assert.equal(q0.paused, false);
  assert.equal(q0.limits.maxWorkers, null);

  assert.equal(
    await setQueueLimits(db, harvesterID, queue, { nQueueLimitWorker: 100, maxWorkers: 1000 }),
    true,
  );
  await setQueueLimits(db, harvesterID, queue, { maxNewWorkersPerCycle: 20, maxWorkers: null });
  await assert.rejects(setQueueLimits(db, harvesterID, queue, { maxWorkers: -1 }), /non-negative/);
  await setQueueFlags(db, harvesterID, queue, { paused: true, reason: 'monitor failing' });
  // Re-registering with a new config keeps limits and flags.
  await upsertQueue(db, { harvesterID, queueName: queue, configID: 'c2' });
  let q = await getQueue(db, harvesterID, queue);
  assert.equal(q?.configID, 'c2');
  assert.equal(q?.siteName, 'SITE');
  assert.equal(q?.limits.nQueueLimitWorker, 100);
  assert.equal(q?.limits.maxWorkers, null);
  assert.equal(q?.limits.maxNewWorkersPerCycle, 20);
  assert.equal(q?.paused, true);
  assert.equal(q?.pauseReason, 'monitor failing');
  await setQueueFlags(db, harvesterID, queue, { paused: false });
  q = await getQueue(db, harvesterID, queue);
  assert.equal(q?.paused, false);
  assert.equal(q?.pauseReason, undefined);

  // SET_N_WORKERS_JOBTYPE: everything zeroed, then the given pairs set.
  await setNNewWorkers(db, harvesterID, queue, { managed: { SCORE: 10, MCORE: 4 }, user: { SCORE: 2 } });
  await setNNewWorkers(db, harvesterID, queue, { managed: { MCORE: 7 } });
  assert.deepEqual((await getQueue(db, harvesterID, queue))?.nNewWorkers, {
    managed: { MCORE: 7, SCORE: 0 },
    user: { SCORE: 0 },
  });
  assert.deepEqual(
    (await listQueues(db, harvesterID)).map((x) => x.queueName),
    [queue],
  );
});

test('config dumps: idempotent save, conflicting content refused', async () => {
  const { queue } = names();
  const data = { queueName: queue, submitter: { module: 'slurm', nCore: 8 }, queueStatus: 'online' };
  const d1 = await saveConfigDump(db, `${queue}-cfg1`, queue, data);
  const d2 = await saveConfigDump(db, `${queue}-cfg1`, queue, { ...data });
  assert.equal(d1.checksum, d2.checksum);
  assert.deepEqual((await getConfigDump(db, `${queue}-cfg1`))?.data, data);
  // Same content in another key order, or another queueStatus: same checksum.
  assert.equal(
    configChecksum({ queueStatus: 'offline', submitter: { nCore: 8, module: 'slurm' }, queueName: queue }),
    d1.checksum,
  );
  await saveConfigDump(db, `${queue}-cfg1`, queue, { ...data, queueStatus: 'offline' });
  await assert.rejects(
    saveConfigDump(db, `${queue}-cfg1`, queue, { ...data, submitter: { module: 'htcondor' } }),
    ConfigDumpConflictError,
  );
  assert.equal((await findConfigDumpByChecksum(db, queue, d1.checksum))?.configID, `${queue}-cfg1`);
  assert.equal(await getConfigDump(db, 'no-such-config'), null);
});

test('commands: received -> applied -> acknowledged', async () => {
  const { harvesterID } = names();
  const base = 100_000 + seq * 100;
  const cmds = [
    {
      commandID: base + 1,
      command: 'KILL_WORKERS',
      receiver: 'sweeper',
      params: { status: ['submitted'], computingSite: ['Q'] },
      ackRequested: true,
      createdAt: '2026-05-01T10:00:00Z',
    },
    {
      commandID: base + 2,
      command: 'SYNC_WORKERS_KILL',
      receiver: 'sweeper',
      params: [101, 102],
      ackRequested: false,
    },
    {
      commandID: base + 3,
      command: 'SET_N_WORKERS_JOBTYPE:Q',
      receiver: 'submitter',
      params: { managed: { SCORE: 10 } },
      ackRequested: true,
    },
  ];
  assert.deepEqual(await insertCommands(db, harvesterID, cmds), [base + 1, base + 2, base + 3]);
  assert.deepEqual(await insertCommands(db, harvesterID, cmds), [], 'handed out again: stored once');

  const pending = await listPendingCommands(db, harvesterID);
  assert.deepEqual(
    pending.map((c) => c.commandID),
    [base + 1, base + 2, base + 3],
  );
  assert.deepEqual(pending[1].params, [101, 102]);
  assert.equal(pending[0].createdAt, '2026-05-01T10:00:00.000Z');
  assert.deepEqual(
    (await listPendingCommands(db, harvesterID, 'submitter')).map((c) => c.commandID),
    [base + 3],
  );

  // Not applied yet: cannot be acknowledged.
  assert.deepEqual(await markCommandAcknowledged(db, [base + 1]), []);
  assert.equal(await markCommandApplied(db, base + 1, { marked: [1, 2] }), true);
  assert.equal(await markCommandApplied(db, base + 1), false, 'applied once');
  await markCommandApplied(db, base + 2);
  assert.deepEqual(
    (await listPendingCommands(db, harvesterID)).map((c) => c.commandID),
    [base + 3],
  );
  // Only ack-requested applied commands are waiting for an acknowledgement.
  assert.deepEqual(
    (await listCommandsToAcknowledge(db, harvesterID)).map((c) => c.commandID),
    [base + 1],
  );
  assert.deepEqual(await markCommandAcknowledged(db, [base + 1, base + 3]), [base + 1]);
  assert.deepEqual(await listCommandsToAcknowledge(db, harvesterID), []);
  const c1 = await getCommand(db, base + 1);
  assert.equal(c1?.state, 'acknowledged');
  assert.deepEqual(c1?.result, { marked: [1, 2] });
  assert.ok(c1?.appliedAt && c1.acknowledgedAt);
  assert.equal((await getCommand(db, base + 3))?.state, 'received');
});

test('worker stats for REPORT_WORKER_STATS, and service metrics', async () => {
  const { harvesterID, queue } = names();
  const empty = `${queue}_EMPTY`;
  await upsertQueue(db, { harvesterID, queueName: queue, configID: 'c' });
  await upsertQueue(db, { harvesterID, queueName: empty, configID: 'c' });
  await setNNewWorkers(db, harvesterID, queue, { managed: { SCORE: 5 } });
  const ids = await makeWorkers(4, { harvesterID, computingSite: queue });
  const [unregistered] = await makeWorkers(1, {
    harvesterID,
    computingSite: `${queue}_GONE`,
    resourceType: 'MCORE',
  });
  await submitted([...ids.slice(1), unregistered]);
  await recordWorkerStatus(db, ids[2], { status: 'running' });
  await recordWorkerStatus(db, ids[3], { status: 'finished' });

  const stats = await workerStatsByQueue(db, harvesterID);
  assert.deepEqual(stats, {
    [queue]: { managed: { SCORE: { pending: 1, submitted: 1, running: 1, to_submit: 5 } } },
    [empty]: {},
    [`${queue}_GONE`]: { managed: { MCORE: { submitted: 1 } } },
  });
  const at = new Date('2026-06-01T00:00:00Z');
  await recordWorkerStatsReport(db, harvesterID, queue, stats[queue], at);
  await recordWorkerStatsReport(db, harvesterID, queue, { managed: { SCORE: { running: 2 } } }, at);
  assert.deepEqual(await getReportedWorkerStats(db, harvesterID, queue), {
    stats: { managed: { SCORE: { running: 2 } } },
    reportedAt: at.toISOString(),
  });

  const t0 = new Date('2026-06-01T00:00:00Z');
  const ms = await insertServiceMetrics(db, harvesterID, [
    { hostName: 'h1', metrics: { cpu_pct: 12.5, rss_mb: 300 }, creationTime: t0 },
    { hostName: 'h1', metrics: { cpu_pct: 40 }, creationTime: new Date(t0.getTime() + 300_000) },
  ]);
  assert.equal(ms.length, 2);
  const since = await listServiceMetricsSince(db, harvesterID, t0);
  assert.deepEqual(
    since.map((m) => m.metrics),
    [{ cpu_pct: 40 }],
  );
  assert.equal(await purgeServiceMetrics(db, new Date(t0.getTime() + 1000)), 1);
});

test('functions take a client so several writes commit together or not at all', async () => {
  const { harvesterID, queue } = names();
  const [id] = await allocateWorkerIds(db, 1);
  await assert.rejects(
    inTransaction(db, async (client) => {
      await insertPendingWorkers(client, [spec(id, { harvesterID, computingSite: queue, pandaIDs: [1] })]);
      await recordSubmission(client, id, { submitTime: new Date(), status: 'submitted', batchID: 'x' });
      throw new Error('abort');
    }),
    /abort/,
  );
  assert.equal(await getWorker(db, id), null, 'rolled back');
});
