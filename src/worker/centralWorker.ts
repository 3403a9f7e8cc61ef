/**
 * The central worker: all workflows, plus the activities that need the DB or PanDA.
 * Plugin activities (batch commands) are registered here too unless a queue routes them to an
 * edge worker's task queue.
 */
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

export const WORKFLOWS_PATH = require.resolve('../workflows');

/**
 * Slots of the central worker. A lifecycle's DB and PanDA calls are local activities, and a
 * workflow task waiting for one keeps its slot: a report waits in the per-queue batcher for its
 * batch mates (up to 100), so at least 100 workflow tasks must be able to wait together, or a
 * heartbeat tick of 1,000 workers would leave in batches of 40 (the SDK's default) instead of 100.
 */
export const CENTRAL_WORKER_SLOTS = {
  maxConcurrentWorkflowTaskExecutions: 120,
  maxConcurrentLocalActivityExecutions: 200,
  // The SDK's default, said here because the kill batcher cuts its batches at it (activities/plugin.ts).
  maxConcurrentActivityTaskExecutions: 100,
} as const;

export interface CentralWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  /** Prebuilt bundle (tests share one; production builds it at deploy). Default: bundle at start-up. */
  workflowBundle?: { code: string };
  tuning?: Partial<
    Pick<
      WorkerOptions,
      | 'maxCachedWorkflows'
      | 'maxConcurrentActivityTaskExecutions'
      | 'maxConcurrentWorkflowTaskExecutions'
      | 'shutdownGraceTime'
    >
  >;
}

export async function createCentralWorker(o: CentralWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    activities: o.activities,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    // Worker state is small (a few KB per lifecycle); cap the cache explicitly, the SDK's
    // heuristic can outgrow the workflow thread's heap (sdk-typescript #2227).
    maxCachedWorkflows: 2000,
    ...CENTRAL_WORKER_SLOTS,
    shutdownGraceTime: '10 seconds',
    ...o.tuning,
  });
}
