/**
 * Propagation to PanDA through the real client and the PanDA simulator over HTTP: a job bound to a
 * worker gets heartbeats and its final report; PanDA down for a while loses nothing and reorders
 * nothing; a `tobekilled` command in a heartbeat reply kills the worker in the batch system.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { WorkerPolicy } from '../../src/core/workerPolicy';
import { bindJobsToWorker, getJob, upsertJobs } from '../../src/db/jobs';
import { queueWorkflowId } from '../../src/workflows/queueMessages';
import type { workerLifecycleWorkflow } from '../../src/workflows/workerLifecycle';
import { statusChangedSignal, statusQuery, workerWorkflowId } from '../../src/workflows/workerMessages';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { startWorkerLifecycle } from '../helpers/lifecycle';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';

const QUEUE = 'PUSH_DUMMY';
/** A pull queue run by its real queue workflow (unique per run: the dev server may outlive a run). */
const PULL = `PULL_OUTAGE_${Date.now().toString(36).toUpperCase()}`;
let stack: TestStack;

before(async () => {
  stack = await startTestStack({
    queueConfig: (scratch) => ({
      [QUEUE]: dummyQueueConfig(accessPointUnder(scratch), {
        mapType: 'OneToOne',
        temporal: {
          heartbeatIntervalSeconds: 2,
          sweeperIntervalSeconds: 2,
          keepFinished: 0,
          keepFailed: 0,
          keepCancelled: 0,
        },
      }),
      [PULL]: dummyQueueConfig(accessPointUnder(`${scratch}/${PULL}`), {
        nQueueLimitWorker: 3,
        maxWorkers: 3,
        submitter: { runAfterSeconds: 1 },
        temporal: {
          submitterIntervalSeconds: 1,
          monitorIntervalSeconds: 1,
          heartbeatIntervalSeconds: 3600,
          maxConsecutiveMonitorFailures: 1000,
        },
      }),
    }),
  });
  stack.sim.control.addQueue(QUEUE);
  stack.sim.control.addQueue(PULL);
});

after(async () => {
  await stack?.close();
});

/** A worker with one PanDA job bound to it, the job dispatched by the simulator (status sent). */
async function workerWithJob(policyOverrides: Partial<WorkerPolicy> = {}) {
  stack.sim.control.addJob({ computingSite: QUEUE, prodSourceLabel: 'managed' });
  const [job] = await stack.panda.acquireJobs({ site_name: QUEUE, n_jobs: 1, prod_source_label: 'managed' });
  assert.ok(job, 'the simulator dispatched a job');
  const { handle, workerID } = await startWorkerLifecycle(stack, QUEUE, {
    policyOverrides,
    worker: { mapType: 'OneToOne' },
    beforeStart: async (worker) => {
      await upsertJobs(stack.db, [
        {
          PandaID: job.PandaID,
          status: 'starting',
          subStatus: 'submitted',
          computingSite: QUEUE,
          attemptNr: job.attemptNr,
          jobParams: job as unknown as Record<string, unknown>,
          jobAttributes: {},
        },
      ]);
      await bindJobsToWorker(stack.db, worker.workerID, [job.PandaID]);
    },
  });
  return { handle, workerID, pandaID: job.PandaID };
}

function jobStatuses(pandaID: number): string[] {
  return stack.sim.state.jobUpdates
    .filter((u) => Number(u.PandaID) === pandaID)
    .map((u) => String(u.request.jobStatus ?? u.request.job_status ?? u.request.state));
}

async function waitFor(handle: WorkflowHandle<typeof workerLifecycleWorkflow>, status: string) {
  return eventually(`worker ${status}`, async () =>
    (await handle.query(statusQuery)).worker.status === status ? true : undefined,
  );
}

