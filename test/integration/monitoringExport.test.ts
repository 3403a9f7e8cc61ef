/**
 * Harvester's propagator reports and monitoring mirror: the incremental export of the workers and
 * jobs tables to a central PostgreSQL (a database of its own, created here on the test server and
 * dropped at the end), and the instance workflow's worker statistics reaching the PanDA simulator.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import type { WorkSpec } from '../../src/core/specs';
import { deleteJobs, updateJobStatus, upsertJobs } from '../../src/db/jobs';
import { getReportedWorkerStats } from '../../src/db/metrics';
import { migrate } from '../../src/db/migrate';
import { type Db, openDatabase } from '../../src/db/pool';
import { upsertQueue } from '../../src/db/queues';
import {
  allocateWorkerIds,
  insertPendingWorkers,
  markSwept,
  recordSubmission,
  recordWorkerStatus,
} from '../../src/db/workers';
import { createMonitorExporter, type MonitorExporter } from '../../src/monitoring/exportToCentral';
import { instanceStateQuery, instanceWorkflowId } from '../../src/workflows/instanceMessages';
import { testDatabaseUrl } from '../helpers/env';
import { eventually, startTestStack } from '../helpers/stack';

function urlFor(database: string): string {
  const u = new URL(testDatabaseUrl());
  u.pathname = `/${database}`;
  return u.toString();
}

// Generated here, never from input: safe to put into CREATE/DROP DATABASE.
const CENTRAL_DB = `harvester_monitor_${randomBytes(6).toString('hex')}`;
let local: Db;
let central: Db;
const exporters: MonitorExporter[] = [];

before(async () => {
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${CENTRAL_DB}`);
  } finally {
    await admin.end();
  }
  local = await openDatabase(testDatabaseUrl(), { max: 4 });
  await migrate(local);
  central = await openDatabase(urlFor(CENTRAL_DB), { max: 2 });
});

after(async () => {
  for (const e of exporters) await e.close().catch(() => {});
  await central?.end().catch(() => {});
  await local?.end().catch(() => {});
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${CENTRAL_DB} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

function exporter(opts: Parameters<typeof createMonitorExporter>[2] = {}): MonitorExporter {
  const e = createMonitorExporter(local, urlFor(CENTRAL_DB), opts);
  exporters.push(e);
  return e;
}

let seq = 0;
function names(): { harvesterID: string; queue: string } {
  seq += 1;
  const tag = randomBytes(3).toString('hex');
  return { harvesterID: `hv-mon-${tag}-${seq}`, queue: `PQ_MON_${tag}_${seq}` };
}

async function makeWorkers(
  db: Db,
  n: number,
  harvesterID: string,
  computingSite: string,
  over: Partial<Pick<WorkSpec, 'resourceType' | 'nCore'>> = {},
): Promise<number[]> {
  const ids = await allocateWorkerIds(db, n);
  await insertPendingWorkers(
    db,
    ids.map((workerID) => ({
      workerID,
      harvesterID,
      computingSite,
      configID: 'cfg-mon',
      mapType: 'NoJob' as const,
      status: 'pending' as const,
      resourceType: 'SCORE',
      jobType: 'managed',
      nCore: 1,
      creationTime: new Date().toISOString(),
      ...over,
    })),
  );
  return ids;
}

async function mirrorWorkers(harvesterID: string) {
  const { rows } = await central.query<{
    worker_id: string;
    status: string;
    batch_id: string | null;
    swept_at: Date | null;
    deleted_at: Date | null;
  }>(
    `SELECT worker_id, status, batch_id, swept_at, deleted_at FROM harvester_workers_mirror
     WHERE harvester_id = $1 ORDER BY worker_id`,
    [harvesterID],
  );
  return new Map(rows.map((r) => [Number(r.worker_id), r]));
}

async function mirrorJobs(harvesterID: string) {
  const { rows } = await central.query<{
    panda_id: string;
    status: string;
    sub_status: string;
    deleted_at: Date | null;
  }>(
    `SELECT panda_id, status, sub_status, deleted_at FROM harvester_jobs_mirror
     WHERE harvester_id = $1 ORDER BY panda_id`,
    [harvesterID],
  );
  return new Map(rows.map((r) => [Number(r.panda_id), r]));
}

test('export mirrors workers and jobs, then only what changed; re-running exports nothing', async () => {
  const { harvesterID, queue } = names();
  await upsertQueue(local, { harvesterID, queueName: queue, configID: 'cfg-mon' });
  const [w1, w2, w3] = await makeWorkers(local, 3, harvesterID, queue);
  for (const id of [w1, w2]) {
    await recordSubmission(local, id, { batchID: `b${id}`, submitTime: new Date(), status: 'submitted' });
  }
  // Another instance's worker in the same DB must not appear under this instance.
  const other = names();
  await makeWorkers(local, 1, other.harvesterID, other.queue);
  const base = 7_000_000_000 + randomInt(1_000_000_000);
  const [j1, j2] = [base, base + 1];
  await upsertJobs(
    local,
    [j1, j2].map((PandaID) => ({
      PandaID,
      status: 'starting' as const,
      subStatus: 'fetched' as const,
      computingSite: queue,
      jobParams: {},
      jobAttributes: {},
    })),
  );

  // Batches of 2 make the 3 workers take two pages.
  const e = exporter({ batchSize: 2 });
  const first = await e.run(harvesterID);
  assert.ok(first);
  assert.equal(first.workers.upserted, 3);
  assert.equal(first.jobs.upserted, 2);
  assert.equal(first.rowsExported, 5);
  assert.equal(first.workers.caughtUp, true);
  let workers = await mirrorWorkers(harvesterID);
  assert.deepEqual([...workers.keys()], [w1, w2, w3]);
  assert.equal(workers.get(w1)?.status, 'submitted');
  assert.equal(workers.get(w1)?.batch_id, `b${w1}`);
  assert.equal(workers.get(w3)?.status, 'pending');
  assert.equal((await mirrorWorkers(other.harvesterID)).size, 0);
  assert.deepEqual([...(await mirrorJobs(harvesterID)).keys()], [j1, j2]);

  // Nothing changed: the overlap window is read again, but no mirror row is written.
  const again = await e.run(harvesterID);
  assert.ok(again);
  assert.equal(again.rowsExported, 0);
  assert.ok(again.workers.read >= 3, 'the overlap window was re-read');

  // Changes: a status change, a swept worker, a job update and a purged job.
  await recordWorkerStatus(local, w1, { status: 'running', startTime: new Date() });
  assert.equal(await markSwept(local, w3), true);
  await updateJobStatus(local, j1, { status: 'running', subStatus: 'running' });
  assert.equal(await deleteJobs(local, [j2]), 1);

  const second = await e.run(harvesterID);
  assert.ok(second);
  assert.equal(second.workers.upserted, 2, 'w1 changed and w3 swept');
  assert.equal(second.jobs.upserted, 1);
  assert.equal(second.jobs.markedDeleted, 1);
  assert.equal(second.rowsExported, 4);
  workers = await mirrorWorkers(harvesterID);
  assert.equal(workers.get(w1)?.status, 'running');
  assert.equal(workers.get(w2)?.status, 'submitted');
  assert.ok(workers.get(w3)?.swept_at, 'the sweep is mirrored');
  const jobs = await mirrorJobs(harvesterID);
  assert.equal(jobs.get(j1)?.status, 'running');
  assert.equal(jobs.get(j1)?.deleted_at, null);
  assert.ok(jobs.get(j2)?.deleted_at, 'the purged job is marked deleted, not dropped');

  // Idempotent, also for a new process (the high-water mark lives in the local DB).
  const third = await exporter({ batchSize: 2 }).run(harvesterID);
  assert.ok(third);
  assert.equal(third.rowsExported, 0);
  const state = await local.query<{ table_name: string; rows_exported: string }>(
    'SELECT table_name, rows_exported FROM monitor_export_state WHERE harvester_id = $1 ORDER BY table_name',
    [harvesterID],
  );
  assert.deepEqual(
    state.rows.map((r) => [r.table_name, Number(r.rows_exported)]),
    [
      ['jobs', 4],
      ['workers', 5],
    ],
  );
});

test('a run stopped by its row bound resumes where it stopped', async () => {
  const { harvesterID, queue } = names();
  await upsertQueue(local, { harvesterID, queueName: queue, configID: 'cfg-mon' });
  await makeWorkers(local, 5, harvesterID, queue);
  const e = exporter({ batchSize: 2, maxRowsPerRun: 3 });
  const a = await e.run(harvesterID);
  assert.ok(a);
  assert.equal(a.workers.upserted, 3);
  assert.equal(a.workers.caughtUp, false);
  const b = await e.run(harvesterID);
  assert.ok(b);
  assert.equal(b.workers.upserted, 2);
  assert.equal(b.workers.caughtUp, true);
  assert.equal((await mirrorWorkers(harvesterID)).size, 5);
});

test('the instance workflow reports worker statistics per queue to PanDA, with a zero entry for an empty queue', async () => {
  // No queue in the config: the queues and workers are made here, so the counts are exact.
  const stack = await startTestStack({ queueConfig: () => ({}) });
  const withWorkers = `PQ_STATS_${randomBytes(3).toString('hex')}`;
  const empty = `PQ_EMPTY_${randomBytes(3).toString('hex')}`;
  try {
    for (const q of [withWorkers, empty]) {
      await upsertQueue(stack.db, { harvesterID: stack.harvesterID, queueName: q, configID: 'cfg-mon' });
    }
    const ids = await makeWorkers(stack.db, 3, stack.harvesterID, withWorkers);
    const [mcore] = await makeWorkers(stack.db, 1, stack.harvesterID, withWorkers, {
      resourceType: 'MCORE',
      nCore: 8,
    });
    for (const id of [...ids, mcore]) {
      await recordSubmission(stack.db, id, {
        batchID: `b${id}`,
        submitTime: new Date(),
        status: 'submitted',
      });
    }
    await recordWorkerStatus(stack.db, ids[0], { status: 'running', startTime: new Date() });
    await recordWorkerStatus(stack.db, mcore, { status: 'running', startTime: new Date() });

    const h = await stack.client.workflow.start('instanceWorkflow', {
      taskQueue: stack.controlTaskQueue,
      workflowId: instanceWorkflowId(stack.harvesterID),
      args: [
        {
          harvesterID: stack.harvesterID,
          controlTaskQueue: stack.controlTaskQueue,
          queueSyncIntervalSeconds: 600,
          commandIntervalSeconds: 5,
          pandaHeartbeatIntervalSeconds: 600,
          workerStatsIntervalSeconds: 1,
        },
      ],
    });
    try {
      const reportOf = (queue: string) => {
        const calls = stack.sim.control
          .callsTo('harvester/report_worker_statistics')
          .filter((c) => c.args.panda_queue === queue && c.success === true);
        const last = calls[calls.length - 1];
        return last ? { n: calls.length, stats: JSON.parse(String(last.args.statistics)) } : undefined;
      };
      // At least two reports each: the cycle repeats at its interval.
      await eventually('two worker-statistics reports per queue', async () => {
        const a = reportOf(withWorkers);
        const b = reportOf(empty);
        return a && b && a.n >= 2 && b.n >= 2;
      });
      assert.deepEqual(reportOf(withWorkers)?.stats, {
        managed: { SCORE: { submitted: 2, running: 1 }, MCORE: { running: 1 } },
      });
      assert.deepEqual(reportOf(empty)?.stats, {
        managed: { SCORE: { running: 0, submitted: 0, finished: 0, to_submit: 0 } },
      });
      for (const c of stack.sim.control.callsTo('harvester/report_worker_statistics')) {
        assert.equal(c.args.harvester_id, stack.harvesterID);
      }
      // What was sent is recorded locally for operators.
      const recorded = await getReportedWorkerStats(stack.db, stack.harvesterID, withWorkers);
      assert.deepEqual(recorded.stats, {
        managed: { SCORE: { submitted: 2, running: 1 }, MCORE: { running: 1 } },
      });

      // Service metrics went along, each sample pushed once.
      const metricCalls = await eventually('service metrics pushed', async () => {
        const c = stack.sim.control
          .callsTo('harvester/update_service_metrics')
          .filter((x) => x.success === true);
        return c.length >= 2 ? c : undefined;
      });
      const rows = metricCalls.flatMap((c) => c.args.metrics as [string, string, string][]);
      const times = rows.map((r) => r[0]);
      assert.equal(new Set(times).size, times.length, 'no sample is pushed twice');
      const sample = JSON.parse(rows[0][2]) as Record<string, number>;
      assert.ok(sample.rss_mib > 0);
      assert.equal(typeof sample.cpu_pc, 'number');

      const state = await h.query(instanceStateQuery);
      assert.ok(state.lastWorkerStats?.reported.includes(withWorkers));
      assert.deepEqual(state.lastWorkerStats?.failures, []);
      // No monitoring DB in the test stack: the export is skipped, not failed.
      assert.equal(state.lastMonitorExport?.skipped, 'no monitoring database configured');
    } finally {
      await h.terminate().catch(() => {});
    }
  } finally {
    await stack.close();
  }
});
