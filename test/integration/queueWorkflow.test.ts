/**
 * The queue workflow (and the instance workflow driving it) on the real dev server, with the real
 * PostgreSQL, the dummy batch plugin and the PanDA simulator over HTTP. Each test has its own
 * queue names, so what one test fills, pauses or kills is invisible to the others. Intervals are
 * 1 s, so a "cycle" below is about a second.
 *
 * What a user would notice: a queue fills up to its limits and no further; each cycle starts at
 * most maxNewWorkersPerCycle; pause and drain stop submissions while live workers go on; a batch
 * system that does not answer stops submissions and then pauses the queue visibly; two instances
 * split a queue by the limits PanDA set; PanDA's kill commands kill exactly what they name and are
 * acknowledged only once they took effect.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Client, type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { HarvesterQueueState } from '../../src/core/searchAttributes';
import { getCommand } from '../../src/db/commands';
import { getWorker, listLiveWorkers } from '../../src/db/workers';
import type { PluginRegistry } from '../../src/plugins/registry';
import type { PluginContext, PluginKind, PluginParams, Submitter } from '../../src/plugins/types';
import { instanceStateQuery, instanceWorkflowId } from '../../src/workflows/instanceMessages';
import {
  drainUpdate,
  pauseUpdate,
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  queueWorkflowId,
  resumeUpdate,
  setLimitsUpdate,
} from '../../src/workflows/queueMessages';
import { statusQuery, workerWorkflowId } from '../../src/workflows/workerMessages';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';
import { startPandaSim } from '../panda-sim';

interface QueueSpec {
  runMode?: 'self' | 'slave';
  maxWorkers?: number;
  nQueueLimitWorker?: number;
  maxNewWorkersPerCycle?: number;
  /** DummySubmitter params: runAfterSeconds, finishAfterSeconds... (none: workers stay submitted). */
  submitter?: Record<string, unknown>;
  /** DummyMonitor params: failCheckFile... */
  monitor?: Record<string, unknown>;
  /** SharedFileMessenger params: worker_heartbeat... */
  messenger?: Record<string, unknown>;
}

/** A pull (NoJob) queue on the dummy batch plugin with 1-second cycles and nothing kept after the end. */
function dummyQueue(scratch: string, name: string, spec: QueueSpec): Record<string, unknown> {
  const { submitter, monitor, messenger, ...limits } = spec;
  return dummyQueueConfig(accessPointUnder(`${scratch}/${name}`), {
    ...limits,
    submitter,
    monitor,
    messenger,
    temporal: {
      submitterIntervalSeconds: 1,
      monitorIntervalSeconds: 1,
      sweeperIntervalSeconds: 1,
      maxConsecutiveMonitorFailures: 3,
      keepFinished: 0,
      keepFailed: 0,
      keepCancelled: 0,
      keepMissed: 0,
    },
  });
}

/**
 * Queue names unique to this run: worker workflow ids are worker-<queue>-<workerID>, the worker id
 * sequence starts again in every fresh test database, and the dev server may outlive a run.
 */
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
const Q = {
  FILL: `Q_FILL_${RUN}`,
  MAX: `Q_MAX_${RUN}`,
  CYCLE: `Q_CYCLE_${RUN}`,
  PAUSE: `Q_PAUSE_${RUN}`,
  FAIL: `Q_FAIL_${RUN}`,
  BULK: `Q_BULK_${RUN}`,
  BROKEN: `Q_BROKEN_${RUN}`,
  ADOPT: `Q_ADOPT_${RUN}`,
  HEARTBEAT: `Q_HEARTBEAT_${RUN}`,
  SHARED: `Q_SHARED_${RUN}`,
  K_SUB: `K_SUB_${RUN}`,
  K_RUN: `K_RUN_${RUN}`,
  K_OTHER: `K_OTHER_${RUN}`,
  SLAVE: `Q_SLAVE_${RUN}`,
  MANUAL: `Q_MANUAL_${RUN}`,
  THROTTLED: `Q_THROTTLED_${RUN}`,
};

/** Where the failing-status-query test's switch lives (DummyMonitor failCheckFile). */
const failSwitch = (scratch: string) => join(scratch, `${Q.FAIL}.batch-system-down`);

const MAIN_QUEUES: Record<string, (scratch: string) => QueueSpec> = {
  // 1. limits
  [Q.FILL]: () => ({ nQueueLimitWorker: 4, maxWorkers: 20 }),
  [Q.MAX]: () => ({ nQueueLimitWorker: 2, maxWorkers: 5, submitter: { runAfterSeconds: 0 } }),
  // 2. per-cycle cap
  [Q.CYCLE]: () => ({ nQueueLimitWorker: 7, maxWorkers: 20, maxNewWorkersPerCycle: 2 }),
  // 3. operator controls: workers run after 1 s and finish after 3 s, so the queue keeps submitting
  [Q.PAUSE]: () => ({
    nQueueLimitWorker: 2,
    maxWorkers: 3,
    submitter: { runAfterSeconds: 1, finishAfterSeconds: 3 },
  }),
  // 5. bulk submission, and the fallback when the bulk call fails
  [Q.BULK]: () => ({ nQueueLimitWorker: 5, maxWorkers: 5, maxNewWorkersPerCycle: 5 }),
  // A worker that runs until the test ends it (status.txt), for the adoption test.
  [Q.ADOPT]: () => ({
    nQueueLimitWorker: 1,
    maxWorkers: 1,
    submitter: { runAfterSeconds: 1, finishAfterSeconds: 3600 },
  }),
  // Pilots that run until killed, under Harvester's lost-heartbeat rule: worker_heartbeat 0.1 min = 6 s.
  [Q.HEARTBEAT]: () => ({
    nQueueLimitWorker: 2,
    maxWorkers: 2,
    submitter: { runAfterSeconds: 0, finishAfterSeconds: 3600 },
    messenger: { worker_heartbeat: 0.1 },
  }),
  [Q.BROKEN]: () => ({ nQueueLimitWorker: 2, maxWorkers: 2, submitter: { submitOutcome: 'sometimes' } }),
  // 4. failing status query
  [Q.FAIL]: (scratch) => ({
    nQueueLimitWorker: 2,
    maxWorkers: 20,
    monitor: { failCheckFile: failSwitch(scratch) },
  }),
};

let stack: TestStack;
/** The submitter plugins' submit_workers calls, per queue: the list each call got. */
const submitCalls = new Map<string, number[][]>();

