import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimpleThrottler } from '../../src/plugins/common/simpleThrottler';
import { SimpleWorkerMaker } from '../../src/plugins/common/simpleWorkerMaker';
import type { MissedWorkerQuery, PluginContext } from '../../src/plugins/types';
import { makeJob } from './support/workers';

const base = { module: 'simple', name: 'x' };

test('SimpleWorkerMaker: nCore from the jobs, else the param, else 1', async () => {
  const plain = new SimpleWorkerMaker(base);
  assert.deepEqual(await plain.makeWorker([], 'managed', 'SCORE'), { nCore: 1 });
  const configured = new SimpleWorkerMaker({ ...base, nCore: 8, maxWalltime: 3600, pilotType: 'PR' });
  assert.deepEqual(await configured.makeWorker([], 'managed', 'MCORE'), {
    nCore: 8,
    maxWalltime: 3600,
    pilotType: 'PR',
  });
  const jobs = [
    makeJob({ PandaID: 1, nCore: 4, jobParams: { minRamCount: 1000 } }),
    makeJob({ PandaID: 2, jobParams: { coreCount: 2, minRamCount: 500 } }),
  ];
  assert.deepEqual(await configured.makeWorker(jobs, 'managed', 'MCORE'), {
    nCore: 6,
    minRamCount: 1500,
    maxWalltime: 3600,
    pilotType: 'PR',
  });
});

test('SimpleWorkerMaker: jobs per worker and workers per job default to 1', () => {
  assert.equal(new SimpleWorkerMaker(base).getNumJobsPerWorker(5), 1);
  assert.equal(new SimpleWorkerMaker(base).getNumWorkersPerJob(5), 1);
  assert.equal(
    new SimpleWorkerMaker({ ...base, nJobsPerWorker: 3, nWorkersPerJob: 2 }).getNumJobsPerWorker(5),
    3,
  );
  assert.equal(new SimpleWorkerMaker({ ...base, nWorkersPerJob: 2 }).getNumWorkersPerJob(5), 2);
  assert.throws(
    () => new SimpleWorkerMaker({ ...base, nCore: 'many' }),
    /SimpleWorkerMaker: parameter "nCore" must be a number/,
  );
});

function throttlerCtx(
  counts: (q: MissedWorkerQuery) => number,
  seen: MissedWorkerQuery[] = [],
): PluginContext {
  return {
    harvesterID: 'h1',
    queueName: 'PQ1',
    now: () => new Date('2026-01-01T01:00:00.000Z'),
    countMissedWorkers: async (q) => {
      seen.push(q);
      return counts(q);
    },
  };
}

test('SimpleThrottler never throttles without rules', async () => {
  const t = new SimpleThrottler(base, { harvesterID: 'h1', queueName: 'PQ1' });
  assert.equal((await t.toBeThrottled()).throttled, false);
  const and = new SimpleThrottler({ ...base, logicType: 'AND' }, { harvesterID: 'h1', queueName: 'PQ1' });
  assert.equal((await and.toBeThrottled()).throttled, false);
});

test('SimpleThrottler (OR) throttles when missed workers exceed a rule in its time window', async () => {
  const seen: MissedWorkerQuery[] = [];
  const rules = [
    { level: 'pq', timeWindow: 10, maxMissed: 5 },
    { level: 'site', timeWindow: 30, maxMissed: 100 },
  ];
  const calm = new SimpleThrottler(
    { ...base, rulesForMissed: rules, siteName: 'SITE1' },
    throttlerCtx(() => 5, seen),
  );
  assert.equal((await calm.toBeThrottled()).throttled, false, 'equal to maxMissed is not over');
  assert.deepEqual(seen, [
    { queueName: 'PQ1', computingSite: 'PQ1', since: '2026-01-01T00:50:00.000Z' },
    { queueName: 'PQ1', siteName: 'SITE1', since: '2026-01-01T00:30:00.000Z' },
  ]);
  const busy = new SimpleThrottler(
    { ...base, rulesForMissed: rules },
    throttlerCtx((q) => (q.computingSite ? 6 : 0)),
  );
  const verdict = await busy.toBeThrottled();
  assert.equal(verdict.throttled, true);
  assert.match(verdict.message, /nMissed=6 > maxMissed=5 for pq=PQ1 in the last 10 min/);
});

test('SimpleThrottler (AND) throttles only when every rule is over', async () => {
  const rules = [
    { level: 'pq', timeWindow: 10, maxMissed: 1 },
    { level: 'ce', timeWindow: 10, maxMissed: 1 },
  ];
  const params = { ...base, rulesForMissed: rules, logicType: 'AND', computingElements: ['ce1', 'ce2'] };
  const allOver = new SimpleThrottler(
    params,
    throttlerCtx(() => 2),
  );
  assert.equal((await allOver.toBeThrottled()).throttled, true);
  const oneCeFine = new SimpleThrottler(
    params,
    throttlerCtx((q) => (q.computingElement === 'ce2' ? 0 : 2)),
  );
  const verdict = await oneCeFine.toBeThrottled();
  assert.equal(verdict.throttled, false);
  assert.match(verdict.message, /ce=ce2/);
});

test('SimpleThrottler config errors say what is wrong', () => {
  assert.throws(
    () =>
      new SimpleThrottler(
        { ...base, rulesForMissed: [{ level: 'pq' }] },
        throttlerCtx(() => 0),
      ),
    /rulesForMissed" must be a list of \{level/,
  );
  assert.throws(
    () =>
      new SimpleThrottler(
        { ...base, rulesForMissed: [], logicType: 'XOR' },
        throttlerCtx(() => 0),
      ),
    /logicType" must be OR or AND/,
  );
  assert.throws(
    () =>
      new SimpleThrottler(
        { ...base, rulesForMissed: [{ level: 'pq', timeWindow: 1, maxMissed: 1 }] },
        { harvesterID: 'h1', queueName: 'PQ1' },
      ),
    /rulesForMissed needs ctx\.countMissedWorkers/,
  );
});
