/**
 * The worker lifecycle workflow on the real dev server, with the real PostgreSQL, the dummy
 * batch plugin (status files in the access point) and the PanDA simulator over HTTP.
 * Status changes are sent the way the queue monitor sends them: a statusChanged signal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type WorkflowHandle, WorkflowUpdateFailedError } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { WorkSpec } from '../../src/core/specs';
import { FAILED_BY_SERVER_ERROR_CODE } from '../../src/core/stuckRules';
import { policyFromQueueConfig, type WorkerPolicy } from '../../src/core/workerPolicy';
import { upsertQueue } from '../../src/db/queues';
import { allocateWorkerIds, getWorker, insertPendingWorkers } from '../../src/db/workers';
import type { PluginRegistry } from '../../src/plugins/registry';
import type { PluginResult } from '../../src/plugins/types';
import { workerLifecycleWorkflow } from '../../src/workflows/workerLifecycle';
import {
  killSignal,
  killUpdate,
  statusChangedSignal,
  statusQuery,
  workerWorkflowId,
} from '../../src/workflows/workerMessages';
import { TEMPORAL_CLI } from '../../temporal/devServer';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { TEST_NAMESPACE, testTemporalAddress } from '../helpers/env';
import { startWorkerLifecycle } from '../helpers/lifecycle';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';

const QUEUE = 'DUMMY_LIFECYCLE';
/**
 * Queues whose workers are given up quickly: checkTimeout 3 s, sweeper interval 2 s, and heartbeats
 * too rare (10 min) to play a part, so only the safety timer asks whether the monitor went silent.
 * SILENT is the queue whose monitor a test makes silent (its queues row), SHORT the others'.
 */
const QUEUE_SHORT = 'DUMMY_LIFECYCLE_SHORT';
const QUEUE_SILENT = 'DUMMY_LIFECYCLE_SILENT';

const KEEP_NOTHING = { keepFinished: 0, keepFailed: 0, keepCancelled: 0, keepMissed: 0 };

function queueConfig(scratch: string) {
  const shortTimeouts = () =>
    dummyQueueConfig(accessPointUnder(scratch), {
      temporal: {
        heartbeatIntervalSeconds: 600,
        sweeperIntervalSeconds: 2,
        checkTimeout: 3,
        ...KEEP_NOTHING,
      },
    });
  return {
    [QUEUE]: dummyQueueConfig(accessPointUnder(scratch), {
      temporal: { heartbeatIntervalSeconds: 3, sweeperIntervalSeconds: 2, ...KEEP_NOTHING },
    }),
    [QUEUE_SHORT]: shortTimeouts(),
    [QUEUE_SILENT]: shortTimeouts(),
  };
}

/** A submitter that makes the batch job and then dies once, like a process killed after sbatch returned. */
let crashAfterSubmit = new Set<number>();
let submitCalls = 0;
/** While set, the sweeper cannot be loaded where the plugin activities run (an edge worker without it). */
let sweeperUnavailable = false;
/** The sweeper answers a permanent failure (Harvester's False) for these workers. */
const permanentSweepFailure = new Set<number>();
/** The first kill of these workers fails (a scancel the controller refused), later ones go through. */
const failKillOnce = new Set<number>();

