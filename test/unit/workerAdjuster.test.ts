/**
 * Worker adjuster (harvester-spec §5, §5.1, §11.2). Cases worked by hand carry their arithmetic in a
 * comment; tests named "[Q] ..." pin the decision taken on each quirk of the spec.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type AdjusterBinding,
  type AdjusterRow,
  type AdjusterSettings,
  applySetNWorkersCommands,
  consumeDictatedBudget,
  countWorkersForAdjuster,
  defineNumWorkers,
  dictatedFor,
  type QueueAdjusterInput,
  type QueueDecision,
  type QueueWorkerCounts,
  resolveActivateWorkerFactor,
  workerRequirements,
} from '../../src/core/workerAdjuster';

type CountsRow = [jobType: string, resourceType: string, nQueue: number, nReady: number, nRunning: number];

function counts(rows: CountsRow[], sums: Partial<Omit<QueueWorkerCounts, 'rows'>> = {}): QueueWorkerCounts {
  return {
    rows: rows.map(([jobType, resourceType, nQueue, nReady, nRunning]) => ({
      jobType,
      resourceType,
      nQueue,
      nReady,
      nRunning,
    })),
    queuedCores: 0,
    queuedMemoryMB: 0,
    runningCores: 0,
    runningMemoryMB: 0,
    ...sums,
  };
}

const ANY_ROW: AdjusterRow = { jobType: 'managed', resourceType: 'ANY' };

/** A push queue with one ANY row, no limits and no workers; cases override what they test. */
function queue(overrides: Partial<QueueAdjusterInput> = {}): QueueAdjusterInput {
  return {
    queueName: 'TEST_PQ',
    mapType: 'OneToOne',
    runMode: 'self',
    queueStatus: 'online',
    limits: { maxWorkers: 0, maxNewWorkersPerCycle: 0 },
    rows: [ANY_ROW],
    workerCounts: counts([]),
    pandaJobStats: 'unknown',
    ...overrides,
  };
}

function newWorkers(result: QueueDecision): number[] {
  return result.rows.map((row) => row.nNewWorkers);
}

interface Case {
  name: string;
  input: QueueAdjusterInput;
  settings?: Partial<AdjusterSettings>;
  expected: number[];
  boundBy: AdjusterBinding[];
}

