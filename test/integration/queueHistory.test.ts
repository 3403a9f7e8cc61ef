/**
 * The queue workflow's own history: what it holds between cycles survives continue-as-new, and a
 * monitor cycle costs the same history whether the queue has 100 or 300 live workers.
 *
 * What a user would notice: a queue that continues as new every cycle can still be stopped and
 * still runs the submitter cycle an operator asked for; a big queue does not fill the Temporal
 * server with its worker list every minute.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
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
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';

const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
const Q = { STOP: `H_STOP_${RUN}`, ADJUST: `H_ADJUST_${RUN}` };

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

/** A queue workflow that continues as new after every cycle (its run's history cap is 1 event). */
async function startQueue(queueName: string, submitterIntervalSeconds: number): Promise<WorkflowHandle> {
  const input: QueueWorkflowInput = {
    harvesterID: stack.harvesterID,
    queueName,
    settings: {
      submitterIntervalSeconds,
      monitorIntervalSeconds: 1,
      maxConsecutiveMonitorFailures: 1000,
      autoResumeAfterMonitorRecovery: true,
    },
    continueAsNewAfterEvents: 1,
  };
  return stack.client.workflow.start('queueWorkflow', {
    taskQueue: stack.taskQueue,
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
    const later = await waitState(
      h,
      'the second adjust-now honoured by the next run',
      (s) => s.totals.submitCycles >= 3,
    );
    assert.equal(later.totals.workersStarted, 3, 'one worker per requested cycle');
    assert.equal(later.adjustNow, false);
    const runs = await runsOf(stack.client, h.workflowId);
    assert.ok(runs.length >= 3, `the queue continued as new (${runs.length} runs)`);
  } finally {
    gates.splice(gates.indexOf(gate), 1);
    await terminateQuietly(h.workflowId);
  }
});
