/**
 * The queue workflow's history per submitter cycle: small and proportional to the new workers, for
 * a central queue (one central activity; only a summary enters the history) and for a queue whose
 * plugins run on an edge task queue (the specs cross once, packed; the outcomes come back packed).
 * A bulk submission that fails after it made the batch jobs makes no second job for any worker,
 * whether the retry finds them or the workers' own fallback does. And a queue history recorded
 * with the old submission sequence still replays.
 *
 * What a user would notice: a 1,000-worker cycle does not write megabytes of specs into the
 * Temporal server, and a crash in the middle of a submission never leaves a pilot running twice.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createPluginActivities } from '../../src/activities/plugin';
import { readDummyJob } from '../../src/plugins/dummy/job';
import type { PluginRegistry } from '../../src/plugins/registry';
import type { PluginContext, PluginKind, PluginParams, Submitter } from '../../src/plugins/types';
import {
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  queueWorkflowId,
} from '../../src/workflows/queueMessages';
import { workerWorkflowId } from '../../src/workflows/workerMessages';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { TEST_NAMESPACE, testTemporalAddress } from '../helpers/env';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';
import { uniqueName } from '../helpers/temporal';

const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
/** Where a queue's plugins run, and whether it is a push queue (the jobs' descriptions go to the edge too). */
const KINDS = ['central', 'edge', 'centralPush', 'edgePush'] as const;
type Kind = (typeof KINDS)[number];
const isEdge = (k: Kind) => k === 'edge' || k === 'edgePush';
const isPush = (k: Kind) => k === 'centralPush' || k === 'edgePush';
/** New workers per cycle measured: pull queues at 100 and 300, push queues (a PanDA job each) at 50 and 150. */
const SIZES: Record<Kind, readonly [number, number]> = {
  central: [100, 300],
  edge: [100, 300],
  centralPush: [50, 150],
  edgePush: [50, 150],
};
const nameOf = (k: Kind, n: number) => `S_${k.toUpperCase()}${n}_${RUN}`;
const Q = {
  /** The bulk call makes the batch jobs, then dies once: the retry must find them. */
  RETRY: `S_RETRY_${RUN}`,
  /** The bulk call makes the jobs and dies; so do the bulk look-ups: the workers' fallback must find them. */
  FAIL: `S_FAIL_${RUN}`,
  /** As FAIL, on the edge task queue. */
  EDGE_FAIL: `S_EFAIL_${RUN}`,
};
const FAULTY_SIZE = 6;
const edgeTaskQueue = uniqueName('edge-submit');
/** The target of issue 14: a queue's history per cycle. */
const budget = (newWorkers: number) => 64 * 1024 + 300 * newWorkers;

/** Every submit_workers call per queue (the worker ids it got), and the look-ups. */
const submitCalls = new Map<string, number[][]>();
/** Bulk calls (more than one worker) die after doing their work, this many times per queue. */
const dieAfterBulkSubmit = new Map<string, number>([
  [Q.RETRY, 1],
  [Q.FAIL, Number.POSITIVE_INFINITY],
  [Q.EDGE_FAIL, Number.POSITIVE_INFINITY],
]);
/** Bulk look-ups fail (the batch system's query times out) for these queues. */
const bulkLookupFails = new Set([Q.FAIL, Q.EDGE_FAIL]);

function faultyRegistry(r: PluginRegistry): PluginRegistry {
  const create = r.create.bind(r);
  r.create = (<K extends PluginKind>(kind: K, params: PluginParams, ctx: PluginContext) => {
    const plugin = create(kind, params, ctx);
    if (kind !== 'submitter') return plugin;
    const submitter = plugin as unknown as Submitter;
    const submit = submitter.submitWorkers.bind(submitter);
    submitter.submitWorkers = async (workers) => {
      const calls = submitCalls.get(ctx.queueName) ?? [];
      calls.push(workers.map((w) => w.workerID));
      submitCalls.set(ctx.queueName, calls);
      const results = await submit(workers);
      const deaths = dieAfterBulkSubmit.get(ctx.queueName) ?? 0;
      if (workers.length > 1 && deaths > 0) {
        dieAfterBulkSubmit.set(ctx.queueName, deaths - 1);
        throw new Error('test: the submitter died after sbatch, before it could report');
      }
      return results;
    };
    const find = submitter.findSubmittedWorkers?.bind(submitter);
    if (find)
      submitter.findSubmittedWorkers = async (workers) => {
        if (workers.length > 1 && bulkLookupFails.has(ctx.queueName))
          throw new Error('test: the batch system did not answer the look-up');
        return find(workers);
      };
    return plugin;
  }) as PluginRegistry['create'];
  return r;
}