const handWorkedCases: Case[] = [
  {
    // maxQueued = nQueueLimitWorker 10; n = 10 − nQueue 3 = 7; maxWorkers: 20 − (3+0+5) = 12 ≥ 7 → 7.
    name: 'push: queued limit binds',
    input: queue({
      limits: { maxWorkers: 20, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 3, 0, 5]]),
    }),
    expected: [7],
    boundBy: ['nQueueLimitWorker'],
  },
  {
    // n = 10 − 3 = 7; maxWorkers: 12 − (3+0+5) = 4 < 7 → 4.
    name: 'push: maxWorkers binds',
    input: queue({
      limits: { maxWorkers: 12, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 3, 0, 5]]),
    }),
    expected: [4],
    boundBy: ['maxWorkers'],
  },
  {
    // qLim 100 (maxWorkers 0 = no limit, so no clipping); n = 100 − 10 = 90; per cycle 5 → 5.
    name: 'push: maxNewWorkersPerCycle caps',
    input: queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 5 },
      workerCounts: counts([['managed', 'ANY', 10, 0, 0]]),
    }),
    expected: [5],
    boundBy: ['maxNewWorkersPerCycle'],
  },
  {
    // No limit at all: Harvester keeps one worker queued → maxQueued 1; n = 1 − 0 = 1.
    name: 'push: no limits keeps one queued',
    input: queue(),
    expected: [1],
    boundBy: ['defaultOneQueued'],
  },
  {
    // qLim 5000 (maxWorkers 0); n = 5000 − 0 = 5000; global maxNewWorkers default 1000 → 1000.
    name: 'global maxNewWorkers (default 1000) caps',
    input: queue({ limits: { maxWorkers: 0, nQueueLimitWorker: 5000, maxNewWorkersPerCycle: 0 } }),
    expected: [1000],
    boundBy: ['globalMaxNewWorkers'],
  },
  {
    // Same as above with the instance setting at 300 → 300.
    name: 'global maxNewWorkers from settings caps',
    input: queue({ limits: { maxWorkers: 0, nQueueLimitWorker: 5000, maxNewWorkersPerCycle: 0 } }),
    settings: { maxNewWorkers: 300 },
    expected: [300],
    boundBy: ['globalMaxNewWorkers'],
  },
  {
    // Pull: maxQueued = min(qLim 50, activated 30 × 1 = 30) = 30; n = 30 − 12 = 18;
    // maxWorkers: 200 − (12+0+100) = 88 ≥ 18 → 18.
    name: 'pull: capped by activated jobs',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 200, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 12, 0, 100]]),
      pandaJobStats: { activatedJobs: 30 },
    }),
    expected: [18],
    boundBy: ['activatedJobs'],
  },
  {
    // Pull, factor 0.5: floor(25 × 0.5) = floor(12.5) = 12; maxQueued = min(50, 12) = 12; n = 12 − 4 = 8.
    name: 'pull: activated jobs × static activateWorkerFactor',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 200, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 4, 0, 0]]),
      pandaJobStats: { activatedJobs: 25 },
    }),
    settings: { activateWorkerFactor: 0.5 },
    expected: [8],
    boundBy: ['activatedJobs'],
  },
  {
    // Pull ratio: byRatio = floor(40 running × 20 / 100) = 8 ≥ Min 5 → qLim = min(100, 8) = 8;
    // maxQueued = min(8, activated 500) = 8; n = 8 − 3 = 5.
    name: 'pull: nQueueLimitWorkerRatio above Min',
    input: queue({
      mapType: 'NoJob',
      limits: {
        maxWorkers: 1000,
        nQueueLimitWorker: 100,
        nQueueLimitWorkerRatio: 20,
        nQueueLimitWorkerMin: 5,
        maxNewWorkersPerCycle: 0,
      },
      workerCounts: counts([['managed', 'ANY', 3, 0, 40]]),
      pandaJobStats: { activatedJobs: 500 },
    }),
    expected: [5],
    boundBy: ['nQueueLimitWorker'],
  },
  {
    // Pull ratio: byRatio = floor(10 × 20 / 100) = 2 < Min 5 → qLim = min(100, 5) = 5; n = 5 − 1 = 4.
    name: 'pull: nQueueLimitWorkerRatio below Min uses Min',
    input: queue({
      mapType: 'NoJob',
      limits: {
        maxWorkers: 1000,
        nQueueLimitWorker: 100,
        nQueueLimitWorkerRatio: 20,
        nQueueLimitWorkerMin: 5,
        maxNewWorkersPerCycle: 0,
      },
      workerCounts: counts([['managed', 'ANY', 1, 0, 10]]),
      pandaJobStats: { activatedJobs: 500 },
    }),
    expected: [4],
    boundBy: ['nQueueLimitWorker'],
  },
  {
    // Push ignores the worker ratio (Harvester nulls it for push): qLim stays 100; n = 100 − 1 = 99.
    name: 'push: nQueueLimitWorkerRatio ignored',
    input: queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, nQueueLimitWorkerRatio: 20, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 1, 0, 10]]),
    }),
    expected: [99],
    boundBy: ['nQueueLimitWorker'],
  },
  {
    // n = 100 − 5 = 95; cores: free = 64 − 40 = 24, ceil(24 / 8) = 3 → 3.
    name: 'cores limit binds',
    input: queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, nQueueLimitWorkerCores: 64, maxNewWorkersPerCycle: 0 },
      rows: [{ ...ANY_ROW, coresPerWorker: 8 }],
      workerCounts: counts([['managed', 'ANY', 5, 0, 0]], { queuedCores: 40 }),
    }),
    expected: [3],
    boundBy: ['queuedCoresLimit'],
  },
  {
    // n = 10 − 5 = 5; memory: free = 30000 − 20000 = 10000 MB, ceil(10000 / 4000) = ceil(2.5) = 3 → 3.
    name: 'memory limit binds (ceil)',
    input: queue({
      limits: {
        maxWorkers: 0,
        nQueueLimitWorker: 10,
        nQueueLimitWorkerMemory: 30000,
        maxNewWorkersPerCycle: 0,
      },
      rows: [{ ...ANY_ROW, memoryPerWorkerMB: 4000 }],
      workerCounts: counts([['managed', 'ANY', 5, 0, 0]], { queuedMemoryMB: 20000 }),
    }),
    expected: [3],
    boundBy: ['queuedMemoryLimit'],
  },
  {
    // Cores ratio: byRatio = floor(320 running cores × 10 / 100) = 32; limit = min(64, 32) = 32;
    // queued 24 → free 8, ceil(8 / 8) = 1; n from qLim = 100 − 3 = 97 → 1.
    name: 'cores ratio limit binds',
    input: queue({
      limits: {
        maxWorkers: 0,
        nQueueLimitWorker: 100,
        nQueueLimitWorkerCores: 64,
        nQueueLimitWorkerCoresRatio: 10,
        maxNewWorkersPerCycle: 0,
      },
      rows: [{ ...ANY_ROW, coresPerWorker: 8 }],
      workerCounts: counts([['managed', 'ANY', 3, 0, 40]], { queuedCores: 24, runningCores: 320 }),
    }),
    expected: [1],
    boundBy: ['queuedCoresLimit'],
  },
  {
    // Slave: maxQueued = min(dictated 7 + nQueue 4, qLim 100) = 11; n = 11 − 4 = 7.
    name: 'slave: PanDA dictates',
    input: queue({
      runMode: 'slave',
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 0 },
      rows: [{ ...ANY_ROW, dictatedNewWorkers: 7 }],
      workerCounts: counts([['managed', 'ANY', 4, 0, 20]]),
    }),
    expected: [7],
    boundBy: ['dictatedByPanda'],
  },
  {
    // Slave: maxQueued = min(7 + 4 = 11, qLim 8) = 8; n = 8 − 4 = 4.
    name: 'slave: queue limit still binds a dictated number',
    input: queue({
      runMode: 'slave',
      limits: { maxWorkers: 0, nQueueLimitWorker: 8, maxNewWorkersPerCycle: 0 },
      rows: [{ ...ANY_ROW, dictatedNewWorkers: 7 }],
      workerCounts: counts([['managed', 'ANY', 4, 0, 20]]),
    }),
    expected: [4],
    boundBy: ['nQueueLimitWorker'],
  },
  {
    // Slave without a command (budget 0): nothing.
    name: 'slave: no dictated number → 0',
    input: queue({
      runMode: 'slave',
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 0 },
    }),
    expected: [0],
    boundBy: ['slaveDictatedZero'],
  },
  {
    // Slave pull: the dictated number replaces the activated-jobs cap: min(5 + 0, 100) = 5 even with 1 activated job.
    name: 'slave pull: dictated number, not activated jobs',
    input: queue({
      mapType: 'NoJob',
      runMode: 'slave',
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 0 },
      rows: [{ ...ANY_ROW, dictatedNewWorkers: 5 }],
      pandaJobStats: { activatedJobs: 1 },
    }),
    expected: [5],
    boundBy: ['dictatedByPanda'],
  },
  {
    // Unified queue: per row n = 10 − nQueue: SCORE 8, MCORE 9, HIMEM 10 → requested 27.
    // Cap = qLim 10 − Σqueued (2+1+0) = 7 (maxWorkers 0 = no limit). Rescale floor(n·7/27):
    // SCORE 56/27 = 2 r2, MCORE 63/27 = 2 r9, HIMEM 70/27 = 2 r16 → 6 given, 1 left → largest
    // remainder HIMEM → 2, 2, 3.
    name: 'UCORE: proportional rescale with largest remainder',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      rows: [
        { jobType: 'managed', resourceType: 'SCORE' },
        { jobType: 'managed', resourceType: 'MCORE' },
        { jobType: 'managed', resourceType: 'SCORE_HIMEM' },
      ],
      workerCounts: counts([
        ['managed', 'SCORE', 2, 0, 0],
        ['managed', 'MCORE', 1, 0, 0],
      ]),
      pandaJobStats: { activatedJobsByResourceType: { SCORE: 100, MCORE: 100, SCORE_HIMEM: 100 } },
    }),
    expected: [2, 2, 3],
    boundBy: ['queueAggregate', 'queueAggregate', 'queueAggregate'],
  },
  {
    // Unified, equal rows: each n = 10 − 0 = 10, per cycle 6 → 6; requested 24; cap = min(10 − 0, 6) = 6;
    // floor(6·6/24) = 1 r12 each → 4 given, 2 left; equal remainders and n → input order: +1 to the
    // first two → 2, 2, 1, 1.
    name: 'UCORE: ties broken by row order',
    input: queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 6 },
      rows: ['SCORE', 'MCORE', 'SCORE_HIMEM', 'MCORE_HIMEM'].map((resourceType) => ({
        jobType: 'managed',
        resourceType,
      })),
    }),
    expected: [2, 2, 1, 1],
    boundBy: ['queueAggregate', 'queueAggregate', 'queueAggregate', 'queueAggregate'],
  },
  {
    // Pull per resource type: SCORE min(qLim 100, 3) = 3 → 3 − 1 = 2; MCORE activated 0 → at least 1 → 1 − 0 = 1;
    // sum 3 ≤ cap 100 − 1 = 99 → unchanged.
    name: 'UCORE pull: activated jobs per resource type',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 0 },
      rows: [
        { jobType: 'managed', resourceType: 'SCORE' },
        { jobType: 'managed', resourceType: 'MCORE' },
      ],
      workerCounts: counts([['managed', 'SCORE', 1, 0, 0]]),
      pandaJobStats: { activatedJobs: 3, activatedJobsByResourceType: { SCORE: 3, MCORE: 0 } },
    }),
    expected: [2, 1],
    boundBy: ['activatedJobs', 'activatedJobs'],
  },
  {
    // PanDA lists no activated jobs: keep one worker only if the row has none: max(1 − 0, 0) = 1.
    name: 'pull: no activated jobs listed, empty queue keeps one pilot',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 10, maxNewWorkersPerCycle: 0 },
      pandaJobStats: {},
    }),
    expected: [1],
    boundBy: ['activatedJobs'],
  },
  {
    // PanDA lists no activated jobs and the row has a running worker: max(1 − (0+0+1), 0) = 0.
    name: 'pull: no activated jobs listed, a worker exists → 0',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 0, 0, 1]]),
      pandaJobStats: {},
    }),
    expected: [0],
    boundBy: ['activatedJobs'],
  },
  {
    // Activated 0 listed: floor(0) = 0, minimum pilots 1 → maxQueued 1, n = 1 − 0 = 1.
    name: 'pull: zero activated jobs still allows one queued pilot',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 0, 0, 5]]),
      pandaJobStats: { activatedJobs: 0 },
    }),
    expected: [1],
    boundBy: ['activatedJobs'],
  },
  {
    // noPilotsWhenNoActiveJobs: activated 0 → minimum pilots 0 → maxQueued 0 → 0.
    name: 'pull: noPilotsWhenNoActiveJobs with zero activated jobs → 0',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 10, maxNewWorkersPerCycle: 0 },
      pandaJobStats: { activatedJobs: 0 },
      noPilotsWhenNoActiveJobs: true,
    }),
    expected: [0],
    boundBy: ['activatedJobs'],
  },
  {
    // Pull without PanDA statistics: queue limits alone (Harvester): qLim 10 − 2 = 8.
    name: 'pull: unknown job statistics fall back to queue limits',
    input: queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 2, 0, 0]]),
      pandaJobStats: 'unknown',
    }),
    expected: [8],
    boundBy: ['nQueueLimitWorker'],
  },
  {
    // Hard stop: nQueue 10 ≥ qLim 10 → 0.
    name: 'queued limit reached → 0',
    input: queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 10, 0, 0]]),
    }),
    expected: [0],
    boundBy: ['queueLimitReached'],
  },
  {
    // Hard stop: queued cores 64 ≥ limit 64 → 0.
    name: 'queued cores limit reached → 0',
    input: queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, nQueueLimitWorkerCores: 64, maxNewWorkersPerCycle: 0 },
      rows: [{ ...ANY_ROW, coresPerWorker: 8 }],
      workerCounts: counts([['managed', 'ANY', 8, 0, 0]], { queuedCores: 64 }),
    }),
    expected: [0],
    boundBy: ['queuedCoresLimitReached'],
  },
];

