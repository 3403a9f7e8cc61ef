/**
 * One worker-adjuster cycle at 1,000 workers, two ways:
 *  1. the pure decision: a unified pull queue with 1,000 workers spread over 4 resource types,
 *     counted into adjuster inputs + define_num_workers (no I/O);
 *  2. the queue cycle's real step, the planSubmission activity function called directly (no
 *     Temporal round trip): the queue config, the queue row upsert, the worker counts by SQL over
 *     1,000 live rows in the bench database, the worker maker and the adjuster. No PanDA (the job
 *     statistics count as unknown), as for a queue whose PanDA call failed.
 *
 * Standalone: node --import tsx bench/adjuster.bench.ts
 * From bench/run.ts: await runAdjusterBench()
 */
import { performance } from 'node:perf_hooks';
import { createQueueCentralActivities } from '../src/activities/queueCentral';
import { QueueConfigStore } from '../src/config/queueConfigStore';
import type { WorkSpec } from '../src/core/specs';
import {
  countWorkersForAdjuster,
  defineNumWorkers,
  type QueueAdjusterInput,
  type WorkerForCounting,
} from '../src/core/workerAdjuster';
import type { WorkerStatus } from '../src/core/workerStatus';
import { migrate } from '../src/db/migrate';
import { openDatabase } from '../src/db/pool';
import {
  allocateWorkerIds,
  insertPendingWorkers,
  recordSubmission,
  recordWorkerStatus,
} from '../src/db/workers';
import { createPluginRegistry } from '../src/plugins';
import { type BenchResult, benchEnvironment, runAlone } from './support/env';
import { dummyQueueConfig, uniqueName } from './support/stack';

const RESOURCE_TYPES = ['SCORE', 'SCORE_HIMEM', 'MCORE', 'MCORE_HIMEM'] as const;
const WORKER_COUNT = 1000;
const ITERATIONS = 10_000;
const WARMUP_ITERATIONS = 1000;

/** 1,000 workers, evenly over the resource types, in a spread of live and final statuses. */
function makeWorkers(): WorkerForCounting[] {
  const statuses: WorkerStatus[] = [
    'running',
    'running',
    'running',
    'running',
    'running',
    'submitted',
    'finished',
  ];
  const workers: WorkerForCounting[] = [];
  for (let index = 0; index < WORKER_COUNT; index += 1) {
    const resourceType = RESOURCE_TYPES[index % RESOURCE_TYPES.length];
    const isMultiCore = resourceType.startsWith('MCORE');
    workers.push({
      jobType: 'managed',
      resourceType,
      status: statuses[index % statuses.length],
      nCore: isMultiCore ? 8 : 1,
      minRamCount: (isMultiCore ? 8 : 1) * (resourceType.endsWith('HIMEM') ? 4000 : 2000),
    });
  }
  return workers;
}

function makeInput(workers: readonly WorkerForCounting[]): QueueAdjusterInput {
  return {
    queueName: 'BENCH_UCORE',
    mapType: 'NoJob',
    runMode: 'self',
    queueStatus: 'online',
    limits: {
      maxWorkers: 2000,
      nQueueLimitWorker: 600,
      nQueueLimitWorkerRatio: 50,
      nQueueLimitWorkerMin: 20,
      nQueueLimitWorkerCores: 4000,
      nQueueLimitWorkerMemory: 8_000_000,
      maxNewWorkersPerCycle: 100,
    },
    rows: RESOURCE_TYPES.map((resourceType) => ({
      jobType: 'managed',
      resourceType,
      coresPerWorker: resourceType.startsWith('MCORE') ? 8 : 1,
      memoryPerWorkerMB: resourceType.startsWith('MCORE') ? 16000 : 2000,
    })),
    workerCounts: countWorkersForAdjuster(workers),
    pandaJobStats: {
      activatedJobs: 4000,
      activatedJobsByResourceType: { SCORE: 2000, SCORE_HIMEM: 300, MCORE: 1500, MCORE_HIMEM: 200 },
    },
  };
}

export async function runAdjusterBench(): Promise<BenchResult[]> {
  const workers = makeWorkers();
  let sink = 0;
  const cycle = (): void => {
    const decision = defineNumWorkers(makeInput(workers));
    sink += decision.totalNewWorkers;
  };
  for (let index = 0; index < WARMUP_ITERATIONS; index += 1) cycle();

  const started = performance.now();
  for (let index = 0; index < ITERATIONS; index += 1) cycle();
  const elapsedMs = performance.now() - started;

  // Keeps the optimiser from dropping the loop; also a cheap sanity check that the cycle decides something.
  if (sink <= 0) throw new Error('adjuster bench: the cycle decided no workers at all');
  return [
    {
      name: `adjuster cycle (count ${WORKER_COUNT} workers over ${RESOURCE_TYPES.length} resource types + define)`,
      value: elapsedMs / ITERATIONS,
      unit: 'ms/cycle',
    },
    await planSubmissionCycle(),
  ];
}

const PLAN_ITERATIONS = 200;

/** planSubmission at 1,000 live workers (5 in 7 running, the rest queued), against PostgreSQL. */
async function planSubmissionCycle(): Promise<BenchResult> {
  const db = await openDatabase(benchEnvironment().databaseUrl);
  try {
    await migrate(db);
    const harvesterID = uniqueName('bench-adjuster');
    const queueName = 'BENCH_ADJUSTER';
    const registry = createPluginRegistry();
    const configs = new QueueConfigStore(
      { inline: dummyQueueConfig(queueName, '/tmp/bench-adjuster', { maxWorkers: 5000 }), name: 'bench' },
      { db, harvesterID, registry },
    );
    const activities = createQueueCentralActivities({
      db,
      // planSubmission never reaches Temporal; the client is for the starting and signalling steps.
      client: undefined as never,
      harvesterID,
      centralTaskQueue: 'bench-adjuster',
      configs,
      registry,
    });
    const ids = await allocateWorkerIds(db, WORKER_COUNT);
    const configID = configs.queue(queueName).configID;
    await configs.register(configs.queue(queueName));
    const specs: WorkSpec[] = ids.map((workerID) => ({
      workerID,
      computingSite: queueName,
      harvesterID,
      configID,
      mapType: 'NoJob',
      status: 'pending',
      resourceType: 'ANY',
      jobType: 'ANY',
      nCore: 1,
      creationTime: new Date().toISOString(),
    }));
    await insertPendingWorkers(db, specs);
    for (const [i, workerID] of ids.entries()) {
      await recordSubmission(db, workerID, {
        batchID: `b${workerID}`,
        submitTime: new Date(),
        status: 'submitted',
      });
      if (i % 7 < 5) await recordWorkerStatus(db, workerID, { status: 'running' });
    }
    const plan = () => activities.planSubmission({ harvesterID, queueName, overrides: {} });
    for (let i = 0; i < 20; i++) await plan();
    const t0 = performance.now();
    let decided = 0;
    for (let i = 0; i < PLAN_ITERATIONS; i++) decided += (await plan()).total;
    const ms = (performance.now() - t0) / PLAN_ITERATIONS;
    return {
      name: `planSubmission at ${WORKER_COUNT} live workers (config + queue row + SQL counts + worker maker + adjuster)`,
      value: ms,
      unit: 'ms/cycle',
      note: `${PLAN_ITERATIONS} cycles after 20 warm-up ones; each decided ${decided / PLAN_ITERATIONS} new workers`,
    };
  } finally {
    await db.end();
  }
}

if (require.main === module) runAlone(runAdjusterBench);