let stack: TestStack;

before(async () => {
  stack = await startTestStack({
    registry: faultyRegistry,
    queueConfig: (scratch) => {
      const queue = (name: string, n: number, edge: boolean, push = false) =>
        dummyQueueConfig(accessPointUnder(`${scratch}/${name}`), {
          nQueueLimitWorker: n,
          maxWorkers: n,
          maxNewWorkersPerCycle: n,
          ...(push ? { mapType: 'OneToOne' } : {}),
          ...(edge ? { temporal: { taskQueue: edgeTaskQueue } } : {}),
        });
      return {
        ...Object.fromEntries(
          KINDS.flatMap((k) =>
            SIZES[k].map((n) => [nameOf(k, n), queue(nameOf(k, n), n, isEdge(k), isPush(k))]),
          ),
        ),
        [Q.RETRY]: queue(Q.RETRY, FAULTY_SIZE, false),
        [Q.FAIL]: queue(Q.FAIL, FAULTY_SIZE, false),
        [Q.EDGE_FAIL]: queue(Q.EDGE_FAIL, FAULTY_SIZE, true),
      };
    },
  });
  for (const k of KINDS)
    for (const n of SIZES[k]) stack.sim.control.addJobs(n + 10, { computingSite: nameOf(k, n) });
  for (const name of Object.values(Q)) stack.sim.control.addJobs(FAULTY_SIZE + 10, { computingSite: name });
});

after(async () => {
  await stack?.close();
});

/** A queue workflow with one submitter cycle and one monitor cycle at the start, then an hour of quiet. */
async function startQueue(queueName: string) {
  const input: QueueWorkflowInput = {
    harvesterID: stack.harvesterID,
    queueName,
    controlTaskQueue: stack.controlTaskQueue,
    settings: {
      submitterIntervalSeconds: 3600,
      monitorIntervalSeconds: 3600,
      maxConsecutiveMonitorFailures: 100,
      autoResumeAfterMonitorRecovery: true,
    },
  };
  return stack.client.workflow.start('queueWorkflow', {
    taskQueue: stack.controlTaskQueue,
    workflowId: queueWorkflowId(stack.harvesterID, queueName),
    args: [input],
  });
}

async function waitStarted(queueName: string, n: number, timeoutMs = 120000): Promise<QueueWorkflowState> {
  const h = stack.client.workflow.getHandle(queueWorkflowId(stack.harvesterID, queueName));
  return eventually(
    `${queueName}: ${n} workers started`,
    async () => {
      const s: QueueWorkflowState = await h.query(queueStateQuery);
      return s.totals.workersStarted >= n && s.lastSubmitCycle ? s : undefined;
    },
    timeoutMs,
  );
}

const encodedSize = (e: temporal.api.history.v1.IHistoryEvent) =>
  temporal.api.history.v1.HistoryEvent.encode(e).finish().length;

/**
 * Bytes of the queue's history from its submitter cycle's planSubmission to the end (the cycle's
 * steps, and the wait for the next cycle that follows it).
 */
async function bytesOfSubmitCycle(workflowId: string): Promise<{ bytes: number; activities: string[] }> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  let bytes: number | undefined;
  const activities: string[] = [];
  for (const e of history.events ?? []) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name === 'planSubmission') bytes = 0;
    if (bytes === undefined) continue;
    if (name) activities.push(name);
    bytes += encodedSize(e);
  }
  if (bytes === undefined) throw new Error(`${workflowId}: no submitter cycle in its history`);
  return { bytes, activities };
}

/** Worker rows of a queue with their batch ids. */
async function rowsOf(queueName: string) {
  const { rows } = await stack.db.query<{
    worker_id: string;
    batch_id: string | null;
    status: string;
    access_point: string;
  }>(
    'SELECT worker_id, batch_id, status, access_point FROM workers WHERE computing_site = $1 ORDER BY worker_id',
    [queueName],
  );
  return rows.map((r) => ({
    workerID: Number(r.worker_id),
    batchID: r.batch_id,
    status: r.status,
    accessPoint: r.access_point,
  }));
}