for (const testCase of handWorkedCases) {
  test(`adjuster: ${testCase.name}`, () => {
    const result = defineNumWorkers(testCase.input, testCase.settings);
    assert.deepEqual(newWorkers(result), testCase.expected, result.explanation);
    assert.deepEqual(
      result.rows.map((row) => row.boundBy),
      testCase.boundBy,
      result.rows.map((row) => row.explanation).join('\n'),
    );
  });
}

for (const queueStatus of ['offline', 'standby', 'maintenance']) {
  test(`adjuster: queue ${queueStatus} → 0`, () => {
    const result = defineNumWorkers(
      queue({ queueStatus, limits: { maxWorkers: 100, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 } }),
    );
    assert.deepEqual(newWorkers(result), [0]);
    assert.equal(result.rows[0].boundBy, 'queueStatus');
    assert.match(result.explanation, new RegExp(`queue status is ${queueStatus}`));
  });
}

test('adjuster: other CRIC statuses (test, brokeroff) do not stop submission', () => {
  for (const queueStatus of ['test', 'brokeroff']) {
    const result = defineNumWorkers(
      queue({ queueStatus, limits: { maxWorkers: 100, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 } }),
    );
    assert.deepEqual(newWorkers(result), [50], queueStatus);
  }
});

test('adjuster: throttled → 0 with the throttler message', () => {
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 100, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 },
      throttler: { throttled: true, message: '12 missed workers in 10 min at pq level' },
    }),
  );
  assert.deepEqual(newWorkers(result), [0]);
  assert.equal(result.rows[0].boundBy, 'throttled');
  assert.match(result.rows[0].explanation, /12 missed workers/);
});