function withTestPlugins(r: PluginRegistry): PluginRegistry {
  const original = r.create.bind(r);
  r.create = ((kind, params, ctx) => {
    if (kind === 'sweeper' && sweeperUnavailable)
      throw new Error('sweeper module cannot be loaded on this host (test outage)');
    const plugin = original(kind, params, ctx);
    if (kind === 'sweeper') {
      const sweeper = plugin as ReturnType<typeof original<'sweeper'>>;
      return {
        async killWorkers(workers: WorkSpec[]): Promise<PluginResult[]> {
          const refused = workers.filter((w) => failKillOnce.delete(w.workerID));
          const results = await sweeper.killWorkers(workers.filter((w) => !refused.includes(w)));
          return workers.map((w) =>
            refused.includes(w)
              ? { outcome: 'temporaryFailure', diag: `kill of worker ${w.workerID} refused (test)` }
              : (results.shift() as PluginResult),
          );
        },
        async sweepWorker(worker: WorkSpec): Promise<PluginResult> {
          if (permanentSweepFailure.has(worker.workerID))
            return {
              outcome: 'permanentFailure',
              diag: `/scratch/${worker.workerID} is not a directory (test)`,
            };
          return sweeper.sweepWorker(worker);
        },
      };
    }
    if (kind !== 'submitter') return plugin;
    const submitter = plugin as ReturnType<typeof original<'submitter'>>;
    return {
      findSubmittedWorkers: submitter.findSubmittedWorkers?.bind(submitter),
      async submitWorkers(workers: WorkSpec[]) {
        submitCalls++;
        const results = await submitter.submitWorkers(workers);
        for (const w of workers) {
          if (crashAfterSubmit.delete(w.workerID))
            throw new Error('simulated crash after the batch job was made');
        }
        return results;
      },
    };
  }) as PluginRegistry['create'];
  return r;
}

let stack: TestStack;

before(async () => {
  stack = await startTestStack({
    queueConfig: (scratch) => queueConfig(scratch),
    registry: withTestPlugins,
  });
});

after(async () => {
  await stack?.close();
});

async function startLifecycle(policyOverrides: Partial<WorkerPolicy> = {}, queueName = QUEUE) {
  return startWorkerLifecycle(stack, queueName, { policyOverrides });
}

/** The workflow's result, or a failure saying what did not happen in time (never a hung test). */
async function resultWithin(
  handle: WorkflowHandle<typeof workerLifecycleWorkflow>,
  ms: number,
  what: string,
) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(async () => {
      const st = await handle.query(statusQuery).catch(() => undefined);
      reject(
        new Error(
          `${what} within ${ms} ms: worker ${st?.worker.status}, phase ${st?.phase}, kill ${JSON.stringify(st?.kill)}`,
        ),
      );
    }, ms);
  });
  try {
    return await Promise.race([handle.result(), late]);
  } finally {
    clearTimeout(timer);
  }
}

function reportedStatuses(workerID: number): string[] {
  return stack.sim.state.workerUpdates
    .filter((u) => Number(u.request.workerID) === workerID && u.harvesterId === stack.harvesterID)
    .map((u) => String(u.request.status));
}

async function waitForStatus(handle: WorkflowHandle<typeof workerLifecycleWorkflow>, status: string) {
  return eventually(`worker status ${status}`, async () => {
    const s = await handle.query(statusQuery);
    return s.worker.status === status ? s : undefined;
  });
}

test('submitted → running → finished: recorded in the DB, each change reported to PanDA once, then swept', async () => {
  const { handle, workerID } = await startLifecycle();
  await waitForStatus(handle, 'submitted');
  const now = () => new Date().toISOString();
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: now(), nodeID: 'node-1' });
  await waitForStatus(handle, 'running');
  // The monitor repeating an unchanged status must not produce a second report.
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: now() });
  // The batch system says when the job ended (the monitor noticed later): that time is kept.
  const jobEnd = new Date(Date.now() - 42_000).toISOString();
  await handle.signal(statusChangedSignal, {
    status: 'finished',
    observedAt: now(),
    nativeExitCode: 0,
    endTime: jobEnd,
  });
  const final = await handle.result();
  assert.equal(final.worker.status, 'finished');
  assert.equal(final.phase, 'done');
  assert.equal(final.worker.endTime, jobEnd, "the batch system's end time, not the time it was noticed");

  const row = await getWorker(stack.db, workerID);
  assert.equal(row?.status, 'finished');
  assert.ok(row?.startTime, 'start time recorded');
  assert.equal(new Date(row?.endTime ?? 0).toISOString(), jobEnd, 'the DB holds the job end time');
  assert.equal(row?.nodeID, 'node-1');
  assert.ok(row?.sweptAt, 'swept');
  assert.equal(existsSync(join(stack.scratch, String(workerID))), false, 'sweeper removed the access point');

  const statuses = reportedStatuses(workerID);
  const changes = statuses.filter((s, i) => i === 0 || s !== statuses[i - 1]);
  assert.deepEqual(changes, ['submitted', 'running', 'finished']);
  assert.equal(statuses.filter((s) => s === 'finished').length, 1, 'final state reported exactly once');
  assert.equal(statuses.filter((s) => s === 'submitted').length, 1, 'submission reported exactly once');
});