/** Records every submit_workers call of the submitters the registry makes. */
function countingRegistry(r: PluginRegistry): PluginRegistry {
  const create = r.create.bind(r);
  r.create = (<K extends PluginKind>(kind: K, params: PluginParams, ctx: PluginContext) => {
    const plugin = create(kind, params, ctx);
    if (kind === 'submitter') {
      const submitter = plugin as unknown as Submitter;
      const original = submitter.submitWorkers.bind(submitter);
      submitter.submitWorkers = async (workers) => {
        const calls = submitCalls.get(ctx.queueName) ?? [];
        calls.push(workers.map((w) => w.workerID));
        submitCalls.set(ctx.queueName, calls);
        return original(workers);
      };
    }
    return plugin;
  }) as PluginRegistry['create'];
  return r;
}

before(async () => {
  stack = await startTestStack({
    registry: countingRegistry,
    queueConfig: (scratch) =>
      Object.fromEntries(
        Object.entries(MAIN_QUEUES).map(([name, spec]) => [name, dummyQueue(scratch, name, spec(scratch))]),
      ),
  });
  // A pull queue submits no more pilots than PanDA has activated jobs: give every queue plenty.
  for (const name of Object.keys(MAIN_QUEUES)) stack.sim.control.addJobs(100, { computingSite: name });
});

after(async () => {
  await stack?.close();
});

// ------------------------------------------------------------------------------------------------
// helpers

type QueueHandle = WorkflowHandle;

async function startQueue(s: TestStack, queueName: string): Promise<QueueHandle> {
  const t = s.configs.queue(queueName).temporal;
  const input: QueueWorkflowInput = {
    harvesterID: s.harvesterID,
    queueName,
    controlTaskQueue: s.controlTaskQueue,
    settings: {
      submitterIntervalSeconds: t.submitterIntervalSeconds,
      monitorIntervalSeconds: t.monitorIntervalSeconds,
      maxConsecutiveMonitorFailures: t.maxConsecutiveMonitorFailures,
      autoResumeAfterMonitorRecovery: t.autoResumeAfterMonitorRecovery,
    },
  };
  return s.client.workflow.start('queueWorkflow', {
    taskQueue: s.controlTaskQueue,
    workflowId: queueWorkflowId(s.harvesterID, queueName),
    args: [input],
  });
}

async function terminateQuietly(client: Client, workflowId: string): Promise<void> {
  await client.workflow
    .getHandle(workflowId)
    .terminate('test finished')
    .catch(() => {});
}

const stateOf = (h: QueueHandle) => h.query(queueStateQuery);

function waitState(
  label: string,
  h: QueueHandle,
  pred: (s: QueueWorkflowState) => boolean,
  timeoutMs = 20000,
): Promise<QueueWorkflowState> {
  let last: QueueWorkflowState | undefined;
  return eventually(
    label,
    async () => {
      last = await stateOf(h);
      return pred(last) ? last : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    // Say where the queue stood: mode, counts, and the adjuster's last explanation.
    const where = last
      ? ` (mode ${last.mode}, countsKnown ${last.countsKnown}, totals ${JSON.stringify(last.totals)}, last cycle: ${JSON.stringify(last.lastSubmitCycle)}, monitor error: ${last.lastMonitorError ?? 'none'})`
      : '';
    throw new Error(`${err.message}${where}`);
  });
}

/** Waits for n more submitter cycles than `from` had run. */
function waitSubmitCycles(h: QueueHandle, from: QueueWorkflowState, n: number): Promise<QueueWorkflowState> {
  const target = from.totals.submitCycles + n;
  return waitState(`${n} more submitter cycles`, h, (s) => s.totals.submitCycles >= target);
}

async function live(s: TestStack, queueName: string, harvesterID = s.harvesterID) {
  return listLiveWorkers(s.db, queueName, harvesterID);
}

async function liveByStatus(s: TestStack, queueName: string): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const w of await live(s, queueName)) {
    out[w.status] ??= [];
    out[w.status].push(w.workerID);
  }
  return out;
}

/** Every worker row ever created for the queue (live or not). */
async function createdRows(s: TestStack, queueName: string, harvesterID = s.harvesterID) {
  const { rows } = await s.db.query<{ worker_id: string; creation_time: Date; status: string }>(
    `SELECT worker_id, creation_time, status FROM workers
     WHERE computing_site = $1 AND harvester_id = $2 ORDER BY worker_id`,
    [queueName, harvesterID],
  );
  return rows.map((r) => ({
    workerID: Number(r.worker_id),
    creationTime: r.creation_time,
    status: r.status,
  }));
}

async function queueStateAttribute(h: QueueHandle): Promise<string | undefined> {
  return (await h.describe()).typedSearchAttributes.get(HarvesterQueueState);
}

async function listQueueWorkflows(client: Client, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query })) ids.push(wf.workflowId);
  return ids;
}