test('adjuster: a throttler that does not throttle changes nothing', () => {
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 100, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 },
      throttler: { throttled: false, message: '' },
    }),
  );
  assert.deepEqual(newWorkers(result), [50]);
});

test('adjuster: unknown counts → 0 (fail closed, never read as zero workers)', () => {
  const input = queue({
    mapType: 'NoJob',
    limits: { maxWorkers: 100, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 },
    rows: [
      { jobType: 'managed', resourceType: 'SCORE' },
      { jobType: 'managed', resourceType: 'MCORE' },
    ],
    workerCounts: 'unknown',
    pandaJobStats: { activatedJobs: 1000 },
  });
  const result = defineNumWorkers(input);
  assert.deepEqual(newWorkers(result), [0, 0]);
  assert.deepEqual(
    result.rows.map((row) => [row.boundBy, row.nReady, row.nWorkersToSubmit]),
    [
      ['countsUnknown', 0, 0],
      ['countsUnknown', 0, 0],
    ],
  );
  assert.match(result.explanation, /status query failed/);
  assert.equal(result.totalWorkersToSubmit, 0);
});

test('adjuster: corrupt counts are treated as unknown', () => {
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 100, nQueueLimitWorker: 50, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', -3, 0, 0]]),
    }),
  );
  assert.deepEqual(newWorkers(result), [0]);
  assert.equal(result.rows[0].boundBy, 'countsUnknown');
});