test('a running worker sends a heartbeat every interval, and its final report at once', async () => {
  const { handle, workerID } = await startLifecycle({ heartbeatIntervalSeconds: 2 });
  await waitForStatus(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  const runningSince = Date.now();
  await eventually(
    'three heartbeats',
    async () => {
      const s = await handle.query(statusQuery);
      return s.heartbeatsSent >= 3 ? s : undefined;
    },
    30000,
  );
  const elapsed = (Date.now() - runningSince) / 1000;
  const s = await handle.query(statusQuery);
  // Ticks round each period up to a tenth of it, and jitter is ±10 %: 3 beats need about 6-8 s.
  assert.ok(elapsed >= 4, `three 2-second heartbeats took ${elapsed.toFixed(1)} s`);
  assert.ok(
    s.heartbeatsSent <= Math.ceil(elapsed / 1.6) + 1,
    `${s.heartbeatsSent} heartbeats in ${elapsed.toFixed(1)} s`,
  );
  const endSignalAt = Date.now();
  await handle.signal(statusChangedSignal, {
    status: 'failed',
    observedAt: new Date().toISOString(),
    diag: 'exit 1',
  });
  await eventually('final report', async () => reportedStatuses(workerID).includes('failed'));
  const latency = Date.now() - endSignalAt;
  assert.ok(latency < 5000, `final report took ${latency} ms`);
  const runningReports = reportedStatuses(workerID).filter((x) => x === 'running').length;
  assert.ok(runningReports >= 4, `running reported on change and at each heartbeat (got ${runningReports})`);
  await handle.result();
});

test('`temporal workflow signal --name kill` ends the worker through the sweeper; a kill of a finished worker is refused', async () => {
  const { handle, workerID } = await startLifecycle();
  await waitForStatus(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await waitForStatus(handle, 'running');
  const cli = spawnSync(
    TEMPORAL_CLI,
    [
      'workflow',
      'signal',
      '--address',
      testTemporalAddress(),
      '--namespace',
      TEST_NAMESPACE,
      '--workflow-id',
      workerWorkflowId(stack.harvesterID, QUEUE, workerID),
      '--name',
      'kill',
      '--input',
      '{"reason":"operator test kill"}',
    ],
    { encoding: 'utf8', timeout: 20000 },
  );
  assert.equal(cli.status, 0, cli.stderr);
  const killed = await eventually('kill recorded', async () => {
    const s = await handle.query(statusQuery);
    return s.kill?.attempts ? s : undefined;
  });
  assert.equal(killed.kill?.source, 'operator');
  assert.equal(killed.kill?.reason, 'operator test kill');
  // The dummy sweeper marks the job cancelled in the batch system (its status file) ...
  const statusFile = join(stack.scratch, String(workerID), 'status.txt');
  await eventually(
    'batch job cancelled',
    async () => existsSync(statusFile) && readFileSync(statusFile, 'utf8').trim() === 'cancelled',
  );
  // The kill and its reason are recorded in the DB right after the kill command went out.
  const row = await eventually('kill time recorded in the DB', async () => {
    const r = await getWorker(stack.db, workerID);
    return r?.killTime ? r : undefined;
  });
  assert.match(String(row.killReason), /operator/);
  // ... and the monitor's report of it takes the normal final path.
  await handle.signal(statusChangedSignal, { status: 'cancelled', observedAt: new Date().toISOString() });
  const final = await handle.result();
  assert.equal(final.worker.status, 'cancelled');
  assert.ok(reportedStatuses(workerID).includes('cancelled'));

  const done = await startLifecycle({ keepHours: { finished: 1, failed: 1, cancelled: 1, missed: 1 } });
  await waitForStatus(done.handle, 'submitted');
  await done.handle.signal(statusChangedSignal, { status: 'finished', observedAt: new Date().toISOString() });
  await waitForStatus(done.handle, 'finished');
  await assert.rejects(
    done.handle.executeUpdate(killUpdate, { args: [{ reason: 'too late' }] }),
    (err: unknown) => {
      assert.ok(err instanceof WorkflowUpdateFailedError);
      assert.match(
        String((err as Error & { cause?: Error }).cause?.message),
        /already finished: nothing to kill/,
      );
      return true;
    },
  );
  const bad = await startLifecycle({ keepHours: { finished: 1, failed: 1, cancelled: 1, missed: 1 } });
  await waitForStatus(bad.handle, 'submitted');
  await assert.rejects(bad.handle.executeUpdate(killUpdate, { args: [{ reason: '' }] }), (err: unknown) => {
    assert.match(
      String((err as Error & { cause?: Error }).cause?.message),
      /field "reason" must be a non-empty string/,
    );
    return true;
  });
  // A rejected update leaves the worker alive and unkilled.
  assert.equal((await bad.handle.query(statusQuery)).kill, undefined);
  for (const h of [done.handle, bad.handle]) await h.terminate('test over');
});

test('a kill pending across continue-as-new (every wake-up continues as new) is retried in the next run and ends the worker', async () => {
  const { handle, workerID } = await startWorkerLifecycle(stack, QUEUE, {
    input: { continueAsNewAfterEvents: 1 },
  });
  await waitForStatus(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await waitForStatus(handle, 'running');
  failKillOnce.add(workerID);
  await handle.signal(killSignal, { reason: 'kill across runs', source: 'operator' });
  const refusedIn = await eventually('first kill attempt refused', async () => {
    const s = await handle.query(statusQuery);
    return s.kill?.attempts === 1 && /refused/.test(s.kill.lastResult ?? '')
      ? (await handle.describe()).runId
      : undefined;
  });
  const statusFile = join(stack.scratch, String(workerID), 'status.txt');
  await eventually(
    'batch job cancelled by the retried kill',
    async () => existsSync(statusFile) && readFileSync(statusFile, 'utf8').trim() === 'cancelled',
  );
  const retried = await handle.query(statusQuery);
  assert.equal(retried.kill?.attempts, 2, 'the retry counted on from the first run');
  assert.equal(retried.kill?.reason, 'kill across runs');
  assert.equal(retried.kill?.lastResult, 'kill sent');
  const retriedIn = (await handle.describe()).runId;
  assert.notEqual(retriedIn, refusedIn, 'the kill was retried by a later run than the one it failed in');
  await handle.signal(statusChangedSignal, { status: 'cancelled', observedAt: new Date().toISOString() });
  const final = await resultWithin(handle, 30_000, 'cancelled after the kill');
  assert.equal(final.worker.status, 'cancelled');
  assert.equal(final.kill?.attempts, 2);
});

test('a submit retried after a crash finds the batch job it made: one job, not two', async () => {
  submitCalls = 0;
  const [nextID] = await allocateWorkerIds(stack.db, 1);
  // The next lifecycle gets the id after nextID.
  crashAfterSubmit = new Set([nextID + 1]);
  const { handle, workerID } = await startLifecycle();
  assert.equal(workerID, nextID + 1);
  const s = await waitForStatus(handle, 'submitted');
  assert.equal(submitCalls, 1, 'the retry did not call submit again');
  assert.ok(s.worker.batchID, 'batch id recovered from the batch system');
  const jobFiles = readdirSync(join(stack.scratch, String(workerID))).filter((f) => f === 'dummy_job.json');
  assert.equal(jobFiles.length, 1);
  const history = await handle.fetchHistory();
  const failedAttempts =
    history.events?.filter((e) => e.activityTaskStartedEventAttributes?.attempt === 2) ?? [];
  assert.equal(failedAttempts.length, 1, 'the submit activity ran a second attempt');
  await handle.terminate('test over');
});

test('a permanent submission failure ends the worker as missed with the plugin diagnostic', async () => {
  const q = stack.configs.queue(QUEUE);
  const policy = policyFromQueueConfig(q, stack.harvesterID, stack.taskQueue);
  const [workerID] = await allocateWorkerIds(stack.db, 1);
  const { handle } = await startLifecycleWith(workerID, {
    ...policy,
    submitter: { ...policy.submitter, failSubmitWorkerIDs: [workerID] },
  });
  const final = await handle.result();
  assert.equal(final.worker.status, 'missed');
  assert.match(final.worker.diagMessage ?? '', /DummySubmitter|fail/i);
  const row = await getWorker(stack.db, workerID);
  assert.equal(row?.status, 'missed');
  assert.ok(reportedStatuses(workerID).includes('missed'));
});

async function startLifecycleWith(workerID: number, policy: WorkerPolicy) {
  const worker: WorkSpec = {
    workerID,
    computingSite: QUEUE,
    harvesterID: stack.harvesterID,
    configID: policy.configID,
    mapType: policy.mapType,
    status: 'pending',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    creationTime: new Date().toISOString(),
    accessPoint: join(stack.scratch, String(workerID)),
  };
  await insertPendingWorkers(stack.db, [worker]);
  const handle = await stack.client.workflow.start(workerLifecycleWorkflow, {
    taskQueue: stack.taskQueue,
    workflowId: workerWorkflowId(stack.harvesterID, QUEUE, workerID),
    args: [{ worker, policy }],
  });
  return { handle };
}

test('stuck rules fire: a worker queued longer than workerQueueTimeLimit is killed with reason stuck_queued', async () => {
  const q = stack.configs.queue(QUEUE);
  const base = policyFromQueueConfig(q, stack.harvesterID, stack.taskQueue);
  const { handle } = await startLifecycle({ stuck: { ...base.stuck, workerQueueTimeLimitSeconds: 2 } });
  await waitForStatus(handle, 'submitted');
  const s = await eventually(
    'stuck kill',
    async () => {
      const st = await handle.query(statusQuery);
      return st.kill?.attempts ? st : undefined;
    },
    20000,
  );
  assert.equal(s.kill?.source, 'stuck_queued');
  assert.match(s.kill?.reason ?? '', /workerQueueTimeLimit/);
  await handle.terminate('test over');
});

test('status unknown for longer than checkTimeout kills the worker (stuck_unknown); held too long is stuck_held', async () => {
  const q = stack.configs.queue(QUEUE);
  const base = policyFromQueueConfig(q, stack.harvesterID, stack.taskQueue);
  const unknown = await startLifecycle({ stuck: { ...base.stuck, checkTimeoutSeconds: 2 } });
  await waitForStatus(unknown.handle, 'submitted');
  await unknown.handle.signal(statusChangedSignal, { status: null, observedAt: new Date().toISOString() });
  const u = await eventually(
    'unknown kill',
    async () => {
      const st = await unknown.handle.query(statusQuery);
      return st.kill ? st : undefined;
    },
    20000,
  );
  assert.equal(u.kill?.source, 'stuck_unknown');

  const held = await startLifecycle({ stuck: { ...base.stuck, heldTimeoutSeconds: 2 } });
  await waitForStatus(held.handle, 'submitted');
  await held.handle.signal(statusChangedSignal, {
    status: 'submitted',
    nativeStatus: 'held',
    observedAt: new Date().toISOString(),
  });
  const h = await eventually(
    'held kill',
    async () => {
      const st = await held.handle.query(statusQuery);
      return st.kill ? st : undefined;
    },
    20000,
  );
  assert.equal(h.kill?.source, 'stuck_held');
  await held.handle.terminate('test over');
  // The unknown one ends by itself: its kill is never confirmed, so it is given up (next tests).
  assert.equal((await unknown.handle.result()).worker.status, 'cancelled');
});

test('a sweep that keeps failing is tried again every sweeper interval, never fails the workflow, and ends swept', async () => {
  const { handle, workerID } = await startLifecycle();
  await waitForStatus(handle, 'submitted');
  sweeperUnavailable = true;
  try {
    await handle.signal(statusChangedSignal, { status: 'finished', observedAt: new Date().toISOString() });
    const failing = await eventually(
      'two failed sweeps',
      async () => {
        const st = await handle.query(statusQuery);
        return (st.sweep?.attempts ?? 0) >= 2 ? st : undefined;
      },
      20000,
    );
    assert.equal(failing.phase, 'sweeping');
    assert.match(failing.sweep?.lastError ?? '', /DummySweeper: sweeper module cannot be loaded/);
    assert.equal((await handle.describe()).status.name, 'RUNNING', 'the failure did not end the workflow');
    assert.equal((await getWorker(stack.db, workerID))?.sweptAt, undefined, 'not marked swept while failing');
  } finally {
    sweeperUnavailable = false;
  }
  const final = await resultWithin(handle, 20000, 'no sweep after the outage');
  assert.equal(final.phase, 'done');
  assert.equal(final.sweep?.outcome, 'success');
  assert.ok((final.sweep?.attempts ?? 0) >= 3, `attempts: ${final.sweep?.attempts}`);
  assert.ok((await getWorker(stack.db, workerID))?.sweptAt, 'swept in the DB');
  assert.equal(existsSync(join(stack.scratch, String(workerID))), false, 'access point removed');

  // A permanent failure (the plugin says retrying cannot help): recorded, and marked swept anyway.
  const broken = await startLifecycle();
  await waitForStatus(broken.handle, 'submitted');
  permanentSweepFailure.add(broken.workerID);
  await broken.handle.signal(statusChangedSignal, {
    status: 'finished',
    observedAt: new Date().toISOString(),
  });
  const gaveUp = await resultWithin(broken.handle, 20000, 'no end after a permanent sweep failure');
  assert.equal(gaveUp.sweep?.outcome, 'permanentFailure');
  assert.equal(gaveUp.sweep?.attempts, 1);
  assert.match(gaveUp.sweep?.lastError ?? '', /marked swept anyway: .*is not a directory/);
  assert.ok((await getWorker(stack.db, broken.workerID))?.sweptAt);
});

test('a worker whose status stays unknown is ended as cancelled (FAILEDBYSERVER) once its kill had a sweeper interval; then swept', async () => {
  const { handle, workerID } = await startLifecycle({}, QUEUE_SHORT);
  await waitForStatus(handle, 'submitted');
  // The last moment the status was known is no earlier than this.
  const knownAt = Date.now();
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await waitForStatus(handle, 'running');
  await handle.signal(statusChangedSignal, {
    status: null,
    observedAt: new Date().toISOString(),
    diag: 'squeue lost the job',
  });
  // The kill reaches the batch system (status.txt), but no monitor ever reports the end.
  const final = await resultWithin(handle, 30000, 'the unknown worker was not given up');
  const elapsed = Date.now() - knownAt;
  assert.ok(
    elapsed >= 5000,
    `given up ${elapsed} ms after the last known status: before checkTimeout (3 s) + a sweeper interval (2 s)`,
  );
  assert.equal(final.worker.status, 'cancelled');
  assert.equal(final.worker.errorCode, FAILED_BY_SERVER_ERROR_CODE);
  assert.match(final.worker.diagMessage ?? '', /status unknown since .*checkTimeout=3s.*FAILEDBYSERVER/);
  assert.equal(final.kill?.source, 'stuck_unknown');
  assert.ok((final.kill?.attempts ?? 0) >= 1, 'the kill was sent first');
  assert.equal(final.phase, 'done');

  const row = await getWorker(stack.db, workerID);
  assert.equal(row?.status, 'cancelled');
  assert.equal(row?.errorCode, FAILED_BY_SERVER_ERROR_CODE);
  assert.ok(row?.sweptAt, 'kept 0 h, then swept');
  const reports = stack.sim.state.workerUpdates.filter(
    (u) => Number(u.request.workerID) === workerID && u.harvesterId === stack.harvesterID,
  );
  const last = reports.at(-1);
  assert.equal(last?.request.status, 'cancelled', 'the end was reported to PanDA, and nothing after it');
  assert.equal(Number(last?.request.errorCode), FAILED_BY_SERVER_ERROR_CODE);
  assert.equal(reports.filter((u) => u.request.status === 'cancelled').length, 1, 'reported once');
});

test('a queue monitor gone silent is noticed by the safety timer, not only by heartbeats: the worker is killed, then given up', async () => {
  const q = stack.configs.queue(QUEUE_SILENT);
  await upsertQueue(stack.db, {
    harvesterID: stack.harvesterID,
    queueName: QUEUE_SILENT,
    configID: q.configID,
  });
  const { handle, workerID } = await startLifecycle({}, QUEUE_SILENT);
  await waitForStatus(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await eventually('the running report delivered', async () => {
    const st = await handle.query(statusQuery);
    return st.worker.status === 'running' && st.reportsSent >= 2 && st.pendingReports === 0;
  });
  // From now on no report asks about the monitor (the next heartbeat is minutes away): its last
  // success was an hour ago, and only the safety timer can find out.
  await stack.db.query(
    `UPDATE queues SET monitor_last_ok_at = now() - interval '1 hour' WHERE harvester_id = $1 AND queue_name = $2`,
    [stack.harvesterID, QUEUE_SILENT],
  );
  const final = await resultWithin(handle, 40000, 'the silent monitor was not noticed');
  assert.equal(final.heartbeatsSent, 0, 'no heartbeat was due: the safety timer found it');
  assert.equal(final.monitorSilent, true);
  assert.equal(final.kill?.source, 'stuck_unknown');
  assert.equal(final.worker.status, 'cancelled');
  assert.equal(final.worker.errorCode, FAILED_BY_SERVER_ERROR_CODE);
  const row = await getWorker(stack.db, workerID);
  assert.equal(row?.status, 'cancelled');
  assert.match(String(row?.killReason), /^stuck_unknown: status unknown since/);
});

test('replaying a recorded history with the current code raises no determinism error', async () => {
  const { handle } = await startLifecycle();
  await waitForStatus(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await handle.signal(statusChangedSignal, { status: 'finished', observedAt: new Date().toISOString() });
  await handle.result();
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory(
    process.env.HARVESTER_WORKFLOW_BUNDLE
      ? { workflowBundle: { code: readFileSync(process.env.HARVESTER_WORKFLOW_BUNDLE, 'utf8') } }
      : { workflowsPath: require.resolve('../../src/workflows') },
    history,
  );
});

/**
 * A history recorded once and committed (test/fixtures/histories/record.ts writes it): a worker
 * submitted, running, two heartbeats, killed by the kill update, cancelled, kept and swept. A
 * workflow change that would not replay it fails here; re-record it only for a deliberate change
 * (and drain running workflows before deploying it, see docs/decisions.md).
 */
test('the committed lifecycle history (heartbeats, kill by update, cancelled, swept) replays with the current code', async () => {
  const file = join(__dirname, '..', 'fixtures', 'histories', 'workerLifecycle-kill.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as { events: { eventType: string }[] };
  // The story it must tell, so a re-recording cannot quietly shrink it.
  const count = (type: string) => json.events.filter((e) => e.eventType === `EVENT_TYPE_${type}`).length;
  assert.equal(count('WORKFLOW_EXECUTION_UPDATE_ACCEPTED'), 1, 'the kill update');
  assert.ok(count('WORKFLOW_EXECUTION_SIGNALED') >= 2, 'running, then cancelled from the monitor');
  assert.ok(count('TIMER_FIRED') >= 2, 'heartbeat timers');
  assert.ok(count('ACTIVITY_TASK_COMPLETED') >= 3, 'submit, kill and sweep');
  assert.ok(count('MARKER_RECORDED') >= 5, 'DB records and PanDA reports (local activities)');
  assert.equal(count('WORKFLOW_EXECUTION_COMPLETED'), 1);
  const history = historyFromJSON(json);
  await Worker.runReplayHistory(
    process.env.HARVESTER_WORKFLOW_BUNDLE
      ? { workflowBundle: { code: readFileSync(process.env.HARVESTER_WORKFLOW_BUNDLE, 'utf8') } }
      : { workflowsPath: require.resolve('../../src/workflows') },
    history,
    'worker-lifecycle-fixture',
  );
});