/** The validator's message of a refused update. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected an update failure, got ${String(err)}`);
    return (err.cause as Error | undefined)?.message ?? err.message;
  }
  assert.fail('the update was accepted');
}

// ------------------------------------------------------------------------------------------------
// 1. limits

test('a queue fills to its limits and no further: nQueueLimitWorker for queued workers, maxWorkers for all', async () => {
  const fill = await startQueue(stack, Q.FILL);
  const max = await startQueue(stack, Q.MAX);
  try {
    // Q_FILL: its workers stay queued, so the queue limit (4) binds.
    const full = await waitState('Q_FILL started 4', fill, (s) => s.totals.workersStarted >= 4);
    await eventually(
      'Q_FILL workers submitted',
      async () => (await liveByStatus(stack, Q.FILL)).submitted?.length === 4,
    );
    // Q_MAX: its workers run at once, so they leave the queued count; maxWorkers (5) binds.
    await eventually('Q_MAX 5 running', async () => (await liveByStatus(stack, Q.MAX)).running?.length === 5);

    const fillLater = await waitSubmitCycles(fill, full, 3);
    const maxLater = await waitSubmitCycles(max, await stateOf(max), 3);
    assert.equal(fillLater.totals.workersStarted, 4, 'three more cycles started nothing on a full queue');
    assert.equal(fillLater.lastSubmitCycle?.submitted, 0);
    assert.match(
      fillLater.lastSubmitCycle?.explanation ?? '',
      /0 new workers \(ANY\/ANY 0 by queueLimitReached\)/,
    );
    assert.equal((await createdRows(stack, Q.FILL)).length, 4, 'exactly 4 workers were ever created');
    assert.equal(maxLater.totals.workersStarted, 5);
    assert.match(
      maxLater.lastSubmitCycle?.explanation ?? '',
      /0 new workers \(ANY\/ANY 0 by maxWorkersReached\)/,
    );
    assert.deepEqual(
      Object.fromEntries(Object.entries(await liveByStatus(stack, Q.MAX)).map(([k, v]) => [k, v.length])),
      { running: 5 },
      'five workers, all running, none queued on top',
    );

    // Workers that stay as they are give the monitor nothing to say: no signal per poll.
    const quiet = await stateOf(fill);
    const quietLater = await waitState(
      '3 more monitor cycles',
      fill,
      (s) => s.totals.monitorCycles >= quiet.totals.monitorCycles + 3,
    );
    assert.equal(
      quietLater.totals.signalsSent,
      quiet.totals.signalsSent,
      'unchanged workers were signalled again: worker histories would grow with polls',
    );

    // An operator raises the queue limit: the queue fills to the new limit at once, and no further.
    const raised = await fill.executeUpdate(setLimitsUpdate, { args: [{ nQueueLimitWorker: 6 }] });
    assert.deepEqual(raised.limitOverrides, { nQueueLimitWorker: 6 });
    const refilled = await waitState('Q_FILL started 6', fill, (s) => s.totals.workersStarted >= 6, 10000);
    const refilledLater = await waitSubmitCycles(fill, refilled, 3);
    assert.equal(refilledLater.totals.workersStarted, 6);
    assert.equal((await live(stack, Q.FILL)).length, 6);
  } finally {
    await terminateQuietly(stack.client, fill.workflowId);
    await terminateQuietly(stack.client, max.workflowId);
  }
});

// ------------------------------------------------------------------------------------------------
// 2. maxNewWorkersPerCycle

test('maxNewWorkersPerCycle caps every cycle: 7 workers arrive as 2 + 2 + 2 + 1', async () => {
  const h = await startQueue(stack, Q.CYCLE);
  try {
    const done = await waitState('7 workers started', h, (s) => s.totals.workersStarted >= 7);
    await waitSubmitCycles(h, done, 2);
    const rows = await createdRows(stack, Q.CYCLE);
    assert.equal(rows.length, 7, 'no more than the queue limit');
    // One submitter cycle creates its workers with one creation time.
    const perCycle = new Map<number, number>();
    for (const r of rows)
      perCycle.set(r.creationTime.getTime(), (perCycle.get(r.creationTime.getTime()) ?? 0) + 1);
    const sizes = [...perCycle.entries()].sort((a, b) => a[0] - b[0]).map(([, n]) => n);
    assert.deepEqual(sizes, [2, 2, 2, 1], 'workers started per cycle');
    const s = await stateOf(h);
    assert.ok(s.totals.submitCycles >= 4, `${s.totals.submitCycles} cycles`);
    assert.match(s.lastSubmitCycle?.explanation ?? '', /0 by queueLimitReached/);
  } finally {
    await terminateQuietly(stack.client, h.workflowId);
  }
});

// ------------------------------------------------------------------------------------------------
// 2b. bulk submission

/**
 * Activities in a workflow's history, in order, with the first argument of the scheduled ones:
 * normal activities (scheduled events) and local ones (the SDK's marker, whose data names the type).
 */
async function scheduledActivities(client: Client, workflowId: string) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const decode = (data?: Uint8Array | null) =>
    data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    if (a)
      return [
        { type: String(a.activityType?.name), local: false, arg: decode(a.input?.payloads?.[0]?.data) },
      ];
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName === 'core_local_activity') {
      const data = decode(m.details?.data?.payloads?.[0]?.data) as { activity_type?: string } | undefined;
      return [{ type: String(data?.activity_type), local: true, arg: undefined }];
    }
    return [];
  });
}

test('a submitter cycle submits its workers in ONE submit_workers call inside ONE central activity; the lifecycles start past the submit step', async () => {
  const h = await startQueue(stack, Q.BULK);
  try {
    await eventually(
      '5 workers submitted',
      async () => (await liveByStatus(stack, Q.BULK)).submitted?.length === 5,
    );
    const queueActivities = await scheduledActivities(stack.client, h.workflowId);
    const types = queueActivities.map((a) => a.type).join(', ');
    const step = queueActivities.filter((a) => a.type === 'submitQueueWorkers');
    assert.equal(step.length, 1, `submitter steps: ${types}`);
    assert.ok(
      !queueActivities.some((a) => ['prepareWorkers', 'submitWorkers', 'startWorkers'].includes(a.type)),
      `no step of the old sequence: ${types}`,
    );
    // Ids as ranges, no specs: the history holds a few numbers for the cycle's five workers.
    assert.equal(JSON.stringify(step[0].arg.ids).length < 40, true, JSON.stringify(step[0].arg));
    const calls = submitCalls.get(Q.BULK) ?? [];
    assert.equal(calls.length, 1, `submit_workers calls: ${JSON.stringify(calls)}`);
    assert.equal(calls[0].length, 5, 'all five workers in the one call');

    const rows = await live(stack, Q.BULK);
    assert.equal(new Set(rows.map((w) => w.batchID)).size, 5, 'five workers, five batch jobs');
    for (const w of rows) {
      assert.ok(w.batchID && w.submitTime, `worker ${w.workerID} recorded with its batch id`);
      // The DB has the batch id before the lifecycle's first step has run: wait for that step.
      const types = await eventually(`worker ${w.workerID} first step`, async () => {
        const list = (
          await scheduledActivities(stack.client, workerWorkflowId(stack.harvesterID, Q.BULK, w.workerID))
        ).map((a) => a.type);
        return list.length > 0 ? list : undefined;
      });
      assert.ok(!types.includes('submitWorker'), `worker ${w.workerID} submitted again by itself: ${types}`);
      assert.equal(
        types[0],
        'reportWorker',
        `worker ${w.workerID} starts by reporting its submission: ${types}`,
      );
      const d = await stack.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, Q.BULK, w.workerID))
        .describe();
      assert.equal(d.memo?.batchID, w.batchID, 'the memo carries the batch id from the start');
    }
    // PanDA heard of each submission once.
    const reported = stack.sim.state.workerUpdates.filter((u) =>
      rows.some((w) => w.workerID === Number(u.request.workerID)),
    );
    assert.equal(reported.filter((u) => u.request.status === 'submitted').length, 5);
  } finally {
    await terminateQuietly(stack.client, h.workflowId);
    for (const w of await live(stack, Q.BULK))
      await terminateQuietly(stack.client, workerWorkflowId(stack.harvesterID, Q.BULK, w.workerID));
  }
});