test('adjuster: nReady is added at submit (nWorkersToSubmit = nNewWorkers + nReady)', () => {
  // n = qLim 10 − nQueue 2 = 8; maxWorkers 20 − (2+3+1) = 14 ≥ 8 → 8; submit 8 + 3 ready = 11.
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 20, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 2, 3, 1]]),
    }),
  );
  assert.deepEqual(
    [result.rows[0].nNewWorkers, result.rows[0].nReady, result.rows[0].nWorkersToSubmit],
    [8, 3, 11],
  );
  assert.equal(result.totalWorkersToSubmit, 11);
});

test('adjuster: ready workers still get jobs on a blocked queue (as Harvester)', () => {
  const result = defineNumWorkers(
    queue({ queueStatus: 'offline', workerCounts: counts([['managed', 'ANY', 0, 2, 0]]) }),
  );
  assert.deepEqual([result.rows[0].nNewWorkers, result.rows[0].nWorkersToSubmit], [0, 2]);
});

test('adjuster: two instances share a queue depth through PanDA-set limits (1000 → 500 each)', () => {
  const limits = (depth: number) => ({ maxWorkers: 0, nQueueLimitWorker: depth, maxNewWorkersPerCycle: 0 });
  // Alone: qLim 1000 − 0 = 1000 (global maxNewWorkers 1000 does not cut it).
  const alone = defineNumWorkers(queue({ limits: limits(1000) }));
  assert.deepEqual(newWorkers(alone), [1000]);
  // Two instances: PanDA sets 500 on each. A has 100 queued: 500 − 100 = 400; B has none: 500.
  const instanceA = defineNumWorkers(
    queue({ limits: limits(500), workerCounts: counts([['managed', 'ANY', 100, 0, 0]]) }),
  );
  const instanceB = defineNumWorkers(queue({ limits: limits(500) }));
  assert.deepEqual([newWorkers(instanceA), newWorkers(instanceB)], [[400], [500]]);
  // Queued after the cycle: (100 + 400) + (0 + 500) = 1000, the depth one instance alone keeps.
  assert.equal(100 + instanceA.totalNewWorkers + instanceB.totalNewWorkers, 1000);
});

test("adjuster: two instances share a pull queue's activated jobs with activateWorkerFactor 'auto'", () => {
  // worker statistics list 2 instances → factor 1/2; floor(1000 × 0.5) = 500; qLim 2000 − 0 → 500 each.
  const input = queue({
    mapType: 'NoJob',
    limits: { maxWorkers: 0, nQueueLimitWorker: 2000, maxNewWorkersPerCycle: 0 },
    pandaJobStats: { activatedJobs: 1000 },
    harvesterInstancesOnQueue: 2,
  });
  assert.deepEqual(newWorkers(defineNumWorkers(input, { activateWorkerFactor: 'auto' })), [500]);
  // One instance listed → factor 1 → 1000 (global cap 1000).
  assert.deepEqual(
    newWorkers(
      defineNumWorkers({ ...input, harvesterInstancesOnQueue: 1 }, { activateWorkerFactor: 'auto' }),
    ),
    [1000],
  );
});

test("adjuster: resolveActivateWorkerFactor follows Harvester's rules", () => {
  assert.equal(resolveActivateWorkerFactor('auto', 'self', 4), 0.25);
  assert.equal(resolveActivateWorkerFactor('auto', 'self', 0), 1, '0 instances counts as 1');
  assert.equal(resolveActivateWorkerFactor('auto', 'self', 'unknown'), 1, 'no statistics → 1');
  assert.equal(resolveActivateWorkerFactor(0.7, 'self', undefined), 0.7);
  assert.equal(resolveActivateWorkerFactor(0.7, 'slave', 4), 1, 'slave mode → 1');
  assert.equal(resolveActivateWorkerFactor(1, 'self', undefined, 8), 0.125, 'divided by nCoreFactor');
});

test('adjuster: nCoreFactor divides the pull cap', () => {
  // floor(80 × 1/8) = 10; min(qLim 100, 10) = 10; n = 10 − 0 = 10.
  const result = defineNumWorkers(
    queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 0 },
      rows: [{ ...ANY_ROW, nCoreFactor: 8 }],
      pandaJobStats: { activatedJobs: 80 },
    }),
  );
  assert.deepEqual(newWorkers(result), [10]);
});

