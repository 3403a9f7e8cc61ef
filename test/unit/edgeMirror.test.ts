/**
 * An edge node's mirror of a queue's live workers (src/core/edgeMirror.ts): kept current by the
 * rows changed since the last sequence applied; a mirror that does not fit the delta is rebuilt,
 * never patched blindly (a worker the monitor forgets is a batch job nobody watches).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyDelta,
  deltaApplies,
  type EdgeMirror,
  type MonitorDelta,
  type MonitoredWorkerRecord,
  monitorBatches,
} from '../../src/core/edgeMirror';
import type { WorkerStatus } from '../../src/core/workerStatus';

const groups = { c1: { monitor: { module: 'dummy', name: 'DummyMonitor' } } };
const rec = (
  workerID: number,
  status: WorkerStatus = 'submitted',
  configID = 'c1',
): MonitoredWorkerRecord => ({
  spec: {
    workerID,
    computingSite: 'Q',
    harvesterID: 'h',
    configID,
    mapType: 'NoJob',
    status,
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    creationTime: '2026-01-01T00:00:00.000Z',
    batchID: String(1000 + workerID),
  },
  hasJobs: false,
  killed: false,
  unknown: false,
});
const delta = (
  fromSeq: number,
  toSeq: number,
  upserts: MonitoredWorkerRecord[],
  removed: number[] = [],
): MonitorDelta => ({
  fromSeq,
  toSeq,
  upserts,
  removed,
  groups,
});
const ids = (m: EdgeMirror) =>
  Object.keys(m.workers)
    .map(Number)
    .sort((a, b) => a - b);

test('a full sync in pages, then deltas: the mirror holds exactly the live workers with their latest state', () => {
  let m = applyDelta(undefined, 'm1', delta(0, 10, [rec(1), rec(2)]));
  assert.ok(deltaApplies(m, 'm1', delta(10, 20, [rec(3)])));
  m = applyDelta(m, 'm1', delta(10, 20, [rec(3)]));
  m = applyDelta(m, 'm1', delta(20, 30, [rec(2, 'running')], [1]));
  assert.deepEqual(ids(m), [2, 3]);
  assert.equal(m.workers['2'].spec.status, 'running');
  assert.equal(m.seq, 30);
});

test('a retried delta whose first attempt was applied fits; a mirror of another sync or behind does not', () => {
  const m = applyDelta(undefined, 'm1', delta(0, 30, [rec(1)]));
  // Retried with a later read of the same range: safe to apply again.
  assert.ok(deltaApplies(m, 'm1', delta(20, 40, [rec(1, 'running')])));
  assert.equal(deltaApplies(m, 'm2', delta(30, 40, [])), false, 'another sync (other host, new workflow)');
  assert.equal(deltaApplies(m, 'm1', delta(35, 40, [])), false, 'the mirror missed (30, 35]');
  assert.equal(deltaApplies(undefined, 'm1', delta(30, 40, [])), false, 'no mirror on this host');
  assert.ok(deltaApplies(undefined, 'm1', delta(0, 40, [])), 'a sync from 0 starts afresh');
});

test('a sync from 0 forgets what the host held before', () => {
  const old = applyDelta(undefined, 'm1', delta(0, 30, [rec(1), rec(2)]));
  const m = applyDelta(old, 'm2', delta(0, 50, [rec(2)]));
  assert.deepEqual(ids(m), [2]);
  assert.equal(m.mirrorID, 'm2');
});

test('status calls: per config, pages of pageSize in worker order; a config without params is named, not skipped silently', () => {
  const m = applyDelta(
    undefined,
    'm1',
    delta(0, 10, [rec(5), rec(1), rec(3), rec(2), rec(4), rec(9, 'running', 'gone')]),
  );
  const { batches, configsWithoutParams } = monitorBatches(m, 2);
  assert.deepEqual(
    batches.map((b) => [b.configID, b.workers.map((w) => w.spec.workerID)]),
    [
      ['c1', [1, 2]],
      ['c1', [3, 4]],
      ['c1', [5]],
    ],
  );
  assert.deepEqual(configsWithoutParams, ['gone']);
});
