/**
 * The central process's two workers, both with every workflow and every central activity (one
 * workflow bundle, one activity set), each polling its own task queue (core/taskQueues):
 * - the main worker, on the main task queue: the worker lifecycles and their activities (plugin
 *   activities too, unless a queue routes them to an edge worker's task queue);
 * - the control worker, on the control task queue: the queue and instance workflows and the
 *   activities they schedule, which default to their workflow's task queue. Its own queue and
 *   small slot counts keep the control loop out of the lifecycles' backlog: at 5,000 live workers
 *   the main queue held ~1,300 workflow tasks and monitor cycles came late (docs/benchmarks.md).
 * The main worker still runs queue and instance workflows started on the main queue before the
 * control queue existed, until they move over (workflows/queue.ts, MOVE_TO_CONTROL_TASK_QUEUE).
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

/**
 * Slots of the control worker: an instance has one instance workflow and tens to hundreds of queue
 * workflows, each with at most one activity at a time, and their workflow tasks are short. Small
 * counts are enough, and keep the control worker from competing with the main one for the CPU.
 * Activity slots: a monitorQueue of a 20,000-worker queue or a 1,000-worker submission holds one
 * for tens of seconds, so there are enough for the queues whose cycles overlap.
 */
export const CONTROL_WORKER_SLOTS = {
  maxConcurrentWorkflowTaskExecutions: 10,
  maxConcurrentLocalActivityExecutions: 10,
  maxConcurrentActivityTaskExecutions: 40,
} as const;

/** Queue and instance workflows of one instance, cached with room to spare (a few KB each). */
const CONTROL_WORKER_CACHE = 500;

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

/** The main worker, on the main task queue (settings.taskQueue). */
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

/**
 * The control worker, on the control task queue (settings.controlTaskQueue), in the same process as
 * the main worker and with the same activities: the queue and instance workflows' activities run
 * here, not behind the lifecycles' activities on the main queue.
 */
export async function createControlWorker(o: Omit<CentralWorkerOptions, 'tuning'>): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    activities: o.activities,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    maxCachedWorkflows: CONTROL_WORKER_CACHE,
    ...CONTROL_WORKER_SLOTS,
    shutdownGraceTime: '10 seconds',
  });
}