test('adjuster: several job types keep separate rows and share the queue-wide cap', () => {
  // managed 10 − 0 = 10, user 10 − 0 = 10 → 20 > cap 10 − 0 = 10 → 5 and 5.
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      rows: [
        { jobType: 'managed', resourceType: 'SCORE' },
        { jobType: 'user', resourceType: 'SCORE' },
      ],
    }),
  );
  assert.deepEqual(newWorkers(result), [5, 5]);
});

test('adjuster: workers of rows no longer configured still count against the queue', () => {
  // SCORE alone: 10 − 0 = 10; queue-wide cap = 10 − (0 + 6 queued MCORE) = 4 → 4.
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      rows: [{ jobType: 'managed', resourceType: 'SCORE' }],
      workerCounts: counts([['managed', 'MCORE', 6, 0, 0]]),
    }),
  );
  assert.deepEqual(newWorkers(result), [4]);
  assert.equal(result.rows[0].boundBy, 'queueAggregate');
});

test('adjuster: a row listed twice stops the queue', () => {
  const result = defineNumWorkers(queue({ rows: [ANY_ROW, ANY_ROW] }));
  assert.deepEqual(newWorkers(result), [0, 0]);
  assert.match(result.explanation, /listed twice/);
});

test('adjuster: explanation names the binding limit and the arithmetic', () => {
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 12, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      workerCounts: counts([['managed', 'ANY', 3, 0, 5]]),
    }),
  );
  assert.equal(
    result.rows[0].explanation,
    'managed/ANY: 4 new + 0 ready (bound by maxWorkers) [nQueue=3 nReady=0 nRunning=5; nQueueLimitWorker 10; ' +
      'maxQueued 10 − nQueue 3 = 7; maxWorkers 12 − 8 existing → 4; global maxNewWorkers 1000 → 4]',
  );
  assert.equal(result.explanation, 'TEST_PQ: 4 new workers (managed/ANY 4 by maxWorkers)');
});

test('adjuster: deterministic — same input, same output', () => {
  const input = handWorkedCases.find((c) => c.name.startsWith('UCORE: proportional'))!.input;
  assert.deepEqual(defineNumWorkers(input), defineNumWorkers(input));
});

// ---------------------------------------------------------------------------------------------
// [Q] quirks of spec §5 / §5.1: the decision is written beside the code; these pin it.
// ---------------------------------------------------------------------------------------------

test('[Q] UCORE aggregate with 0 = unlimited: maxWorkers 0 and maxNewWorkersPerCycle 0 do not zero the cap (fixed)', () => {
  // Harvester: cap = min(10 − 0, max(0 − 0, 0)) = 0, then min(0, 0) → every row 0.
  // Fixed: 0 terms are left out → cap = 10; rows 10 + 10 = 20 > 10 → 5 and 5.
  const result = defineNumWorkers(
    queue({
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 0 },
      rows: [
        { jobType: 'managed', resourceType: 'SCORE' },
        { jobType: 'managed', resourceType: 'MCORE' },
      ],
    }),
    { maxNewWorkers: 0 },
  );
  assert.deepEqual(newWorkers(result), [5, 5]);
});

test('[Q] pull queue without a queue limit: neither nQueueLimitWorker nor maxWorkers → activated-jobs cap (fixed)', () => {
  // Harvester: min(nActivated, None) raises → no submission. Fixed: maxQueued = activated 30 → 30 − 0 = 30.
  const result = defineNumWorkers(
    queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 0, maxNewWorkersPerCycle: 0 },
      pandaJobStats: { activatedJobs: 30 },
    }),
  );
  assert.deepEqual(newWorkers(result), [30]);
  assert.equal(result.rows[0].boundBy, 'activatedJobs');
});

test('[Q] pull queue without a queue limit: nQueueLimitWorker set but maxWorkers unset keeps the limit (fixed)', () => {
  // Harvester clips 20 with maxWorkers 0 → 0 → raises. Fixed: qLim stays 20; min(20, 100) = 20 → 20.
  const result = defineNumWorkers(
    queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 0, nQueueLimitWorker: 20, maxNewWorkersPerCycle: 0 },
      pandaJobStats: { activatedJobs: 100 },
    }),
  );
  assert.deepEqual(newWorkers(result), [20]);
  assert.equal(result.limits?.nQueueLimitWorker, 20);
});

test('[Q] pull queue without a queue limit: nQueueLimitWorker 0 means no queue limit (fixed)', () => {
  // Harvester raises. Fixed: activated 7 bounds → 7.
  const result = defineNumWorkers(
    queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 0, nQueueLimitWorker: 0, maxNewWorkersPerCycle: 0 },
      pandaJobStats: { activatedJobs: 7 },
    }),
  );
  assert.deepEqual(newWorkers(result), [7]);
});

