/**
 * The queue workflow's own history: what it holds between cycles survives continue-as-new, and a
 * monitor cycle costs the same history whether the queue has 100 or 300 live workers.
 *
 * What a user would notice: a queue that continues as new every cycle can still be stopped and
 * still runs the submitter cycle an operator asked for; a big queue does not fill the Temporal
 * server with its worker list every minute.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createPluginActivities } from '../../src/activities/plugin';
import type { WorkSpec } from '../../src/core/specs';
import { allocateWorkerIds, insertPendingWorkers, recordSubmission } from '../../src/db/workers';
import type { PluginRegistry } from '../../src/plugins/registry';
import type { PluginContext, PluginKind, PluginParams } from '../../src/plugins/types';
import {
  adjustNowSignal,
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  queueWorkflowId,
  stopQueueSignal,
} from '../../src/workflows/queueMessages';
import { workerWorkflowId } from '../../src/workflows/workerMessages';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { TEST_NAMESPACE, testTemporalAddress } from '../helpers/env';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';
import { uniqueName } from '../helpers/temporal';

const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
const Q = { STOP: `H_STOP_${RUN}`, ADJUST: `H_ADJUST_${RUN}` };
/** Queues of n live workers whose history per monitor cycle is measured: central, and on an edge task queue. */
const SIZES = [100, 300] as const;
const SIZED = {
  central: (n: number) => `H_C${n}_${RUN}`,
  edge: (n: number) => `H_E${n}_${RUN}`,
};
const edgeTaskQueue = uniqueName('edge-history');
/** The target of issue 14: a queue's history per monitor cycle. */
const budget = (changed: number) => 64 * 1024 + 300 * changed;

/**
 * Holds a plugin call of one kind for one queue until the test lets it go, so that a signal can be
 * sent while a cycle is certainly under way (not between cycles, where it would wake the wait).
 */
class Gate {
  private armed = false;
  private entered?: () => void;
  private release?: () => void;
  private enteredPromise?: Promise<void>;
  constructor(
    readonly kind: PluginKind,
    readonly queueName: string,
    readonly method: string,
  ) {}
  /** The next call waits; resolves once it is waiting. */
  arm(): Promise<void> {
    this.armed = true;
    this.enteredPromise = new Promise((r) => {
      this.entered = r;
    });
    return this.enteredPromise;
  }
  open(): void {
    this.release?.();
  }
  async pass(): Promise<void> {
    if (!this.armed) return;
    this.armed = false;
    const held = new Promise<void>((r) => {
      this.release = r;
    });
    this.entered?.();
    await held;
  }
}

const gates: Gate[] = [];

function gatedRegistry(r: PluginRegistry): PluginRegistry {
  const create = r.create.bind(r);
  r.create = (<K extends PluginKind>(kind: K, params: PluginParams, ctx: PluginContext) => {
    const plugin = create(kind, params, ctx) as unknown as Record<string, unknown>;
    for (const gate of gates) {
      if (gate.kind !== kind || gate.queueName !== ctx.queueName) continue;
      const original = plugin[gate.method] as (...args: unknown[]) => Promise<unknown>;
      plugin[gate.method] = async (...args: unknown[]) => {
        await gate.pass();
        return original.apply(plugin, args);
      };
    }
    return plugin;
  }) as PluginRegistry['create'];
  return r;
}

let stack: TestStack;

before(async () => {
  stack = await startTestStack({
    registry: gatedRegistry,
    queueConfig: (scratch) => ({
      ...Object.fromEntries(
        SIZES.flatMap((n) =>
          (['central', 'edge'] as const).map((where) => [
            SIZED[where](n),
            dummyQueueConfig(accessPointUnder(`${scratch}/${SIZED[where](n)}`), {
              nQueueLimitWorker: n,
              maxWorkers: n,
              ...(where === 'edge' ? { temporal: { taskQueue: edgeTaskQueue } } : {}),
            }),
          ]),
        ),
      ),
      [Q.STOP]: dummyQueueConfig(accessPointUnder(`${scratch}/${Q.STOP}`), {
        nQueueLimitWorker: 1,
        maxWorkers: 1,
      }),
      [Q.ADJUST]: dummyQueueConfig(accessPointUnder(`${scratch}/${Q.ADJUST}`), {
        nQueueLimitWorker: 10,
        maxWorkers: 10,
        maxNewWorkersPerCycle: 1,
      }),
    }),
  });
  for (const name of Object.values(Q)) stack.sim.control.addJobs(100, { computingSite: name });
});

after(async () => {
  await stack?.close();
});

/**
 * A queue workflow with 1-second monitor cycles; by default it continues as new after every cycle
 * (its run's history cap is 1 event).
 */
