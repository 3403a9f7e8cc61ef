import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ChunkableJob, jobChunksForWorkers, jobsNeeded } from '../../src/core/jobChunks';

const job = (PandaID: number, taskID: number, currentPriority = 0): ChunkableJob => ({
  PandaID,
  taskID,
  currentPriority,
});
const ids = (chunks: { jobs: ChunkableJob[] }[]) => chunks.map((c) => c.jobs.map((j) => j.PandaID));
const base = { nJobsPerWorker: 1, nWorkersPerJob: 1, allowJobMixture: false };

test('jobsNeeded: one per worker, nJobsPerWorker per worker, one per nWorkersPerJob workers', () => {
  assert.equal(jobsNeeded({ ...base, mapType: 'OneToOne', nWorkers: 5 }), 5);
  assert.equal(jobsNeeded({ ...base, mapType: 'ManyToOne', nWorkers: 5, nJobsPerWorker: 4 }), 20);
  assert.equal(jobsNeeded({ ...base, mapType: 'OneToMany', nWorkers: 7, nWorkersPerJob: 3 }), 2);
  assert.equal(jobsNeeded({ ...base, mapType: 'OneToMany', nWorkers: 2, nWorkersPerJob: 3 }), 0);
  assert.equal(jobsNeeded({ ...base, mapType: 'OneToOne', nWorkers: 0 }), 0);
});

test('OneToOne: one job per worker, highest priority first, the rest left for later', () => {
  const plan = jobChunksForWorkers([job(1, 10, 5), job(2, 10, 900), job(3, 11, 5)], {
    ...base,
    mapType: 'OneToOne',
    nWorkers: 2,
  });
  assert.deepEqual(ids(plan.chunks), [[2], [1]]);
  assert.deepEqual(
    plan.leftover.map((j) => j.PandaID),
    [3],
  );
  assert.ok(plan.chunks.every((c) => c.nWorkers === 1));
});

test('ManyToOne: a task fills its own workers; tasks do not mix unless allowJobMixture', () => {
  const jobs = [job(1, 10), job(2, 10), job(3, 10), job(4, 11), job(5, 11)];
  const apart = jobChunksForWorkers(jobs, { ...base, mapType: 'ManyToOne', nWorkers: 5, nJobsPerWorker: 2 });
  assert.deepEqual(ids(apart.chunks), [[1, 2], [3], [4, 5]], 'task 10 gets a short chunk rather than a mix');
  assert.deepEqual(apart.leftover, []);

  const mixed = jobChunksForWorkers(jobs, {
    ...base,
    mapType: 'ManyToOne',
    nWorkers: 5,
    nJobsPerWorker: 2,
    allowJobMixture: true,
  });
  assert.deepEqual(ids(mixed.chunks), [[1, 2], [3, 4], [5]]);
});

test('ManyToOne: the worker budget binds; jobs beyond it wait', () => {
  const jobs = [job(1, 10), job(2, 10), job(3, 10), job(4, 10), job(5, 10)];
  const plan = jobChunksForWorkers(jobs, { ...base, mapType: 'ManyToOne', nWorkers: 2, nJobsPerWorker: 2 });
  assert.deepEqual(ids(plan.chunks), [
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(
    plan.leftover.map((j) => j.PandaID),
    [5],
  );
});

test('OneToMany: each job gets all its workers or none', () => {
  const plan = jobChunksForWorkers([job(1, 10, 1), job(2, 10, 9)], {
    ...base,
    mapType: 'OneToMany',
    nWorkers: 5,
    nWorkersPerJob: 3,
  });
  assert.deepEqual(ids(plan.chunks), [[2]], 'budget 5: one job with 3 workers, not a second with 2');
  assert.equal(plan.chunks[0].nWorkers, 3);
  assert.deepEqual(
    plan.leftover.map((j) => j.PandaID),
    [1],
  );
});

test('bad worker maker numbers are refused naming the attribute', () => {
  assert.throws(
    () => jobChunksForWorkers([job(1, 1)], { ...base, mapType: 'ManyToOne', nWorkers: 1, nJobsPerWorker: 0 }),
    /workerMaker\.nJobsPerWorker must be a whole number ≥ 1, got 0/,
  );
  assert.throws(
    () =>
      jobChunksForWorkers([job(1, 1)], { ...base, mapType: 'OneToMany', nWorkers: 1, nWorkersPerJob: 1.5 }),
    /workerMaker\.nWorkersPerJob/,
  );
});
