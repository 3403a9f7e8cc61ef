/**
 * An edge worker (`harvester edge --task-queue X`, a separate process with no DB) does all the
 * batch-system work of a queue whose config routes its plugin activities to X; the central worker
 * does none. Killing the edge process mid-run loses no worker and makes no duplicate batch job.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { listLiveWorkers } from '../../src/db/workers';
import { queueWorkflowId, stopQueueSignal } from '../../src/workflows/queueMessages';
import { workerWorkflowId } from '../../src/workflows/workerMessages';
import { PROJECT_ROOT } from '../../temporal/devServer';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { testTemporalAddress } from '../helpers/env';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';
import { uniqueName } from '../helpers/temporal';

const QUEUE = 'EDGE_DUMMY';
const PLUGIN_ACTIVITIES = new Set([
  'submitPackedWorkers',
  'submitWorkers',
  'submitWorker',
  'feedJobs',
  'monitorEdgeQueue',
  'killWorkers',
  'sweepWorker',
  'getWorkAttributes',
]);
const edgeTaskQueue = uniqueName('edge-site');

let stack: TestStack;
const edges: ChildProcess[] = [];
/** What the edge processes printed (warn level and up): named in a failure, and the pipe is drained. */
let edgeLog = '';

function startEdge(): ChildProcess {
  const child = spawn(
    join(PROJECT_ROOT, 'bin', 'harvester'),
    ['edge', '--task-queue', edgeTaskQueue, '--max-concurrent', '10'],
    {
      env: { ...process.env, TEMPORAL_ADDRESS: testTemporalAddress(), HARVESTER_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr?.on('data', (d) => {
    edgeLog = `${edgeLog}[edge ${child.pid}] ${d}`.slice(-4000);
  });
  edges.push(child);
  return child;
}

/**
 * `promise`, or a failure naming the step that did not finish in `ms` (a hung step would otherwise
 * only show as the whole file's 10-minute timeout, with nothing said about where it stood).
 */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: not done within ${ms} ms; edge log:\n${edgeLog || '(empty)'}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves when the process has exited, also when it already had. */
function exited(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', r));
}

before(async () => {
  stack = await startTestStack({
    queueConfig: (scratch) => ({
      [QUEUE]: dummyQueueConfig(accessPointUnder(scratch), {
        maxWorkers: 4,
        nQueueLimitWorker: 4,
        maxNewWorkersPerCycle: 2,
        submitter: { runAfterSeconds: 1, finishAfterSeconds: 4 },
        temporal: {
          taskQueue: edgeTaskQueue,
          submitterIntervalSeconds: 1,
          monitorIntervalSeconds: 1,
          keepFinished: 0,
          keepFailed: 0,
          keepCancelled: 0,
          keepMissed: 0,
        },
      }),
    }),
  });
});

after(async () => {
  for (const e of edges) if (e.exitCode === null) e.kill('SIGKILL');
  await stack?.close();
});

async function finishedWorkers(): Promise<number[]> {
  const { rows } = await stack.db.query<{ worker_id: string }>(
    "SELECT worker_id FROM workers WHERE computing_site = $1 AND harvester_id = $2 AND status = 'finished'",
    [QUEUE, stack.harvesterID],
  );
  return rows.map((r) => Number(r.worker_id));
}

test('the edge process does every batch command; a killed edge loses nothing and makes no duplicate job', async () => {
  const edge = startEdge();
  const queueId = queueWorkflowId(stack.harvesterID, QUEUE);
  await within(
    30000,
    'starting the queue workflow',
    stack.client.workflow.start('queueWorkflow', {
      taskQueue: stack.controlTaskQueue,
      workflowId: queueId,
      args: [
        {
          harvesterID: stack.harvesterID,
          controlTaskQueue: stack.controlTaskQueue,
          queueName: QUEUE,
          settings: {
            submitterIntervalSeconds: 1,
            monitorIntervalSeconds: 1,
            maxConsecutiveMonitorFailures: 1000,
            autoResumeAfterMonitorRecovery: true,
          },
        },
      ],
    }),
  );
  await within(
    90000,
    'waiting for the first finished workers',
    eventually('first workers finished', async () => (await finishedWorkers()).length >= 2, 60000),
  );

  // Kill the edge hard, in the middle of the queue's life: workers are submitted, running, queued.
  assert.equal(edge.exitCode, null, `the edge ended by itself before the kill; edge log:\n${edgeLog}`);
  edge.kill('SIGKILL');
  await within(30000, 'the SIGKILLed edge to exit', exited(edge));
  const finishedAtKill = (await finishedWorkers()).length;
  await new Promise((r) => setTimeout(r, 3000));
  const restarted = startEdge();
  await eventually(
    'work resumes after the edge restarts',
    async () => (await finishedWorkers()).length >= finishedAtKill + 4,
    90000,
  );

  await stack.client.workflow.getHandle(queueId).signal(stopQueueSignal, { reason: 'test over' });
  await within(60000, 'the queue workflow to stop', stack.client.workflow.getHandle(queueId).result());

  // 1. every plugin activity ran in an edge process, none in the central worker.
  const edgeIdentities = new Set([`${edge.pid}@`, `${restarted.pid}@`]);
  const finished = await finishedWorkers();
  const workflowIds = [queueId, ...finished.map((id) => workerWorkflowId(stack.harvesterID, QUEUE, id))];
  const pluginTasks = new Map<string, number>();
  // The queue workflow continues as new now and then (the test server suggests it at 400 events):
  // walk its runs back from the last through continuedExecutionRunId.
  const histories = [];
  for (const id of workflowIds) {
    let runId: string | undefined;
    do {
      const history = await stack.client.workflow.getHandle(id, runId).fetchHistory();
      histories.push({ id, history });
      runId =
        history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    } while (runId);
  }
  for (const { id, history } of histories) {
    const scheduled = new Map<string, string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) scheduled.set(String(e.eventId), String(s.activityType?.name));
      const started = e.activityTaskStartedEventAttributes;
      if (started) {
        const type = scheduled.get(String(started.scheduledEventId));
        if (type && PLUGIN_ACTIVITIES.has(type)) {
          pluginTasks.set(type, (pluginTasks.get(type) ?? 0) + 1);
          const identity = String(started.identity);
          assert.ok(
            [...edgeIdentities].some((prefix) => identity.startsWith(prefix)),
            `${type} of ${id} ran on ${identity}, not on an edge process`,
          );
        }
      }
    }
  }
  // The queue submits each cycle's workers in one bulk call and checks them in one call; each
  // finished worker is swept by its own lifecycle.
  const seen = JSON.stringify(Object.fromEntries(pluginTasks));
  assert.ok((pluginTasks.get('submitPackedWorkers') ?? 0) >= 1, `bulk submissions on the edge: ${seen}`);
  assert.ok((pluginTasks.get('monitorEdgeQueue') ?? 0) >= 1, `bulk status queries on the edge: ${seen}`);
  const { rows: swept } = await stack.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM workers WHERE computing_site = $1 AND harvester_id = $2 AND status = 'finished' AND swept_at IS NOT NULL",
    [QUEUE, stack.harvesterID],
  );
  assert.ok(swept[0].n >= 1, 'some finished workers were swept');
  assert.ok(
    (pluginTasks.get('sweepWorker') ?? 0) >= swept[0].n,
    `sweeps on the edge: ${seen}, ${swept[0].n} swept`,
  );

  // 2. one batch job per worker: every finished worker has its own job record and batch id.
  const batchIDs = new Set<string>();
  for (const id of finished) {
    const { rows } = await stack.db.query<{ batch_id: string }>(
      'SELECT batch_id FROM workers WHERE worker_id = $1',
      [id],
    );
    assert.ok(rows[0]?.batch_id, `worker ${id} has a batch id`);
    batchIDs.add(rows[0].batch_id);
    const jobFile = join(stack.scratch, String(id), 'dummy_job.json');
    if (existsSync(jobFile))
      assert.equal(JSON.parse(readFileSync(jobFile, 'utf8')).batchID, rows[0].batch_id);
  }
  assert.equal(batchIDs.size, finished.length, 'no two workers share a batch job');

  // 3. nothing lost: every worker that is not final still has a running lifecycle.
  for (const w of await listLiveWorkers(stack.db, QUEUE, stack.harvesterID)) {
    const d = await stack.client.workflow
      .getHandle(workerWorkflowId(stack.harvesterID, QUEUE, w.workerID))
      .describe();
    assert.equal(
      d.status.name,
      'RUNNING',
      `live worker ${w.workerID} (${w.status}) has no running lifecycle`,
    );
    await stack.client.workflow
      .getHandle(workerWorkflowId(stack.harvesterID, QUEUE, w.workerID))
      .terminate('test over');
  }
  restarted.kill('SIGTERM');
});
