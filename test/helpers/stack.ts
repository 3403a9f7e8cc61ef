/**
 * A whole central harvester for one integration test file: the test database (migrated), a PanDA
 * simulator over HTTP with the real client pointed at it, the plugin registry, a queue config given
 * inline, and the central process's two Temporal workers with every workflow and activity: the
 * main one on a unique task queue, the control one on its control task queue (core/taskQueues).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { QueueConfigStore, type RemoteQueueConfigOptions } from '../../src/config/queueConfigStore';
import { controlTaskQueueOf } from '../../src/core/taskQueues';
import { migrate } from '../../src/db/migrate';
import { type Db, openDatabase } from '../../src/db/pool';
import { createLogger } from '../../src/observability/logger';
import { createPandaClient, type PandaCommunicator } from '../../src/panda';
import { createPluginRegistry } from '../../src/plugins';
import type { PluginRegistry } from '../../src/plugins/registry';
import { createAllCentralActivities } from '../../src/worker/activities';
import { CONTROL_WORKER_SLOTS } from '../../src/worker/centralWorker';
import { type PandaSim, startPandaSim } from '../panda-sim';
import { testDatabaseUrl } from './env';
import { testClient, testWorker, uniqueName } from './temporal';

export interface TestStack {
  db: Db;
  client: Client;
  /** The main worker, on taskQueue (lifecycles). */
  worker: Worker;
  workerRun: Promise<void>;
  taskQueue: string;
  /** The control worker, on controlTaskQueue (queue and instance workflows). */
  controlWorker: Worker;
  controlWorkerRun: Promise<void>;
  controlTaskQueue: string;
  harvesterID: string;
  sim: PandaSim;
  panda: PandaCommunicator;
  registry: PluginRegistry;
  configs: QueueConfigStore;
  /** A scratch folder for access points; removed at close. */
  scratch: string;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Builds the queue config from the scratch folder and the task queue. */
  queueConfig(scratch: string, taskQueue: string): Record<string, unknown>;
  /** Replace or wrap the registry (test plugins). */
  registry?: (r: PluginRegistry) => PluginRegistry;
  reportBatchWindowMs?: number;
  /** One PanDA for several instances: the stack uses it and leaves it running at close. */
  pandaSim?: PandaSim;
  /** The instance's queue config from PanDA as well (HARVESTER_QUEUE_CONFIG_URL), given the instance id. */
  remoteQueueConfig?: (harvesterID: string) => RemoteQueueConfigOptions;
}

export async function startTestStack(opts: StackOptions): Promise<TestStack> {
  const db = await openDatabase(testDatabaseUrl());
  await migrate(db);
  const harvesterID = uniqueName('h');
  const taskQueue = uniqueName('tq');
  const controlTaskQueue = controlTaskQueueOf(taskQueue);
  const scratch = mkdtempSync(join(tmpdir(), 'harvester-test-'));
  const sim = opts.pandaSim ?? (await startPandaSim({ port: 0 }));
  const panda = createPandaClient({ baseUrl: sim.url, harvesterId: harvesterID, timeoutMs: 5000 });
  const registry = opts.registry ? opts.registry(createPluginRegistry()) : createPluginRegistry();
  const configs = new QueueConfigStore(
    { inline: opts.queueConfig(scratch, taskQueue), name: 'test-queueconfig.json' },
    { db, harvesterID, registry, remote: opts.remoteQueueConfig?.(harvesterID) },
  );
  const client = await testClient().catch(async (err) => {
    if (!opts.pandaSim) await sim.close();
    await db.end();
    throw err;
  });
  const activities = createAllCentralActivities({
    db,
    client,
    log: createLogger({ level: 'silent' }),
    harvesterID,
    centralTaskQueue: taskQueue,
    controlTaskQueue,
    configs,
    registry,
    panda,
    reportBatchWindowMs: opts.reportBatchWindowMs ?? 200,
  });
  const worker = await testWorker({ taskQueue, activities });
  const workerRun = worker.run();
  const controlWorker = await testWorker({
    taskQueue: controlTaskQueue,
    activities,
    slots: CONTROL_WORKER_SLOTS,
  });
  const controlWorkerRun = controlWorker.run();
  return {
    db,
    client,
    worker,
    workerRun,
    taskQueue,
    controlWorker,
    controlWorkerRun,
    controlTaskQueue,
    harvesterID,
    sim,
    panda,
    registry,
    configs,
    scratch,
    async close() {
      for (const w of [controlWorker, worker]) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all([workerRun.catch(() => {}), controlWorkerRun.catch(() => {})]);
      // A worker's own connection keeps the test process alive until it is closed.
      for (const w of [controlWorker, worker]) await w.connection?.close().catch(() => {});
      await client.connection.close();
      if (!opts.pandaSim) await sim.close();
      await db.end();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Polls fn until it returns a truthy value or the deadline passes (then throws with the label). */
export async function eventually<T>(
  label: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${label}${last ? `: ${(last as Error).message}` : ''}`);
}