test('a bulk submit that fails makes each worker submit itself; a broken submitter ends them missed with its diagnostic', async () => {
  const h = await startQueue(stack, Q.BROKEN);
  try {
    const missed = await eventually('workers missed', async () => {
      const rows = await createdRows(stack, Q.BROKEN);
      return rows.filter((r) => r.status === 'missed').length >= 2 ? rows : undefined;
    });
    const first = missed.find((r) => r.status === 'missed')!;
    const wid = workerWorkflowId(stack.harvesterID, Q.BROKEN, first.workerID);
    const result = await stack.client.workflow.getHandle(wid).result();
    assert.equal(result.worker.status, 'missed');
    assert.match(
      result.worker.diagMessage ?? '',
      /DummySubmitter.*submitOutcome/,
      'the plugin says what is wrong',
    );
    const types = (await scheduledActivities(stack.client, wid)).map((a) => a.type);
    assert.ok(types.includes('submitWorker'), `the worker tried itself after the bulk call failed: ${types}`);
    const state = await stateOf(h);
    assert.ok(state.totals.submitCycles >= 1);
  } finally {
    await terminateQuietly(stack.client, h.workflowId);
  }
});

test('a batch job whose lifecycle is gone is adopted by the monitor: reported, finished and swept', async () => {
  const h = await startQueue(stack, Q.ADOPT);
  try {
    const w = await eventually(
      'a running worker',
      async () => (await liveByStatus(stack, Q.ADOPT)).running?.[0],
    );
    const wid = workerWorkflowId(stack.harvesterID, Q.ADOPT, w);
    // The lifecycle is lost (an operator terminated it, or its start failed past its retries).
    await stack.client.workflow.getHandle(wid).terminate('lost lifecycle (test)');
    const [row] = (await live(stack, Q.ADOPT)).filter((x) => x.workerID === w);
    // The job ends in the batch system; the monitor sees the change and finds no lifecycle to tell.
    writeFileSync(join(row.accessPoint!, 'status.txt'), 'finished\n');
    const adopted = await eventually('a new lifecycle run for the worker', async () => {
      const d = await stack.client.workflow.getHandle(wid).describe();
      return d.status.name !== 'TERMINATED' ? d : undefined;
    });
    assert.match((await adopted.staticDetails()) ?? '', /adopted by the queue monitor/);
    const final = await stack.client.workflow.getHandle(wid).result();
    assert.equal(final.worker.status, 'finished');
    assert.equal(final.worker.batchID, row.batchID, 'the batch job on record, not a new one');
    const reported = stack.sim.state.workerUpdates
      .filter((u) => Number(u.request.workerID) === w)
      .map((u) => String(u.request.status));
    assert.equal(reported.at(-1), 'finished', `PanDA heard the end: ${reported.join(',')}`);
    const { rows } = await stack.db.query<{ swept: boolean }>(
      'SELECT swept_at IS NOT NULL AS swept FROM workers WHERE worker_id = $1',
      [w],
    );
    assert.equal(rows[0].swept, true, 'swept');
  } finally {
    await terminateQuietly(stack.client, h.workflowId);
    for (const x of await live(stack, Q.ADOPT))
      await terminateQuietly(stack.client, workerWorkflowId(stack.harvesterID, Q.ADOPT, x.workerID));
  }
});