/** Each worker was handed to submit_workers once, and its one batch job is the one on record. */
async function assertOneJobEach(queueName: string, n: number): Promise<void> {
  const rows = await rowsOf(queueName);
  assert.equal(rows.length, n, `${queueName}: ${n} worker rows`);
  const handed = (submitCalls.get(queueName) ?? []).flat();
  for (const w of rows) {
    assert.equal(
      handed.filter((id) => id === w.workerID).length,
      1,
      `${queueName}: worker ${w.workerID} handed to submit_workers once (${JSON.stringify(submitCalls.get(queueName))})`,
    );
    const job = await readDummyJob(w.accessPoint);
    assert.ok(
      w.batchID && job?.batchID === w.batchID,
      `${queueName}: worker ${w.workerID}'s batch job on record`,
    );
  }
  assert.equal(new Set(rows.map((w) => w.batchID)).size, n, `${queueName}: ${n} batch jobs`);
}

/** The old sequence's history per worker, from the committed fixture: the payloads that carried specs and outcomes. */
function oldBytesPerWorker(): { perWorker: number; workers: number } {
  const file = join(__dirname, '..', 'fixtures', 'histories', 'queue-submit-v1.json');
  const history = historyFromJSON(JSON.parse(readFileSync(file, 'utf8')));
  const steps = new Map<string, string>();
  let bytes = 0;
  let workers = 0;
  for (const e of history.events ?? []) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) steps.set(String(e.eventId), String(scheduled.activityType?.name));
    const name = scheduled
      ? String(scheduled.activityType?.name)
      : steps.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId));
    if (!name || !['prepareWorkers', 'submitWorkers', 'startWorkers'].includes(name)) continue;
    bytes += encodedSize(e);
    if (name === 'startWorkers' && scheduled) {
      const input = JSON.parse(Buffer.from(scheduled.input?.payloads?.[0]?.data ?? []).toString('utf8'));
      workers = input.ids.length;
    }
  }
  assert.ok(workers > 0, 'the fixture has a submission');
  return { perWorker: bytes / workers, workers };
}

test("a submitter cycle's history is small and proportional to its new workers: 100 and 300, central and on an edge task queue", async (t) => {
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const edge = await Worker.create({
    connection,
    namespace: TEST_NAMESPACE,
    taskQueue: edgeTaskQueue,
    activities: createPluginActivities({
      registry: stack.registry,
      mirrorDir: join(stack.scratch, 'edge-mirrors'),
    }),
  });
  const edgeRun = edge.run();
  const names = KINDS.flatMap((k) => SIZES[k].map((n) => nameOf(k, n)));
  try {
    for (const name of names) await startQueue(name);
    const figures = new Map<string, number>();
    for (const k of KINDS) {
      for (const n of SIZES[k]) {
        const name = nameOf(k, n);
        const s = await waitStarted(name, n, 240000);
        assert.equal(s.totals.workersStarted, n, `${name}: ${s.lastSubmitCycle?.explanation}`);
        const { bytes, activities } = await bytesOfSubmitCycle(queueWorkflowId(stack.harvesterID, name));
        figures.set(name, bytes);
        t.diagnostic(
          `${name}: ${bytes} bytes of history for a cycle of ${n} new workers (${activities.join(', ')})`,
        );
        const expected = isEdge(k)
          ? [
              'planSubmission',
              'allocateWorkerIds',
              'submitQueueWorkers',
              'submitPackedWorkers',
              'startQueueWorkers',
            ]
          : ['planSubmission', 'allocateWorkerIds', 'submitQueueWorkers'];
        assert.deepEqual(activities, expected, `${name}: the cycle's steps`);
        await assertOneJobEach(name, n);
        // Push mode: each worker has its job, in its access point.
        if (isPush(k)) {
          const { rows } = await stack.db.query<{ n: number }>(
            'SELECT count(DISTINCT jw.worker_id)::int AS n FROM job_workers jw JOIN workers w USING (worker_id) WHERE w.computing_site = $1',
            [name],
          );
          assert.equal(rows[0].n, n, `${name}: every worker bound to its job`);
        }
      }
    }
    const old = oldBytesPerWorker();
    const perWorker = (k: Kind) => {
      const [small, big] = SIZES[k];
      return (figures.get(nameOf(k, big))! - figures.get(nameOf(k, small))!) / (big - small);
    };
    t.diagnostic(
      `bytes per new worker: ${KINDS.map((k) => `${k} ${perWorker(k).toFixed(1)}`).join(', ')}; the old sequence ${old.perWorker.toFixed(0)} (fixture, ${old.workers} pull workers)`,
    );
    for (const k of KINDS) {
      const [small, big] = SIZES[k];
      for (const n of [small, big]) {
        const bytes = figures.get(nameOf(k, n))!;
        assert.ok(bytes <= budget(n), `${nameOf(k, n)}: ${bytes} bytes, over ${budget(n)}`);
      }
    }
    // Central: only allocateWorkerIds' list of ids grows with the workers (a few bytes each).
    for (const k of ['central', 'centralPush'] as const)
      assert.ok(perWorker(k) <= 16, `${k}: ${perWorker(k)} bytes per new worker`);
    // Edge: the packed specs (the common part once; push mode: with the job descriptions the edge
    // writes for the pilots) and the packed outcomes.
    for (const k of ['edge', 'edgePush'] as const)
      assert.ok(perWorker(k) <= 300, `${k}: ${perWorker(k)} bytes per new worker`);
    assert.ok(
      perWorker('edge') * 4 < old.perWorker,
      `edge ${perWorker('edge')} vs old ${old.perWorker} bytes per worker`,
    );
  } finally {
    for (const name of names)
      await stack.client.workflow
        .getHandle(queueWorkflowId(stack.harvesterID, name))
        .terminate('test finished')
        .catch(() => {});
    edge.shutdown();
    await edgeRun.catch(() => {});
    await connection.close();
  }
});

