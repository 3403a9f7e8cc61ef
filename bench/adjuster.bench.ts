/**
 * Micro-benchmark of one worker-adjuster cycle: a unified pull queue with 1,000 workers spread over
 * 4 resource types. One cycle = count the workers into adjuster inputs + define_num_workers, which
 * is what the queue workflow does each submitter cycle.
 *
 * Standalone: node --import tsx bench/adjuster.bench.ts
 * From bench/run.ts: await runAdjusterBench()
 */
import { performance } from 'node:perf_hooks';
import {
  countWorkersForAdjuster,
  defineNumWorkers,
  type QueueAdjusterInput,
  type WorkerForCounting,
} from '../src/core/workerAdjuster';
import type { WorkerStatus } from '../src/core/workerStatus';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

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
  ];
}

if (require.main === module) {
  runAdjusterBench()
    .then((results) => {
      for (const result of results) console.log(`${result.name}: ${result.value.toFixed(4)} ${result.unit}`);
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