test('a running worker whose pilot stops its heartbeat past worker_heartbeat is killed (lost_heartbeat); a beating one lives on', async () => {
  const h = await startQueue(stack, Q.HEARTBEAT);
  // The pilots: each worker's heartbeat file is touched every half second, except the quiet ones'.
  const quiet = new Set<number>();
  let beating = true;
  const pilots = (async () => {
    while (beating) {
      for (const w of await live(stack, Q.HEARTBEAT)) {
        if (quiet.has(w.workerID) || !w.accessPoint || !existsSync(w.accessPoint)) continue;
        try {
          writeFileSync(join(w.accessPoint, 'worker_heartbeat.json'), '{}');
        } catch {
          // swept meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  try {
    const [victim, survivor] = await eventually('two running workers', async () => {
      const running = (await liveByStatus(stack, Q.HEARTBEAT)).running ?? [];
      return running.length >= 2 ? running : undefined;
    });
    quiet.add(victim);
    const victimFlow = stack.client.workflow.getHandle(
      workerWorkflowId(stack.harvesterID, Q.HEARTBEAT, victim),
    );
    const killed = await eventually(
      'the quiet worker killed',
      async () => {
        const st = await victimFlow.query(statusQuery);
        return st.kill ? st : undefined;
      },
      30000,
    );
    assert.equal(killed.kill?.source, 'lost_heartbeat');
    assert.match(killed.kill?.reason ?? '', /^last heartbeat \S+Z, older than worker_heartbeat=0.1 min$/);
    // The kill goes through the sweeper; the monitor sees the job cancelled and the worker ends.
    const final = await victimFlow.result();
    assert.equal(final.worker.status, 'cancelled');
    assert.match(String((await getWorker(stack.db, victim))?.killReason), /^lost_heartbeat: last heartbeat/);
    const other = await stack.client.workflow
      .getHandle(workerWorkflowId(stack.harvesterID, Q.HEARTBEAT, survivor))
      .query(statusQuery);
    assert.equal(other.worker.status, 'running', 'the worker whose pilot beats runs on');
    assert.equal(other.kill, undefined);
  } finally {
    beating = false;
    await pilots;
    await terminateQuietly(stack.client, h.workflowId);
    for (const x of await live(stack, Q.HEARTBEAT))
      await terminateQuietly(stack.client, workerWorkflowId(stack.harvesterID, Q.HEARTBEAT, x.workerID));
  }
});

// ------------------------------------------------------------------------------------------------
// 3. pause / drain / resume / setLimits validation

test('pause and drain stop submissions while live workers go on; resume submits again; bad input is refused', async () => {
  const h = await startQueue(stack, Q.PAUSE);
  try {
    // Bad input never reaches the workflow: the validator names what is wrong.
    assert.match(
      await refusal(h.executeUpdate(setLimitsUpdate, { args: [{ maxWorkers: -1 }] })),
      /field "maxWorkers" must be an integer/,
    );
    assert.match(
      await refusal(h.executeUpdate(setLimitsUpdate, { args: [{ maxWorker: 3 } as never] })),
      /unknown field "maxWorker"/,
    );
    assert.match(
      await refusal(h.executeUpdate(pauseUpdate, { args: [{ reason: '  ' }] })),
      /non-empty reason/,
    );
    const afterRefusals = await stateOf(h);
    assert.equal(afterRefusals.mode, 'running');
    assert.deepEqual(afterRefusals.limitOverrides, {});

    // Workers cycle through (run after 1 s, finish after 3 s), so a running queue keeps submitting.
    await waitState('queue busy', h, (s) => s.totals.workersStarted >= 3);

    // --- pause
    const paused = await h.executeUpdate(pauseUpdate, { args: [{ reason: 'site downtime' }] });
    assert.equal(paused.mode, 'paused');
    assert.equal(paused.pausedBy, 'operator');
    const startedAtPause = paused.totals.workersStarted;
    const liveAtPause = (await live(stack, Q.PAUSE)).map((w) => w.workerID);
    assert.ok(liveAtPause.length > 0, 'some workers were live when the queue paused');
    assert.equal(
      await eventually('search attribute paused', async () => (await queueStateAttribute(h)) === 'paused'),
      true,
    );
    // The live workers go on to the end of their life while nothing new is started.
    await eventually(
      'live workers of the paused queue finished',
      async () => (await live(stack, Q.PAUSE)).length === 0,
    );
    const whilePaused = await waitSubmitCycles(h, await stateOf(h), 2);
    assert.equal(whilePaused.totals.workersStarted, startedAtPause, 'no worker started while paused');
    assert.equal((await createdRows(stack, Q.PAUSE)).length, startedAtPause);
    assert.match(
      whilePaused.lastSubmitCycle?.explanation ?? '',
      /no submission: queue paused \(site downtime\)/,
    );
    const ended = (await createdRows(stack, Q.PAUSE)).filter((r) => liveAtPause.includes(r.workerID));
    assert.deepEqual(
      [...new Set(ended.map((r) => r.status))],
      ['finished'],
      'the workers live at the pause ran to their end',
    );

    // --- resume
    const resumed = await h.executeUpdate(resumeUpdate, { args: [] });
    assert.equal(resumed.mode, 'running');
    assert.equal(resumed.pauseReason, undefined);
    await waitState(
      'submitting again after resume',
      h,
      (s) => s.totals.workersStarted > startedAtPause,
      10000,
    );
    assert.equal(
      await eventually('search attribute running', async () => (await queueStateAttribute(h)) === 'running'),
      true,
    );

    // --- drain: the same for submissions, the workers empty out
    await eventually('workers live again', async () => (await live(stack, Q.PAUSE)).length > 0);
    const draining = await h.executeUpdate(drainUpdate, { args: [{ reason: 'decommission' }] });
    assert.equal(draining.mode, 'draining');
    const startedAtDrain = draining.totals.workersStarted;
    assert.equal(
      await eventually(
        'search attribute draining',
        async () => (await queueStateAttribute(h)) === 'draining',
      ),
      true,
    );
    await eventually('drained queue is empty', async () => (await live(stack, Q.PAUSE)).length === 0);
    const whileDraining = await waitSubmitCycles(h, await stateOf(h), 2);
    assert.equal(whileDraining.totals.workersStarted, startedAtDrain, 'no worker started while draining');
    assert.equal((await createdRows(stack, Q.PAUSE)).length, startedAtDrain);
    assert.match(whileDraining.lastSubmitCycle?.explanation ?? '', /queue draining/);

    await h.executeUpdate(resumeUpdate, { args: [] });
    await waitState(
      'submitting again after drain',
      h,
      (s) => s.totals.workersStarted > startedAtDrain,
      10000,
    );
  } finally {
    await terminateQuietly(stack.client, h.workflowId);
  }
});

// ------------------------------------------------------------------------------------------------
// 4. fail closed

test('a failing status query means no submissions, then a visible self-pause, and recovery when it answers again', async () => {
  const switchFile = failSwitch(stack.scratch);
  const h = await startQueue(stack, Q.FAIL);
  const pausedQuery = `HarvesterQueueState = 'paused-by-failures' AND HarvesterInstance = '${stack.harvesterID}'`;
  try {
    const filled = await waitState('2 workers', h, (s) => s.totals.workersStarted === 2 && s.countsKnown);
    await eventually(
      'workers submitted',
      async () => (await liveByStatus(stack, Q.FAIL)).submitted?.length === 2,
    );

    // The batch system stops answering.
    writeFileSync(switchFile, '');
    const unknown = await waitState('counts unknown', h, (s) => !s.countsKnown, 10000);
    assert.match(unknown.lastMonitorError ?? '', /failCheckFile .* exists/);
    // Room for 3 more workers now: a queue that took "no answer" for "no workers" would submit.
    await h.executeUpdate(setLimitsUpdate, { args: [{ nQueueLimitWorker: 5 }] });
    const paused = await waitState(
      'self-pause',
      h,
      (s) => s.mode === 'paused' && s.pausedBy === 'monitor',
      15000,
    );
    assert.equal(
      paused.totals.workersStarted,
      filled.totals.workersStarted,
      'nothing submitted on unknown counts',
    );
    assert.equal((await createdRows(stack, Q.FAIL)).length, 2);
    assert.ok(paused.consecutiveMonitorFailures >= 3, `${paused.consecutiveMonitorFailures} failures`);
    assert.match(
      paused.pauseReason ?? '',
      /paused after 3 failed status queries in a row; last error: .*failCheckFile/,
    );
    assert.equal(await queueStateAttribute(h), 'paused-by-failures');
    await eventually('listed as paused-by-failures', async () =>
      (await listQueueWorkflows(stack.client, pausedQuery)).includes(h.workflowId),
    );
    const { rows } = await stack.db.query<{ monitor_failures: number }>(
      'SELECT monitor_failures FROM queues WHERE harvester_id = $1 AND queue_name = $2',
      [stack.harvesterID, Q.FAIL],
    );
    assert.ok(rows[0].monitor_failures >= 3, 'the DB shows the failures for the CLI');
    // The live workers are not touched: they are still there, still submitted.
    assert.equal((await liveByStatus(stack, Q.FAIL)).submitted?.length, 2);

    // The batch system answers again: counts are known, the queue resumes and fills to the new limit.
    rmSync(switchFile);
    const recovered = await waitState('auto-resume', h, (s) => s.mode === 'running' && s.countsKnown, 10000);
    assert.equal(recovered.pausedBy, undefined);
    assert.equal(recovered.consecutiveMonitorFailures, 0);
    await waitState('filled to the raised limit', h, (s) => s.totals.workersStarted === 5, 10000);
    assert.equal(await queueStateAttribute(h), 'running');
    await eventually(
      'no longer listed as paused-by-failures',
      async () => !(await listQueueWorkflows(stack.client, pausedQuery)).includes(h.workflowId),
    );
    const later = await waitSubmitCycles(h, await stateOf(h), 2);
    assert.equal(later.totals.workersStarted, 5);
  } finally {
    rmSync(switchFile, { force: true });
    await terminateQuietly(stack.client, h.workflowId);
  }
});

test('with autoResumeAfterMonitorRecovery false a self-paused queue waits for the operator', async () => {
  const MANUAL = Q.MANUAL;
  const m = await startTestStack({
    queueConfig: (scratch) => {
      const queue = dummyQueue(scratch, MANUAL, {
        nQueueLimitWorker: 1,
        maxWorkers: 5,
        monitor: { failCheckFile: join(scratch, 'down') },
      });
      (queue.temporal as Record<string, unknown>).autoResumeAfterMonitorRecovery = false;
      return { [MANUAL]: queue };
    },
  });
  const down = join(m.scratch, 'down');
  try {
    m.sim.control.addJobs(10, { computingSite: MANUAL });
    writeFileSync(down, '');
    const h = await startQueue(m, MANUAL);
    await waitState('self-pause', h, (s) => s.mode === 'paused' && s.pausedBy === 'monitor', 15000);
    // The first cycle had no live worker to ask about, so it may have made one before the failures.
    const before = (await createdRows(m, MANUAL)).length;
    rmSync(down);
    const answering = await waitState('counts known again', h, (s) => s.countsKnown, 10000);
    assert.equal(answering.mode, 'paused', 'still paused although the batch system answers');
    await waitState(
      '2 more monitor cycles',
      h,
      (s) => s.totals.monitorCycles >= answering.totals.monitorCycles + 2,
    );
    assert.equal((await stateOf(h)).mode, 'paused');
    await h.executeUpdate(setLimitsUpdate, { args: [{ nQueueLimitWorker: before + 1 }] });
    await waitSubmitCycles(h, await stateOf(h), 2);
    assert.equal((await createdRows(m, MANUAL)).length, before, 'nothing submitted while paused');
    await h.executeUpdate(resumeUpdate);
    await eventually(
      'a worker after the resume',
      async () => (await createdRows(m, MANUAL)).length === before + 1,
    );
  } finally {
    await terminateQuietly(m.client, queueWorkflowId(m.harvesterID, MANUAL));
    await m.close();
  }
});

// ------------------------------------------------------------------------------------------------
// 5. two instances

async function startInstance(s: TestStack, queueSyncIntervalSeconds = 60): Promise<WorkflowHandle> {
  return s.client.workflow.start('instanceWorkflow', {
    taskQueue: s.controlTaskQueue,
    workflowId: instanceWorkflowId(s.harvesterID),
    args: [
      {
        harvesterID: s.harvesterID,
        controlTaskQueue: s.controlTaskQueue,
        queueSyncIntervalSeconds,
        commandIntervalSeconds: 1,
        pandaHeartbeatIntervalSeconds: 600,
      },
    ],
  });
}

async function stopInstance(s: TestStack, queues: string[]): Promise<void> {
  await terminateQuietly(s.client, instanceWorkflowId(s.harvesterID));
  for (const q of queues) await terminateQuietly(s.client, queueWorkflowId(s.harvesterID, q));
}

test('two instances split one queue by the depth PanDA gives each in its instance config: 5 + 5, then 7 + 3', async () => {
  const SHARED = Q.SHARED;
  // One PanDA serves both instances: each downloads its own queue config from it (Harvester's
  // configFromCacher), where PanDA halves the queue depth when a second instance serves the queue.
  const panda = await startPandaSim({ port: 0 });
  const fromPanda = (harvesterID: string) => ({
    url: `${panda.origin}/cache/harvester_configs/${harvesterID}.json`,
    refreshIntervalSeconds: 1,
  });
  const a = await startTestStack({ queueConfig: () => ({}), pandaSim: panda, remoteQueueConfig: fromPanda });
  const b = await startTestStack({ queueConfig: () => ({}), pandaSim: panda, remoteQueueConfig: fromPanda });
  const share = (s: TestStack, nQueueLimitWorker: number, maxConsecutiveMonitorFailures = 3) => {
    const queue = dummyQueue(s.scratch, SHARED, { nQueueLimitWorker, maxWorkers: 100 });
    (queue.temporal as Record<string, unknown>).maxConsecutiveMonitorFailures = maxConsecutiveMonitorFailures;
    panda.control.setInstanceConfig(s.harvesterID, { [SHARED]: queue });
  };
  try {
    // Queue depth 1000 activated jobs: the pull cap is far above the shares.
    panda.control.addJobs(1000, { computingSite: SHARED });
    share(a, 5);
    share(b, 5);
    await startInstance(a, 1);
    await startInstance(b, 1);

    const totals = async () => {
      const { rows } = await a.db.query<{ harvester_id: string; n: number }>(
        `SELECT harvester_id, count(*)::int AS n FROM workers
         WHERE computing_site = $1 AND harvester_id = ANY($2::text[]) AND status = 'submitted'
         GROUP BY harvester_id`,
        [SHARED, [a.harvesterID, b.harvesterID]],
      );
      return Object.fromEntries(rows.map((r) => [r.harvester_id, r.n]));
    };
    await eventually('both instances at 5', async () => {
      const t = await totals();
      return t[a.harvesterID] === 5 && t[b.harvesterID] === 5;
    });
    // Several more cycles of both queue workflows: still 5 + 5.
    const qa = a.client.workflow.getHandle(queueWorkflowId(a.harvesterID, SHARED));
    const qb = b.client.workflow.getHandle(queueWorkflowId(b.harvesterID, SHARED));
    await waitSubmitCycles(qa, await stateOf(qa), 3);
    await waitSubmitCycles(qb, await stateOf(qb), 3);
    assert.deepEqual(await totals(), { [a.harvesterID]: 5, [b.harvesterID]: 5 });
    assert.equal(
      (await createdRows(a, SHARED, a.harvesterID)).length +
        (await createdRows(a, SHARED, b.harvesterID)).length,
      10,
      'the queue holds 10 workers in total',
    );
    assert.ok(
      panda.control.callsTo('cache/harvester_configs').some((c) => c.args.harvester_id === b.harvesterID),
      'each instance fetched its own config',
    );

    // PanDA moves share from b to a: the next refresh and cycles follow without a restart. A's
    // config also changes a setting of the queue workflow itself: the instance signals it over.
    share(a, 7, 4);
    share(b, 3);
    await eventually('a at 7', async () => (await totals())[a.harvesterID] === 7);
    await eventually('b refreshed its config', async () => b.configs.queue(SHARED).nQueueLimitWorker === 3);
    await waitSubmitCycles(qb, await stateOf(qb), 2);
    // b already has 5 queued: above its new share it submits nothing (its live workers are not killed).
    assert.deepEqual(await totals(), { [a.harvesterID]: 7, [b.harvesterID]: 5 });
    assert.match((await stateOf(qb)).lastSubmitCycle?.explanation ?? '', /0 by queueLimitReached/);
    const settingsSignals = async (h: WorkflowHandle) =>
      ((await h.fetchHistory()).events ?? []).filter(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'settings',
      );
    await eventually('a got its new settings', async () => (await settingsSignals(qa)).length === 1);
    assert.deepEqual(await settingsSignals(qb), [], 'b, whose settings did not change, got no signal');
  } finally {
    await stopInstance(a, [SHARED]);
    await stopInstance(b, [SHARED]);
    await a.close();
    await b.close();
    await panda.close();
  }
});

// ------------------------------------------------------------------------------------------------
// 6. PanDA kill commands

test('KILL_WORKERS and SYNC_WORKERS_KILL kill exactly the workers named, and are acknowledged only after that', async () => {
  const K_SUB = Q.K_SUB;
  const K_RUN = Q.K_RUN;
  const K_OTHER = Q.K_OTHER;
  const k = await startTestStack({
    queueConfig: (scratch) => ({
      [K_SUB]: dummyQueue(scratch, K_SUB, { nQueueLimitWorker: 2, maxWorkers: 2 }),
      [K_RUN]: dummyQueue(scratch, K_RUN, {
        nQueueLimitWorker: 2,
        maxWorkers: 2,
        submitter: { runAfterSeconds: 0 },
      }),
      [K_OTHER]: dummyQueue(scratch, K_OTHER, { nQueueLimitWorker: 2, maxWorkers: 2 }),
    }),
  });
  // The simulator numbers commands from 1 and the test DB is shared by concurrently running test
  // files; command ids are unique in the commands table, so start far from anyone else's.
  (k.sim.state as unknown as { nextCommandId: number }).nextCommandId =
    50_000_000 + Math.floor(Math.random() * 1e6) * 10;
  const queues = [K_SUB, K_RUN, K_OTHER];
  const killMarks = async () => {
    const { rows } = await k.db.query<{ worker_id: string; kill_reason: string }>(
      `SELECT worker_id, kill_reason FROM workers WHERE harvester_id = $1 AND kill_time IS NOT NULL ORDER BY worker_id`,
      [k.harvesterID],
    );
    return rows.map((r) => ({ workerID: Number(r.worker_id), reason: r.kill_reason }));
  };
  const statusOf = async (ids: number[]) => {
    const { rows } = await k.db.query<{ status: string }>(
      'SELECT DISTINCT status FROM workers WHERE worker_id = ANY($1::bigint[])',
      [ids],
    );
    return rows.map((r) => r.status).sort();
  };
  const ackCallsFor = (commandID: number) =>
    k.sim.control
      .callsTo('harvester/acknowledge_commands')
      .filter((c) => ((c.args.command_ids as number[] | undefined) ?? []).includes(commandID));
  try {
    for (const q of queues) k.sim.control.addJobs(50, { computingSite: q });
    await startInstance(k);
    await eventually('queues filled: K_SUB 2 submitted, K_RUN 2 running, K_OTHER 2 submitted', async () => {
      const [sub, run, other] = await Promise.all(queues.map((q) => liveByStatus(k, q)));
      return sub.submitted?.length === 2 && run.running?.length === 2 && other.submitted?.length === 2;
    });
    const sub = (await liveByStatus(k, K_SUB)).submitted;
    const run = (await liveByStatus(k, K_RUN)).running;
    const other = (await liveByStatus(k, K_OTHER)).submitted;
    assert.deepEqual(await killMarks(), []);

    // KILL_WORKERS: submitted workers of K_SUB and K_RUN. K_RUN's workers run, K_OTHER is not named.
    const kill = k.sim.control.addCommand(
      k.harvesterID,
      'KILL_WORKERS',
      { computingSite: [K_SUB, K_RUN], status: ['submitted'] },
      true,
    );
    const killRecord = await eventually('KILL_WORKERS acknowledged', async () => {
      const c = await getCommand(k.db, kill.command_id);
      return c?.state === 'acknowledged' ? c : undefined;
    });
    assert.deepEqual(killRecord.result, { killed: 2, signalled: 2 });
    assert.deepEqual(
      await killMarks(),
      sub.map((workerID) => ({ workerID, reason: 'PanDA KILL_WORKERS' })),
      'exactly the submitted workers of the named sites are marked',
    );
    await eventually('killed workers cancelled', async () => (await statusOf(sub)).join() === 'cancelled');
    assert.deepEqual(await statusOf(run), ['running'], 'running workers of a named site live on');
    assert.deepEqual(await statusOf(other), ['submitted'], 'workers of a site not named live on');
    // Acknowledged to PanDA, and only after it was applied here.
    assert.equal(k.sim.state.commands.find((c) => c.command_id === kill.command_id)?.status, 'acknowledged');
    const killAcks = ackCallsFor(kill.command_id);
    assert.equal(killAcks.length, 1);
    assert.ok(
      killRecord.appliedAt && Date.parse(killRecord.appliedAt) <= killAcks[0].at,
      'applied before acknowledged',
    );

    // SYNC_WORKERS_KILL: exactly the listed ids. The first acknowledgement fails on PanDA's side:
    // the command stays applied (not lost, not applied twice) and is acknowledged on the retry.
    k.sim.control.injectFault('harvester/acknowledge_commands', { kind: 'rejected' }, 1);
    const listed = [run[0], other[1]];
    const sync = k.sim.control.addCommand(k.harvesterID, 'SYNC_WORKERS_KILL', listed, true);
    const syncRecord = await eventually('SYNC_WORKERS_KILL acknowledged', async () => {
      const c = await getCommand(k.db, sync.command_id);
      return c?.state === 'acknowledged' ? c : undefined;
    });
    assert.deepEqual(syncRecord.result, { killed: 2, signalled: 2 });
    const syncAcks = ackCallsFor(sync.command_id);
    assert.equal(syncAcks[0]?.fault, 'rejected', 'the first acknowledgement was refused');
    assert.ok(syncAcks.length >= 2 && syncAcks.at(-1)?.fault === undefined, 'then acknowledged again');
    assert.ok(
      syncRecord.appliedAt && Date.parse(syncRecord.appliedAt) <= syncAcks[0].at,
      'applied before acknowledged',
    );
    assert.equal(k.sim.state.commands.find((c) => c.command_id === sync.command_id)?.status, 'acknowledged');
    assert.deepEqual(
      (await killMarks()).filter((m) => m.reason === 'PanDA SYNC_WORKERS_KILL').map((m) => m.workerID),
      [...listed].sort((x, y) => x - y),
    );
    await eventually('listed workers cancelled', async () => (await statusOf(listed)).join() === 'cancelled');
    assert.deepEqual(await statusOf([run[1]]), ['running'], 'the other running worker lives on');
    assert.deepEqual(await statusOf([other[0]]), ['submitted'], 'the other submitted worker lives on');

    // A command that cannot be applied (a negative worker count) is never acknowledged.
    const bad = k.sim.control.addCommand(k.harvesterID, `SET_N_WORKERS:${K_OTHER}`, { SCORE: -1 }, true);
    const instance = k.client.workflow.getHandle(instanceWorkflowId(k.harvesterID));
    const failedOnce = await eventually('the bad command failed', async () => {
      const s = await instance.query(instanceStateQuery);
      const failures = s.lastCommands?.failures ?? [];
      return failures.some((f) => f.includes(`(${bad.command_id})`)) ? s : undefined;
    });
    await eventually('another command cycle', async () => {
      const s = await instance.query(instanceStateQuery);
      return s.lastCommands?.at !== failedOnce.lastCommands?.at;
    });
    assert.match(
      failedOnce.lastCommands?.failures.find((f) => f.includes(`(${bad.command_id})`)) ?? '',
      /SET_N_WORKERS.*must be a non-negative integer, got -1/,
    );
    assert.equal(
      (await getCommand(k.db, bad.command_id))?.state,
      'received',
      'not applied, so not acknowledged',
    );
    assert.deepEqual(ackCallsFor(bad.command_id), []);
    assert.equal(k.sim.state.commands.find((c) => c.command_id === bad.command_id)?.status, 'retrieved');
  } finally {
    await stopInstance(k, queues);
    await k.close();
  }
});

// ------------------------------------------------------------------------------------------------
// 7. slave mode and the throttler

test('slave mode: nothing without PanDA, then exactly what SET_N_WORKERS_JOBTYPE dictates, once', async () => {
  const SLAVE = Q.SLAVE;
  const sl = await startTestStack({
    queueConfig: (scratch) => ({
      [SLAVE]: dummyQueue(scratch, SLAVE, { runMode: 'slave', nQueueLimitWorker: 20, maxWorkers: 20 }),
    }),
  });
  (sl.sim.state as unknown as { nextCommandId: number }).nextCommandId =
    60_000_000 + Math.floor(Math.random() * 1e6) * 10;
  const rowsByType = async () => {
    const { rows } = await sl.db.query<{ job_type: string; resource_type: string; n: number }>(
      `SELECT job_type, resource_type, count(*)::int AS n FROM workers
       WHERE computing_site = $1 AND harvester_id = $2 GROUP BY 1, 2 ORDER BY 1, 2`,
      [SLAVE, sl.harvesterID],
    );
    return Object.fromEntries(rows.map((r) => [`${r.job_type}/${r.resource_type}`, r.n]));
  };
  try {
    sl.sim.control.addJobs(100, { computingSite: SLAVE });
    await startInstance(sl);
    const q = sl.client.workflow.getHandle(queueWorkflowId(sl.harvesterID, SLAVE));
    const idle = await waitState('3 cycles', q, (s) => s.totals.submitCycles >= 3 && s.countsKnown);
    assert.equal(idle.totals.workersStarted, 0, 'a slave queue makes nothing PanDA did not ask for');
    assert.match(idle.lastSubmitCycle?.explanation ?? '', /slaveDictatedZero/);

    // PanDA's pilot streaming asks for 3 SCORE and 2 MCORE workers of job type managed.
    const cmd = sl.sim.control.addCommand(
      sl.harvesterID,
      `SET_N_WORKERS_JOBTYPE:${SLAVE}`,
      { managed: { SCORE: 3, MCORE: 2 } },
      true,
    );
    await eventually('5 workers made', async () => {
      const r = await rowsByType();
      return r['managed/SCORE'] === 3 && r['managed/MCORE'] === 2;
    });
    assert.equal((await getCommand(sl.db, cmd.command_id))?.state, 'acknowledged');
    // The budget is spent: more cycles make nothing more.
    await waitSubmitCycles(q, await stateOf(q), 3);
    assert.deepEqual(await rowsByType(), { 'managed/MCORE': 2, 'managed/SCORE': 3 });
    const { rows } = await sl.db.query<{ n: number }>(
      'SELECT COALESCE(sum(n_new_workers), 0)::int AS n FROM queue_new_workers WHERE harvester_id = $1 AND queue_name = $2',
      [sl.harvesterID, SLAVE],
    );
    assert.equal(rows[0].n, 0, 'nNewWorkers consumed by the workers made');

    // The older SET_N_WORKERS (default job type) resets the budget and asks for 1 more SCORE.
    sl.sim.control.addCommand(sl.harvesterID, `SET_N_WORKERS:${SLAVE}`, { SCORE: 1 });
    await eventually('1 more SCORE worker', async () => (await rowsByType())['managed/SCORE'] === 4);
    await waitSubmitCycles(q, await stateOf(q), 2);
    assert.deepEqual(await rowsByType(), { 'managed/MCORE': 2, 'managed/SCORE': 4 });
  } finally {
    await stopInstance(sl, [SLAVE]);
    await sl.close();
  }
});

test('the queue throttler stops submission after too many missed workers, and says so', async () => {
  const THROTTLED = Q.THROTTLED;
  const th = await startTestStack({
    queueConfig: (scratch) => ({
      [THROTTLED]: {
        ...dummyQueue(scratch, THROTTLED, {
          nQueueLimitWorker: 1,
          maxWorkers: 10,
          submitter: { submitOutcome: 'permanentFailure' },
        }),
        throttler: {
          module: 'pandaharvester.harvesterthrottler.simple_throttler',
          name: 'SimpleThrottler',
          rulesForMissed: [{ level: 'pq', timeWindow: 60, maxMissed: 2 }],
        },
      },
    }),
  });
  try {
    th.sim.control.addJobs(100, { computingSite: THROTTLED });
    const q = await startQueue(th, THROTTLED);
    // Every worker misses its submission; the third one over the rule's 2 stops the queue.
    const throttled = await waitState('throttled', q, (s) =>
      /throttled/.test(s.lastSubmitCycle?.explanation ?? ''),
    );
    assert.match(throttled.lastSubmitCycle?.explanation ?? '', /nMissed=3 > maxMissed=2 for pq=/);
    await waitSubmitCycles(q, await stateOf(q), 3);
    const rows = await createdRows(th, THROTTLED);
    assert.equal(rows.length, 3, 'no worker after the third miss');
    assert.deepEqual([...new Set(rows.map((r) => r.status))], ['missed']);
  } finally {
    await terminateQuietly(th.client, queueWorkflowId(th.harvesterID, THROTTLED));
    await th.close();
  }
});