test('a bulk submission that dies after making the batch jobs is retried without a second job for any worker', async () => {
  const h = await startQueue(Q.RETRY);
  try {
    await waitStarted(Q.RETRY, FAULTY_SIZE);
    await assertOneJobEach(Q.RETRY, FAULTY_SIZE);
    // The retry found every job: one submit_workers call in all, no worker submitted itself.
    assert.equal(submitCalls.get(Q.RETRY)?.length, 1, JSON.stringify(submitCalls.get(Q.RETRY)));
    const history = await h.fetchHistory();
    const failed = (history.events ?? []).filter((e) => e.activityTaskFailedEventAttributes).length;
    assert.equal(failed, 0, 'the retry happened inside the activity, the workflow saw one step');
    for (const w of await rowsOf(Q.RETRY)) {
      assert.equal(w.status, 'submitted');
      const events = (
        await stack.client.workflow
          .getHandle(workerWorkflowId(stack.harvesterID, Q.RETRY, w.workerID))
          .fetchHistory()
      ).events;
      const names = (events ?? []).flatMap(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
      );
      assert.ok(!names.includes('submitWorker'), `worker ${w.workerID} did not submit itself: ${names}`);
    }
  } finally {
    await h.terminate('test finished').catch(() => {});
  }
});

test('a bulk submission that fails past its retries leaves each worker to submit itself: it finds its job, none is lost or doubled (central and edge)', async () => {
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const edge = await Worker.create({
    connection,
    namespace: TEST_NAMESPACE,
    taskQueue: edgeTaskQueue,
    activities: createPluginActivities({
      registry: stack.registry,
      mirrorDir: join(stack.scratch, 'edge-mirrors2'),
    }),
  });
  const edgeRun = edge.run();
  const handles = [await startQueue(Q.FAIL), await startQueue(Q.EDGE_FAIL)];
  try {
    for (const name of [Q.FAIL, Q.EDGE_FAIL]) {
      await waitStarted(name, FAULTY_SIZE);
      const rows = await eventually(
        `${name}: every worker submitted (found by its own look-up)`,
        async () => {
          const r = await rowsOf(name);
          return r.length === FAULTY_SIZE && r.every((w) => w.status === 'submitted') ? r : undefined;
        },
        60000,
      );
      await assertOneJobEach(name, FAULTY_SIZE);
      for (const w of rows) {
        const wid = workerWorkflowId(stack.harvesterID, name, w.workerID);
        const names = ((await stack.client.workflow.getHandle(wid).fetchHistory()).events ?? []).flatMap(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
        );
        assert.ok(names.includes('submitWorker'), `${name}: worker ${w.workerID} submitted itself: ${names}`);
      }
    }
  } finally {
    for (const h of handles) await h.terminate('test finished').catch(() => {});
    edge.shutdown();
    await edgeRun.catch(() => {});
    await connection.close();
  }
});

test('a queue history recorded with the old submission sequence (prepareWorkers, submitWorkers, startWorkers) replays with the current code', async () => {
  const file = join(__dirname, '..', 'fixtures', 'histories', 'queue-submit-v1.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  await Worker.runReplayHistory(
    process.env.HARVESTER_WORKFLOW_BUNDLE
      ? { workflowBundle: { code: readFileSync(process.env.HARVESTER_WORKFLOW_BUNDLE, 'utf8') } }
      : { workflowsPath: require.resolve('../../src/workflows') },
    historyFromJSON(json),
    'queue-submit-v1',
  );
});