async function startQueue(
  queueName: string,
  submitterIntervalSeconds: number,
  /** 0: only when the server suggests it. */
  continueAsNewAfterEvents = 1,
): Promise<WorkflowHandle> {
  const input: QueueWorkflowInput = {
    harvesterID: stack.harvesterID,
    queueName,
    controlTaskQueue: stack.controlTaskQueue,
    settings: {
      submitterIntervalSeconds,
      monitorIntervalSeconds: 1,
      maxConsecutiveMonitorFailures: 1000,
      autoResumeAfterMonitorRecovery: true,
    },
    continueAsNewAfterEvents: continueAsNewAfterEvents || undefined,
  };
  return stack.client.workflow.start('queueWorkflow', {
    taskQueue: stack.controlTaskQueue,
    workflowId: queueWorkflowId(stack.harvesterID, queueName),
    args: [input],
  });
}

/** Every run of a workflow, first to last, with its history. */
async function runsOf(client: Client, workflowId: string) {
  const runs = [];
  let runId: string | undefined;
  do {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift({ runId, history });
    runId =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  } while (runId);
  return runs;
}

function waitState(h: WorkflowHandle, label: string, pred: (s: QueueWorkflowState) => boolean) {
  return eventually(
    label,
    async () => {
      const s = await h.query(queueStateQuery);
      return pred(s) ? s : undefined;
    },
    30000,
  );
}

async function terminateQuietly(workflowId: string): Promise<void> {
  await stack.client.workflow
    .getHandle(workflowId)
    .terminate('test finished')
    .catch(() => {});
}

