/**
 * Helpers for integration tests: a client and a worker on the test dev server, with the
 * workflow bundle the runner prebuilt, and a unique task queue per test so files can run in
 * parallel against one server.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import {
  CENTRAL_WORKER_SLOTS,
  type CONTROL_WORKER_SLOTS,
  WORKFLOWS_PATH,
} from '../../src/worker/centralWorker';
import { TEST_NAMESPACE, testTemporalAddress } from './env';

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // Core's own warnings (e.g. an activity completing for a workflow a test terminated) are noise here.
  Runtime.install({
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

export async function testClient(): Promise<Client> {
  const connection = await Connection.connect({ address: testTemporalAddress() });
  return new Client({ connection, namespace: TEST_NAMESPACE });
}

/** A worker on the test dev server: the main worker's slots, or the control worker's with `slots`. */
export async function testWorker(opts: {
  taskQueue: string;
  activities: object;
  slots?: typeof CENTRAL_WORKER_SLOTS | typeof CONTROL_WORKER_SLOTS;
}): Promise<Worker> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const bundlePath = process.env.HARVESTER_WORKFLOW_BUNDLE;
  return Worker.create({
    connection,
    namespace: TEST_NAMESPACE,
    taskQueue: opts.taskQueue,
    activities: opts.activities,
    ...(bundlePath
      ? { workflowBundle: { code: readFileSync(bundlePath, 'utf8') } }
      : { workflowsPath: WORKFLOWS_PATH }),
    ...(opts.slots ?? CENTRAL_WORKER_SLOTS),
    shutdownGraceTime: '2 seconds',
  });
}
