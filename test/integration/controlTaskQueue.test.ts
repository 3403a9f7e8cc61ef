/**
 * The control task queue (core/taskQueues): the queue and instance workflows run on their own task
 * queue, served by the central process's control worker, so the lifecycles' backlog on the main
 * task queue does not hold them up. Real dev server, PostgreSQL, the dummy batch plugin and the
 * PanDA simulator over HTTP.
 *
 * What a user would notice: with the main task queue stalled (no worker polls it, the extreme of
 * the scale bench's backlog of ~1,300 lifecycle tasks), a queue keeps its monitor cycles and the
 * instance still fetches and applies a PanDA KILL_WORKERS command; and after an upgrade, a queue
 * or instance workflow still running on the main task queue goes on there and moves to the
 * control queue at the end of its cycle, with its state.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { startInstanceWorkflow } from '../../src/cli/centralProcess';
import { MOVE_TO_CONTROL_TASK_QUEUE } from '../../src/core/taskQueues';
import { getCommand } from '../../src/db/commands';
import { listLiveWorkers } from '../../src/db/workers';
import { instanceStateQuery, instanceWorkflowId } from '../../src/workflows/instanceMessages';
import {
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  queueWorkflowId,
} from '../../src/workflows/queueMessages';
import { accessPointUnder, dummyQueueConfig } from '../helpers/dummyQueue';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';

const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
const STALLED = `CTL_STALLED_${RUN}`;
const OLD = `CTL_OLD_${RUN}`;

/** A pull queue on the dummy batch plugin with 1-second cycles; its workers stay `submitted`. */
function dummyQueue(scratch: string, name: string): Record<string, unknown> {
  return dummyQueueConfig(accessPointUnder(`${scratch}/${name}`), {
    nQueueLimitWorker: 3,
    maxWorkers: 3,
    temporal: {
      submitterIntervalSeconds: 1,
      monitorIntervalSeconds: 1,
      sweeperIntervalSeconds: 1,
      maxConsecutiveMonitorFailures: 3,
    },
  });
}

const stacks: TestStack[] = [];
after(async () => {
  for (const s of stacks) {
    await terminateAll(s.client, s.harvesterID);
    await s.close();
  }
});

/** Every running workflow of the instance: the stalled lifecycles would otherwise wait forever. */
async function terminateAll(client: Client, harvesterID: string): Promise<void> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({
    query: `HarvesterInstance = '${harvesterID}' AND ExecutionStatus = 'Running'`,
  }))
    ids.push(w.workflowId);
  ids.push(instanceWorkflowId(harvesterID));
  for (const id of new Set(ids))
    await client.workflow
      .getHandle(id)
      .terminate('test finished')
      .catch(() => {});
}

/** Workflow tasks waiting on a task queue (the server's estimate). */
async function workflowBacklog(s: TestStack, taskQueue: string): Promise<number> {
  const r = await s.client.workflowService.describeTaskQueue({
    namespace: s.client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
    reportStats: true,
  });
  return Number(r.stats?.approximateBacklogCount ?? 0);
}

test('with the main task queue stalled, the queue keeps its monitor cycles and the instance applies a KILL_WORKERS command', async () => {
  const s = await startTestStack({ queueConfig: (scratch) => ({ [STALLED]: dummyQueue(scratch, STALLED) }) });
  stacks.push(s);
  s.sim.control.addJobs(50, { computingSite: STALLED });
  // Command ids are unique in the commands table shared with concurrently running test files.
  (s.sim.state as unknown as { nextCommandId: number }).nextCommandId =
    60_000_000 + Math.floor(Math.random() * 1e6) * 10;
  // Nobody serves the lifecycles any more: every lifecycle task waits, as behind a deep backlog.
  s.worker.shutdown();
  await s.workerRun;

  // Started as `harvester worker` starts it; the instance starts the queue workflow.
  const started = await startInstanceWorkflow(s.client, {
    harvesterID: s.harvesterID,
    controlTaskQueue: s.controlTaskQueue,
  });
  assert.equal(started.taskQueue, s.controlTaskQueue);
  const queue = s.client.workflow.getHandle(queueWorkflowId(s.harvesterID, STALLED));

  // The submitter cycle runs its bulk submit and starts the lifecycles, which wait on the main queue.
  await eventually(
    '3 workers submitted by the queue workflow',
    async () => (await listLiveWorkers(s.db, STALLED, s.harvesterID)).filter((w) => w.batchID).length === 3,
    60000,
  );
  await eventually('the lifecycles wait on the stalled main task queue', async () => {
    return (await workflowBacklog(s, s.taskQueue)) >= 3;
  });
  assert.equal((await queue.describe()).taskQueue, s.controlTaskQueue);

  // Monitor cycles go on, each one a bulk status query that succeeds.
  const first: QueueWorkflowState = await queue.query(queueStateQuery);
  const later = await eventually(
    'three more monitor cycles',
    async () => {
      const st: QueueWorkflowState = await queue.query(queueStateQuery);
      return st.totals.monitorCycles >= first.totals.monitorCycles + 3 ? st : undefined;
    },
    20000,
  );
  assert.equal(later.countsKnown, true);
  assert.ok(later.lastMonitorOkAt && later.lastMonitorOkAt > (first.lastMonitorOkAt ?? ''));

  // PanDA's KILL_WORKERS reaches the stalled lifecycles as signals, and is applied.
  const kill = s.sim.control.addCommand(
    s.harvesterID,
    'KILL_WORKERS',
    { computingSite: [STALLED], status: ['submitted'] },
    true,
  );
  const applied = await eventually(
    'KILL_WORKERS fetched and applied',
    async () => {
      const c = await getCommand(s.db, kill.command_id);
      return c && c.state !== 'received' ? c : undefined;
    },
    // The instance fetches commands every 30 s (startInstanceWorkflow's commandIntervalSeconds).
    60000,
  );
  assert.deepEqual(applied.result, { killed: 3, signalled: 3 });
  const instance = await s.client.workflow
    .getHandle(instanceWorkflowId(s.harvesterID))
    .query(instanceStateQuery);
  assert.ok(instance.commandsApplied >= 1);
});