test('[Q] pull queue without a queue limit: ratio that works out to 0 with no Min uses Min 1 (fixed)', () => {
  // Harvester: floor(0 running × 10 / 100) = 0 → qLim 0 → raises, and the queue never starts.
  // Fixed: Min defaults to 1 → qLim = max(0, 1) = 1; min(1, 50) = 1 → 1 − 0 = 1.
  const result = defineNumWorkers(
    queue({
      mapType: 'NoJob',
      limits: { maxWorkers: 100, nQueueLimitWorkerRatio: 10, maxNewWorkersPerCycle: 0 },
      pandaJobStats: { activatedJobs: 50 },
    }),
  );
  assert.deepEqual(newWorkers(result), [1]);
  assert.equal(result.limits?.nQueueLimitWorker, 1);
});

test('[Q] swapped RT mapper tuple: cores and memory come back by name, not swapped (fixed)', () => {
  // Non-unified queue: CRIC corecount 8, maxrss 16000 → 8 cores, 16000 MB (Harvester: (16000, 8)).
  assert.deepEqual(workerRequirements(undefined, { coreCount: 8, maxRssMB: 16000 }), {
    cores: 8,
    memoryMB: 16000,
  });
  assert.deepEqual(
    workerRequirements(
      { resourceName: 'MCORE', maxCore: 8 },
      { coreCount: 8, maxRssMB: 16000, capability: 'score' },
    ),
    { cores: 8, memoryMB: 16000 },
  );
  // Unified queue: SCORE maxCore 1, maxRamPerCore 2000; site 8 cores / 20000 MB → 1 core,
  // min(2000 × 1, 20000 / 8 × 1 = 2500) = 2000 MB. MCORE maxCore 8 → 8 cores, min(16000, 20000) = 16000 MB.
  const ucore = { coreCount: 8, maxRssMB: 20000, capability: 'ucore' };
  assert.deepEqual(workerRequirements({ resourceName: 'SCORE', maxCore: 1, maxRamPerCore: 2000 }, ucore), {
    cores: 1,
    memoryMB: 2000,
  });
  assert.deepEqual(workerRequirements({ resourceName: 'MCORE', maxCore: 8, maxRamPerCore: 2000 }, ucore), {
    cores: 8,
    memoryMB: 16000,
  });
});

test('[Q] dictated number passes a reached limit: a reached limit gives 0 even for a dictated row (fixed)', () => {
  // Harvester: nQueue 10 ≥ qLim 10 → the dictated 50 passes through unchanged. Fixed: 0.
  const full = defineNumWorkers(
    queue({
      runMode: 'slave',
      limits: { maxWorkers: 0, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 3 },
      rows: [{ ...ANY_ROW, dictatedNewWorkers: 50 }],
      workerCounts: counts([['managed', 'ANY', 10, 0, 0]]),
    }),
  );
  assert.deepEqual(newWorkers(full), [0]);
  assert.equal(full.rows[0].boundBy, 'queueLimitReached');
  // And below the limit the dictated number is capped by maxNewWorkersPerCycle:
  // min(50 + 0, qLim 100) − 0 = 50 → per cycle 3.
  const open = defineNumWorkers(
    queue({
      runMode: 'slave',
      limits: { maxWorkers: 0, nQueueLimitWorker: 100, maxNewWorkersPerCycle: 3 },
      rows: [{ ...ANY_ROW, dictatedNewWorkers: 50 }],
    }),
  );
  assert.deepEqual(newWorkers(open), [3]);
});

test('[Q] non-integer maxNewWorkersPerCycle: refused with a reason naming the field (fixed)', () => {
  // Harvester: 2.5 → None → `None > 0` raises → nothing submitted, no clear reason. Fixed: 0 + reason.
  const result = defineNumWorkers(
    queue({ limits: { maxWorkers: 10, nQueueLimitWorker: 10, maxNewWorkersPerCycle: 2.5 } }),
  );
  assert.deepEqual(newWorkers(result), [0]);
  assert.equal(result.rows[0].boundBy, 'invalidConfig');
  assert.match(result.explanation, /maxNewWorkersPerCycle=2\.5 is not a non-negative integer/);
  // Negative limits are refused too, not read as "no limit".
  const negative = defineNumWorkers(queue({ limits: { maxWorkers: -1, maxNewWorkersPerCycle: 0 } }));
  assert.deepEqual(newWorkers(negative), [0]);
  assert.match(negative.explanation, /maxWorkers=-1/);
});

test('[Q] noPilotsWhenNoActiveJobs: false crashes: an explicit false behaves as the default (fixed)', () => {
  // Harvester: `false` leaves the attribute unset → the adjuster fails. Fixed: false is false:
  // no activated jobs listed, empty row → max(1 − 0, 0) = 1.
  const input = queue({
    mapType: 'NoJob',
    limits: { maxWorkers: 10, maxNewWorkersPerCycle: 0 },
    pandaJobStats: {},
    noPilotsWhenNoActiveJobs: false,
  });
  assert.deepEqual(newWorkers(defineNumWorkers(input, { noPilotsWhenNoActiveJobs: false })), [1]);
  // Either the instance or the queue saying true → 0.
  assert.deepEqual(newWorkers(defineNumWorkers(input, { noPilotsWhenNoActiveJobs: true })), [0]);
  assert.deepEqual(newWorkers(defineNumWorkers({ ...input, noPilotsWhenNoActiveJobs: true })), [0]);
});