test('a running job gets a heartbeat every interval and its final report at once', async () => {
  const { handle, pandaID } = await workerWithJob();
  await waitFor(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await eventually(
    'three running heartbeats for the job',
    async () => jobStatuses(pandaID).filter((s) => s === 'running').length >= 3,
    30000,
  );
  const t0 = Date.now();
  await handle.signal(statusChangedSignal, { status: 'finished', observedAt: new Date().toISOString() });
  await eventually(
    'final job report',
    async () => jobStatuses(pandaID).some((s) => s !== 'running' && s !== 'starting'),
    15000,
  );
  const latency = Date.now() - t0;
  assert.ok(latency < 5000, `final report ${latency} ms after the worker ended`);
  await handle.result();
  const row = await getJob(stack.db, pandaID);
  assert.ok(row, 'job row kept');
  const seq = jobStatuses(pandaID);
  const firstNonRunning = seq.findIndex((s) => s !== 'running' && s !== 'starting');
  assert.ok(
    seq.slice(0, firstNonRunning).every((s) => s === 'running' || s === 'starting'),
    `order: ${seq.join(',')}`,
  );
});

test('PanDA down for a while: reports are retried and all arrive after recovery, in order, once each', async () => {
  const { handle, workerID } = await workerWithJob({ heartbeatIntervalSeconds: 3600 });
  await waitFor(handle, 'submitted');
  const reportsOf = () =>
    stack.sim.state.workerUpdates.filter((u) => Number(u.request.workerID) === workerID);
  await eventually('submission reported', async () => reportsOf().length === 1);
  const before = reportsOf().length;
  // The next two update_workers calls fail with HTTP 500 (PanDA down), then PanDA recovers.
  stack.sim.control.injectFault('harvester/update_workers', { kind: 'http500' }, 2);
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  // Two monitor cycles, not one: signals that land in the same workflow task are coalesced to the
  // latest state (as Harvester reports only the state it sees), so let 'running' be applied first.
  await waitFor(handle, 'running');
  await handle.signal(statusChangedSignal, { status: 'finished', observedAt: new Date().toISOString() });
  const pending = await eventually('reports queued while PanDA is down', async () => {
    const s = await handle.query(statusQuery);
    return s.worker.status === 'finished' && s.pendingReports > 0 ? s : undefined;
  });
  assert.ok(pending.pendingReports >= 1);
  await handle.result();
  const received = stack.sim.state.workerUpdates
    .filter((u) => Number(u.request.workerID) === workerID)
    .slice(before)
    .map((u) => String(u.request.status));
  assert.deepEqual(received, ['running', 'finished'], 'each state arrived once, in order');
});

test('a tobekilled command in a heartbeat reply kills the worker in the batch system', async () => {
  const { handle, workerID, pandaID } = await workerWithJob();
  await waitFor(handle, 'submitted');
  await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
  await eventually('first running heartbeat', async () => jobStatuses(pandaID).includes('running'));
  stack.sim.control.setJobCommand(pandaID, 'tobekilled');
  const s = await eventually(
    'kill from PanDA',
    async () => {
      const st = await handle.query(statusQuery);
      return st.kill?.attempts ? st : undefined;
    },
    20000,
  );
  assert.equal(s.kill?.source, 'panda_tobekilled');
  const statusFile = join(stack.scratch, String(workerID), 'status.txt');
  await eventually(
    'batch job cancelled',
    async () => existsSync(statusFile) && readFileSync(statusFile, 'utf8').trim() === 'cancelled',
  );
  await handle.terminate('test over');
});

test('PanDA down while a queue runs: no extra workers, and every report arrives after recovery, in order, once', async () => {
  stack.sim.control.addJobs(50, { computingSite: PULL });
  // PanDA answers nothing the queue needs: no reports, no job statistics.
  stack.sim.control.injectFault('harvester/update_workers', { kind: 'http500' }, 100_000);
  stack.sim.control.injectFault('statistics/active_job_stats_by_site', { kind: 'http500' }, 100_000);
  const t = stack.configs.queue(PULL).temporal;
  const queue = await stack.client.workflow.start('queueWorkflow', {
    taskQueue: stack.controlTaskQueue,
    workflowId: queueWorkflowId(stack.harvesterID, PULL),
    args: [
      {
        harvesterID: stack.harvesterID,
        controlTaskQueue: stack.controlTaskQueue,
        queueName: PULL,
        settings: {
          submitterIntervalSeconds: t.submitterIntervalSeconds,
          monitorIntervalSeconds: t.monitorIntervalSeconds,
          maxConsecutiveMonitorFailures: t.maxConsecutiveMonitorFailures,
          autoResumeAfterMonitorRecovery: true,
        },
      },
    ],
  });
  try {
    const created = async () =>
      (
        await stack.db.query<{ worker_id: string; status: string }>(
          'SELECT worker_id, status FROM workers WHERE computing_site = $1 AND harvester_id = $2 ORDER BY worker_id',
          [PULL, stack.harvesterID],
        )
      ).rows;
    await eventually(
      'three workers running while PanDA is down',
      async () => (await created()).filter((r) => r.status === 'running').length === 3,
    );
    await new Promise((r) => setTimeout(r, 4000)); // several more cycles with PanDA still down
    const ids = (await created()).map((r) => Number(r.worker_id));
    assert.equal(ids.length, 3, `workers made during the outage: ${ids.join(', ')}`);
    const reportsOf = (id: number) =>
      stack.sim.state.workerUpdates
        .filter((u) => Number(u.request.workerID) === id)
        .map((u) => String(u.request.status));
    assert.deepEqual(ids.map(reportsOf), [[], [], []], 'PanDA was down: nothing reached it');

    stack.sim.control.clearFaults();
    await eventually(
      'every report delivered',
      async () => ids.every((id) => reportsOf(id).includes('running')),
      // Reports back off while PanDA is down (5 s, 10 s, 20 s, ...): the next try may be a while off.
      90000,
    );
    for (const id of ids) {
      assert.deepEqual(reportsOf(id), ['submitted', 'running'], `worker ${id}: each state once, in order`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal((await created()).length, 3, 'no extra workers after the recovery either');
  } finally {
    stack.sim.control.clearFaults();
    await queue.terminate('test over').catch(() => {});
    for (const r of await stack.db
      .query<{ worker_id: string }>(
        'SELECT worker_id FROM workers WHERE computing_site = $1 AND harvester_id = $2',
        [PULL, stack.harvesterID],
      )
      .then((x) => x.rows)) {
      await stack.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, PULL, Number(r.worker_id)))
        .terminate('test over')
        .catch(() => {});
    }
  }
});