test('a queue and an instance workflow running on the main task queue move to the control queue at the end of a cycle, with their state', async () => {
  const s = await startTestStack({ queueConfig: (scratch) => ({ [OLD]: dummyQueue(scratch, OLD) }) });
  stacks.push(s);
  s.sim.control.addJobs(50, { computingSite: OLD });
  // As a build before the control queue started them: on the main task queue, no controlTaskQueue.
  const input: QueueWorkflowInput = {
    harvesterID: s.harvesterID,
    queueName: OLD,
    settings: {
      submitterIntervalSeconds: 1,
      monitorIntervalSeconds: 1,
      maxConsecutiveMonitorFailures: 3,
      autoResumeAfterMonitorRecovery: true,
    },
  };
  const queue = await s.client.workflow.start('queueWorkflow', {
    taskQueue: s.taskQueue,
    workflowId: queueWorkflowId(s.harvesterID, OLD),
    args: [input],
  });
  const instance = await s.client.workflow.start('instanceWorkflow', {
    taskQueue: s.taskQueue,
    workflowId: instanceWorkflowId(s.harvesterID),
    args: [
      {
        harvesterID: s.harvesterID,
        queueSyncIntervalSeconds: 600,
        commandIntervalSeconds: 1,
        pandaHeartbeatIntervalSeconds: 600,
      },
    ],
  });

  for (const h of [queue, instance]) {
    await eventually(
      `${h.workflowId} on the control task queue`,
      async () =>
        (await s.client.workflow.getHandle(h.workflowId).describe()).taskQueue === s.controlTaskQueue,
      30000,
    );
    // The first run ran its cycle on the main queue, then continued as new, behind the patch.
    const history = await s.client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).fetchHistory();
    const events = history.events ?? [];
    const marker = events.find((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    assert.ok(marker, `${h.workflowId}: the first run records the ${MOVE_TO_CONTROL_TASK_QUEUE} patch`);
    const last = events[events.length - 1];
    assert.equal(
      last.workflowExecutionContinuedAsNewEventAttributes?.taskQueue?.name,
      s.controlTaskQueue,
      `${h.workflowId}: continued as new onto the control queue`,
    );
  }

  // The queue carried its state over, and its cycles go on from the control worker.
  const moved: QueueWorkflowState = await queue.query(queueStateQuery);
  assert.ok(moved.totals.monitorCycles >= 1, 'the totals of the first run are carried');
  await eventually(
    'the moved queue workflow fills the queue and keeps monitoring',
    async () => {
      const st: QueueWorkflowState = await queue.query(queueStateQuery);
      const submitted = (await listLiveWorkers(s.db, OLD, s.harvesterID)).filter((w) => w.batchID).length;
      return submitted === 3 && st.totals.monitorCycles >= moved.totals.monitorCycles + 2;
    },
    30000,
  );
  const st = await s.client.workflow.getHandle(instanceWorkflowId(s.harvesterID)).query(instanceStateQuery);
  assert.ok(st.lastSync?.active.includes(OLD), 'the moved instance still syncs its queues');
});