test('[Q] zero maxrss divides by zero: the row is stopped with a reason, other rows go on (fixed)', () => {
  // SCORE has memoryPerWorkerMB 0 (CRIC maxrss 0) → stopped. MCORE: qLim 10 − 0 = 10;
  // memory free 40000 − 0 = 40000, ceil(40000 / 16000) = 3 → 3.
  const result = defineNumWorkers(
    queue({
      limits: {
        maxWorkers: 0,
        nQueueLimitWorker: 10,
        nQueueLimitWorkerMemory: 40000,
        maxNewWorkersPerCycle: 0,
      },
      rows: [
        { jobType: 'managed', resourceType: 'SCORE', memoryPerWorkerMB: 0 },
        { jobType: 'managed', resourceType: 'MCORE', memoryPerWorkerMB: 16000 },
      ],
    }),
  );
  assert.deepEqual(newWorkers(result), [0, 3]);
  assert.equal(result.rows[0].boundBy, 'invalidConfig');
  assert.match(result.rows[0].explanation, /memoryPerWorkerMB=0/);
});

// ---------------------------------------------------------------------------------------------
// Commands and counting helpers
// ---------------------------------------------------------------------------------------------

test('SET_N_WORKERS_JOBTYPE resets the whole budget, then sets the named rows', () => {
  const first = applySetNWorkersCommands({}, [
    { command: 'SET_N_WORKERS_JOBTYPE', params: { managed: { SCORE: 10, MCORE: 4 } } },
  ]);
  assert.equal(dictatedFor(first, 'managed', 'SCORE'), 10);
  // A later command that no longer names MCORE sets it to 0; null means 0; fractions are floored.
  const second = applySetNWorkersCommands(first, [
    {
      command: 'SET_N_WORKERS_JOBTYPE',
      params: { managed: { SCORE: 2.7, SCORE_HIMEM: null }, user: { SCORE: 3 } },
    },
  ]);
  assert.deepEqual(
    ['SCORE', 'MCORE', 'SCORE_HIMEM'].map((rt) => dictatedFor(second, 'managed', rt)),
    [2, 0, 0],
  );
  assert.equal(dictatedFor(second, 'user', 'SCORE'), 3, 'job types stay apart');
  // The older SET_N_WORKERS names resource types of the default job type.
  const legacy = applySetNWorkersCommands(second, [{ command: 'SET_N_WORKERS', params: { MCORE: 6 } }]);
  assert.deepEqual([dictatedFor(legacy, 'managed', 'MCORE'), dictatedFor(legacy, 'user', 'SCORE')], [6, 0]);
});

test('dictated budget is consumed by the workers made', () => {
  const budget = applySetNWorkersCommands({}, [
    { command: 'SET_N_WORKERS_JOBTYPE', params: { managed: { SCORE: 10, MCORE: 2 } } },
  ]);
  const after = consumeDictatedBudget(budget, [
    { jobType: 'managed', resourceType: 'SCORE', nNewWorkers: 4 },
    { jobType: 'managed', resourceType: 'MCORE', nNewWorkers: 5 },
  ]);
  assert.deepEqual([dictatedFor(after, 'managed', 'SCORE'), dictatedFor(after, 'managed', 'MCORE')], [6, 0]);
  assert.equal(dictatedFor(budget, 'managed', 'SCORE'), 10, 'the input budget is not mutated');
});

test('countWorkersForAdjuster: queued = submitted+idle+pending, final statuses ignored', () => {
  const result = countWorkersForAdjuster([
    { jobType: 'managed', resourceType: 'SCORE', status: 'submitted', nCore: 1, minRamCount: 2000 },
    { jobType: 'managed', resourceType: 'SCORE', status: 'idle', nCore: 1, minRamCount: 2000 },
    { jobType: 'managed', resourceType: 'SCORE', status: 'pending', nCore: 1 },
    { jobType: 'managed', resourceType: 'SCORE', status: 'ready', nCore: 1 },
    { jobType: 'managed', resourceType: 'MCORE', status: 'running', nCore: 8, minRamCount: 16000 },
    { jobType: 'managed', resourceType: 'MCORE', status: 'finished', nCore: 8, minRamCount: 16000 },
  ]);
  assert.deepEqual(result, {
    rows: [
      { jobType: 'managed', resourceType: 'SCORE', nQueue: 3, nReady: 1, nRunning: 0 },
      { jobType: 'managed', resourceType: 'MCORE', nQueue: 0, nReady: 0, nRunning: 1 },
    ],
    queuedCores: 3,
    queuedMemoryMB: 4000,
    runningCores: 8,
    runningMemoryMB: 16000,
  });
});
