/**
 * The central worker: all workflows, plus the activities that need the DB or PanDA.
 * Plugin activities (batch commands) are registered here too unless a queue routes them to an
 * edge worker's task queue.
 */
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

export const WORKFLOWS_PATH = require.resolve('../workflows');

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
    shutdownGraceTime: '10 seconds',
    ...o.tuning,
  });
}
