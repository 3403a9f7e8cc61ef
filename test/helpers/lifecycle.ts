/**
 * One worker lifecycle started the way the queue's fallback path starts it: a `pending` row in the
 * DB, then the workflow with the queue's policy, submitting the worker itself. Tests that follow
 * one worker (and the history-fixture recorder) use it instead of the whole queue workflow.
 */
import { join } from 'node:path';
import type { WorkSpec } from '../../src/core/specs';
import { policyFromQueueConfig, type WorkerPolicy } from '../../src/core/workerPolicy';
import { allocateWorkerIds, insertPendingWorkers } from '../../src/db/workers';
import { workerLifecycleWorkflow } from '../../src/workflows/workerLifecycle';
import { type WorkerLifecycleInput, workerWorkflowId } from '../../src/workflows/workerMessages';
import type { TestStack } from './stack';

export interface StartLifecycleOptions {
  policyOverrides?: Partial<WorkerPolicy>;
  /** Fields of the new worker that differ from the queue's (e.g. mapType). */
  worker?: Partial<WorkSpec>;
  /** Runs after the worker's row exists and before its workflow starts (e.g. binding jobs to it). */
  beforeStart?: (worker: WorkSpec) => Promise<void>;
  /** More fields of the workflow's input (e.g. the test-only continueAsNewAfterEvents). */
  input?: Pick<WorkerLifecycleInput, 'continueAsNewAfterEvents'>;
}

export async function startWorkerLifecycle(
  stack: TestStack,
  queueName: string,
  opts: StartLifecycleOptions = {},
) {
  const q = stack.configs.queue(queueName);
  await stack.configs.register(q);
  const policy = { ...policyFromQueueConfig(q, stack.harvesterID, stack.taskQueue), ...opts.policyOverrides };
  const [workerID] = await allocateWorkerIds(stack.db, 1);
  const worker: WorkSpec = {
    workerID,
    computingSite: queueName,
    harvesterID: stack.harvesterID,
    configID: q.configID,
    mapType: q.mapType,
    status: 'pending',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    creationTime: new Date().toISOString(),
    accessPoint: join(stack.scratch, String(workerID)),
    ...opts.worker,
  };
  await insertPendingWorkers(stack.db, [worker]);
  await opts.beforeStart?.(worker);
  const workflowId = workerWorkflowId(stack.harvesterID, queueName, workerID);
  const handle = await stack.client.workflow.start(workerLifecycleWorkflow, {
    taskQueue: stack.taskQueue,
    workflowId,
    args: [{ worker, policy, ...opts.input }],
  });
  return { handle, workerID, worker, workflowId };
}