test('a stop signal that lands during a cycle after which the queue continues as new stops the queue', async () => {
  const h = await startQueue(Q.STOP, 1);
  const gate = new Gate('monitor', Q.STOP, 'checkWorkers');
  gates.push(gate);
  try {
    await eventually(
      'a submitted worker for the monitor to check',
      async () => {
        const { rows } = await stack.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM workers WHERE computing_site = $1 AND harvester_id = $2
             AND batch_id IS NOT NULL AND status = 'submitted'`,
          [Q.STOP, stack.harvesterID],
        );
        return rows[0].n === 1;
      },
      30000,
    );
    // The next bulk status query waits; the stop arrives while the monitor cycle is under way.
    await gate.arm();
    await h.signal(stopQueueSignal, { reason: 'stopped during a cycle' });
    gate.open();
    const final = (await Promise.race([
      stack.client.workflow.getHandle(h.workflowId).result(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the queue did not stop in 20 s')), 20000),
      ),
    ])) as QueueWorkflowState;
    assert.equal(final.stopReason, 'stopped during a cycle');

    // The run that received the stop continued as new; a later run completed with it.
    const runs = await runsOf(stack.client, h.workflowId);
    const withStop = runs.findIndex((r) =>
      (r.history.events ?? []).some(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === stopQueueSignal.name,
      ),
    );
    assert.ok(withStop >= 0, 'the stop signal is in a run of the queue');
    const events = runs[withStop].history.events ?? [];
    assert.ok(
      events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes,
      'the run that got the stop continued as new',
    );
    assert.ok(withStop < runs.length - 1, 'a later run completed the queue');
  } finally {
    gates.splice(gates.indexOf(gate), 1);
    await terminateQuietly(h.workflowId);
  }
});

test('an adjust-now that lands during a submitter cycle after which the queue continues as new runs one more cycle', async () => {
  // Submitter cycles only at the start and when asked: an hour apart otherwise.
  const h = await startQueue(Q.ADJUST, 3600);
  const gate = new Gate('workerMaker', Q.ADJUST, 'makeWorker');
  gates.push(gate);
  try {
    const first = await waitState(h, 'the first submitter cycle', (s) => s.totals.workersStarted === 1);
    assert.equal(first.totals.submitCycles, 1);
    // Ask for a cycle; hold it in its plan (the worker maker) and ask again meanwhile.
    const held = gate.arm();
    await h.signal(adjustNowSignal);
    await held;
    await h.signal(adjustNowSignal);
    gate.open();
    // A query can land inside a cycle (counted at its start, its worker at its end): wait for the
    // third cycle's worker, then check no other cycle ran.
    const later = await waitState(
      h,
      'the second adjust-now honoured by the next run',
      (s) => s.totals.workersStarted >= 3,
    );
    assert.equal(
      later.totals.submitCycles,
      3,
      `one cycle per request (totals ${JSON.stringify(later.totals)})`,
    );
    assert.equal(later.adjustNow, false);
    const runs = await runsOf(stack.client, h.workflowId);
    assert.ok(runs.length >= 3, `the queue continued as new (${runs.length} runs)`);
  } finally {
    gates.splice(gates.indexOf(gate), 1);
    await terminateQuietly(h.workflowId);
  }
});

// ------------------------------------------------------------------------------------------------
// history per monitor cycle

/** n workers already submitted (rows with batch ids, as a bulk submission leaves them), no lifecycle. */
async function submittedWorkers(queueName: string, n: number): Promise<number[]> {
  const q = stack.configs.queue(queueName);
  await stack.configs.register(q);
  const ids = await allocateWorkerIds(stack.db, n);
  const specs: WorkSpec[] = ids.map((workerID) => ({
    workerID,
    computingSite: queueName,
    harvesterID: stack.harvesterID,
    configID: q.configID,
    mapType: 'NoJob',
    status: 'pending',
    resourceType: q.resourceType,
    jobType: q.jobType,
    nCore: 1,
    creationTime: new Date().toISOString(),
    accessPoint: join(stack.scratch, queueName, String(workerID)),
  }));
  await insertPendingWorkers(stack.db, specs);
  for (const id of ids)
    await recordSubmission(stack.db, id, { status: 'submitted', batchID: `b${id}`, submitTime: new Date() });
  return ids;
}

/** The batch system says these workers run now (the dummy monitor reads status.txt). */
function startRunning(queueName: string, ids: readonly number[]): void {
  for (const id of ids) {
    const dir = join(stack.scratch, queueName, String(id));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'status.txt'), 'running\n');
  }
}

/**
 * Bytes of history per monitor cycle: the protobuf size of the events from one recordMonitorCycle
 * to the next (the step that ends every cycle, in this design and the one before), per run.
 */
async function bytesPerCycle(workflowId: string): Promise<number[]> {
  const out: number[] = [];
  for (const { history } of await runsOf(stack.client, workflowId)) {
    let bytes: number | undefined;
    for (const e of history.events ?? []) {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name === 'recordMonitorCycle') {
        if (bytes !== undefined) out.push(bytes);
        bytes = 0;
      }
      if (bytes !== undefined) bytes += temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
    }
  }
  if (out.length === 0) throw new Error(`${workflowId}: no whole monitor cycle in its history`);
  return out;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test("a monitor cycle's history does not grow with the queue: 100 and 300 workers, central and on an edge task queue", async (t) => {
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  // The edge: plugin activities only, with its own mirror folder (no DB).
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
  const handles: WorkflowHandle[] = [];
  try {
    const figures: Record<string, { quiet: number; withChanges: number; changed: number }> = {};
    const workers: Record<string, number[]> = {};
    for (const where of ['central', 'edge'] as const)
      for (const n of SIZES) workers[SIZED[where](n)] = await submittedWorkers(SIZED[where](n), n);
    for (const name of Object.keys(workers)) {
      const h = await startQueue(name, 3600, 0);
      handles.push(h);
    }
    for (const h of handles)
      await waitState(h, `${h.workflowId}: 6 monitor cycles`, (s) => s.totals.monitorCycles >= 6);
    // A few workers start running: their changes cost history, about 300 bytes each at most.
    const CHANGED = 5;
    for (const name of Object.keys(workers)) startRunning(name, workers[name].slice(0, CHANGED));
    for (const h of handles) {
      const from = (await h.query(queueStateQuery)).totals.monitorCycles;
      await waitState(h, `${h.workflowId}: 4 more monitor cycles`, (s) => s.totals.monitorCycles >= from + 4);
    }
    for (const [i, name] of Object.keys(workers).entries()) {
      const s = await handles[i].query(queueStateQuery);
      assert.ok(s.countsKnown, `${name}: the status queries answer (${s.lastMonitorError ?? ''})`);
      const { rows } = await stack.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM workers WHERE computing_site = $1 AND status = 'running'",
        [name],
      );
      assert.equal(rows[0].n, CHANGED, `${name}: the DB knows who runs`);
      // They had no lifecycle (rows made here): the monitor adopted them.
      const adopted = await stack.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, name, workers[name][0]))
        .describe();
      assert.equal(adopted.status.name, 'RUNNING', `${name}: the running worker was adopted`);
      const cycles = await bytesPerCycle(handles[i].workflowId);
      // Cycles 1-4 are quiet (the first may include the start); the largest includes the changes.
      const quiet = median(cycles.slice(1, 5));
      const withChanges = Math.max(...cycles);
      figures[name] = { quiet, withChanges, changed: CHANGED };
      t.diagnostic(`${name}: ${JSON.stringify(figures[name])} (bytes per monitor cycle)`);
      assert.ok(
        withChanges <= budget(CHANGED),
        `${name}: ${withChanges} bytes in a cycle, over ${budget(CHANGED)}`,
      );
    }
    for (const where of ['central', 'edge'] as const) {
      const small = figures[SIZED[where](SIZES[0])].quiet;
      const big = figures[SIZED[where](SIZES[1])].quiet;
      // The same figure at 3x the workers: a few bytes for larger counters, nothing per worker.
      assert.ok(
        Math.abs(big - small) <= 0.1 * small + 256,
        `${where}: ${small} bytes per quiet cycle at ${SIZES[0]} workers, ${big} at ${SIZES[1]}`,
      );
    }
  } finally {
    for (const h of handles) await terminateQuietly(h.workflowId);
    edge.shutdown();
    await edgeRun.catch(() => {});
    await connection.close();
  }
});
