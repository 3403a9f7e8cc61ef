/**
 * A central harvester for one bench: the bench database (migrated), the PanDA simulator over HTTP
 * with the real client pointed at it, the real plugin registry (dummy plugins), a queue config given
 * inline, and one Temporal worker running every workflow and the real central activities.
 * Mirrors test/helpers/stack.ts, but takes its Temporal connection from the caller so the same
 * wiring serves the dev server and the time-skipping test server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  type NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { QueueConfigStore } from '../../src/config/queueConfigStore';
import type { WorkSpec } from '../../src/core/specs';
import { policyFromQueueConfig, type WorkerPolicy } from '../../src/core/workerPolicy';
import { migrate } from '../../src/db/migrate';
import { type Db, openDatabase } from '../../src/db/pool';
import { allocateWorkerIds, insertPendingWorkers } from '../../src/db/workers';
import { createLogger } from '../../src/observability/logger';
import { createPandaClient } from '../../src/panda';
import { createPluginRegistry } from '../../src/plugins';
import { createAllCentralActivities } from '../../src/worker/activities';
import { CENTRAL_WORKER_SLOTS, WORKFLOWS_PATH } from '../../src/worker/centralWorker';
import { type PandaSim, startPandaSim } from '../../test/panda-sim';

const DUMMY = 'pandaharvester.harvester';

let runtimeInstalled = false;
/** Core's warnings (e.g. an activity completing for a terminated workflow) would drown the bench output. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error },
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
  });
}

let bundle: Promise<{ code: string }> | undefined;
/** One workflow bundle per process: bundling takes seconds on 2 cores and is not what we measure. */
export function workflowBundle(): Promise<{ code: string }> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  return bundle;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** A queue on the dummy plugins; `temporal` overrides the bench-specific cadences. */
export function dummyQueueConfig(
  queueName: string,
  scratch: string,
  opts: { temporal?: Record<string, unknown>; submitter?: Record<string, unknown>; maxWorkers?: number } = {},
): Record<string, unknown> {
  return {
    [queueName]: {
      queueStatus: 'online',
      mapType: 'NoJob',
      maxWorkers: opts.maxWorkers ?? 10,
      submitter: { module: `${DUMMY}submitter.dummy_submitter`, name: 'DummySubmitter', ...opts.submitter },
      monitor: { module: `${DUMMY}monitor.dummy_monitor`, name: 'DummyMonitor' },
      sweeper: { module: `${DUMMY}sweeper.dummy_sweeper`, name: 'DummySweeper' },
      workerMaker: { module: `${DUMMY}workermaker.simple_worker_maker`, name: 'SimpleWorkerMaker' },
      messenger: {
        module: `${DUMMY}messenger.shared_file_messenger`,
        name: 'SharedFileMessenger',
        accessPoint: `${scratch}/\${workerID}`,
      },
      preparator: { module: `${DUMMY}preparator.dummy_preparator`, name: 'DummyPreparator' },
      stager: { module: `${DUMMY}stager.dummy_stager`, name: 'DummyStager' },
      temporal: { keepFinished: 0, keepFailed: 0, keepCancelled: 0, keepMissed: 0, ...opts.temporal },
    },
  };
}

export interface BenchStack {
  db: Db;
  sim: PandaSim;
  configs: QueueConfigStore;
  harvesterID: string;
  taskQueue: string;
  queueName: string;
  scratch: string;
  worker: Worker;
  workerRun: Promise<void>;
  policy(overrides?: Partial<WorkerPolicy>): Promise<WorkerPolicy>;
  /** Allocates ids and inserts `n` pending worker rows, as the queue's submitQueueWorkers activity does. */
  newPendingWorkers(n: number, policy: WorkerPolicy): Promise<WorkSpec[]>;
  close(): Promise<void>;
}

/** A DevServerLink (bench/support/devServer) spreads straight into the first four fields. */
export interface BenchStackOptions {
  databaseUrl: string;
  client: Client;
  connection: NativeConnection;
  namespace: string;
  queueName: string;
  queueConfig(scratch: string): Record<string, unknown>;
  /** How long the report batcher waits for batch mates (the production default is 1500 ms). */
  reportBatchWindowMs?: number;
  workerTuning?: Partial<WorkerOptions>;
}

export async function startBenchStack(o: BenchStackOptions): Promise<BenchStack> {
  quietRuntime();
  const db = await openDatabase(o.databaseUrl);
  await migrate(db);
  const harvesterID = uniqueName('bench');
  const taskQueue = uniqueName('bench-tq');
  const scratch = mkdtempSync(join(tmpdir(), 'harvester-bench-'));
  const sim = await startPandaSim({ port: 0, host: '127.0.0.1' });
  const panda = createPandaClient({ baseUrl: sim.url, harvesterId: harvesterID, timeoutMs: 30000 });
  const registry = createPluginRegistry();
  const configs = new QueueConfigStore(
    { inline: o.queueConfig(scratch), name: 'bench-queueconfig.json' },
    { db, harvesterID, registry },
  );
  const activities = createAllCentralActivities({
    db,
    client: o.client,
    log: createLogger({ level: 'silent' }),
    harvesterID,
    centralTaskQueue: taskQueue,
    // One worker serves both: these benches measure one queue and its lifecycles, as before the
    // control task queue existed, and start their queue workflows here with controlTaskQueue set to
    // it. bench/scale runs the real central process, with both workers.
    controlTaskQueue: taskQueue,
    configs,
    registry,
    panda,
    reportBatchWindowMs: o.reportBatchWindowMs,
  });
  const worker = await Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue,
    activities,
    workflowBundle: await workflowBundle(),
    maxCachedWorkflows: 2000,
    ...CENTRAL_WORKER_SLOTS,
    shutdownGraceTime: '2 seconds',
    ...o.workerTuning,
  });
  const workerRun = worker.run();
  let registered = false;
  return {
    db,
    sim,
    configs,
    harvesterID,
    taskQueue,
    queueName: o.queueName,
    scratch,
    worker,
    workerRun,
    async policy(overrides = {}) {
      const q = configs.queue(o.queueName);
      if (!registered) {
        await configs.register(q);
        registered = true;
      }
      return { ...policyFromQueueConfig(q, harvesterID, taskQueue), ...overrides };
    },
    async newPendingWorkers(n, policy) {
      const ids = await allocateWorkerIds(db, n);
      const now = new Date().toISOString();
      const workers: WorkSpec[] = ids.map((workerID) => ({
        workerID,
        computingSite: o.queueName,
        harvesterID,
        configID: policy.configID,
        mapType: policy.mapType,
        status: 'pending',
        resourceType: 'SCORE',
        jobType: 'managed',
        nCore: 1,
        creationTime: now,
        accessPoint: join(scratch, String(workerID)),
      }));
      await insertPendingWorkers(db, workers);
      return workers;
    },
    async close() {
      worker.shutdown();
      await workerRun.catch(() => {});
      await sim.close();
      await db.end();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
