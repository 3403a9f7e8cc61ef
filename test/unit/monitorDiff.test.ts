/**
 * The queue monitor's comparison (src/core/monitorDiff.ts): a worker workflow hears from the
 * monitor only when something changed, so its history grows with changes, never with polls.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffMonitorResults, type MonitoredWorker } from '../../src/core/monitorDiff';
import type { CheckResult } from '../../src/plugins/types';

const w = (workerID: number, status: MonitoredWorker['status'], nativeStatus?: string): MonitoredWorker => ({
  workerID,
  status,
  nativeStatus,
});
const r = (status: CheckResult['status'], extra: Partial<CheckResult> = {}): CheckResult => ({
  status,
  diag: '',
  ...extra,
});
const none: ReadonlySet<number> = new Set();

test('an unchanged answer signals nobody', () => {
  const workers = [w(1, 'submitted', 'PD'), w(2, 'running', 'R'), w(3, 'running')];
  const { changes, unknownNow } = diffMonitorResults(
    workers,
    [r('submitted', { nativeStatus: 'PD' }), r('running', { nativeStatus: 'R' }), r('running')],
    none,
  );
  assert.deepEqual(changes, []);
  assert.deepEqual(unknownNow, []);
});

test('only the workers whose status changed are signalled, with what the batch system said', () => {
  const workers = [w(1, 'submitted', 'PD'), w(2, 'submitted', 'PD'), w(3, 'running', 'R')];
  const { changes } = diffMonitorResults(
    workers,
    [
      r('submitted', { nativeStatus: 'PD' }),
      r('running', { nativeStatus: 'R', nodeID: 'wn-7' }),
      r('failed', { nativeStatus: 'F', nativeExitCode: 137, diag: 'OOM killed' }),
    ],
    none,
  );
  assert.deepEqual(
    changes.map((c) => [c.workerID, c.status]),
    [
      [2, 'running'],
      [3, 'failed'],
    ],
  );
  assert.equal(changes[0].nodeID, 'wn-7');
  assert.equal(changes[1].nativeExitCode, 137);
  assert.equal(changes[1].diag, 'OOM killed');
});

test('a native status change alone is signalled (e.g. a job becoming held), a missing one is not', () => {
  const { changes } = diffMonitorResults(
    [w(1, 'submitted', 'PD'), w(2, 'submitted', 'PD')],
    [r('submitted', { nativeStatus: 'held' }), r('submitted')],
    none,
  );
  assert.deepEqual(
    changes.map((c) => [c.workerID, c.status, c.nativeStatus]),
    [[1, 'submitted', 'held']],
  );
});

test('reports that may not move a worker (backwards, after a final status, to pending) signal nothing', () => {
  const { changes } = diffMonitorResults(
    [w(1, 'running', 'R'), w(2, 'finished', 'C'), w(3, 'submitted', 'PD')],
    [
      r('submitted', { nativeStatus: 'R' }),
      r('running', { nativeStatus: 'C' }),
      r('pending', { nativeStatus: 'PD' }),
    ],
    none,
  );
  assert.deepEqual(changes, []);
});

test('"cannot tell" is signalled once when it appears, and not again while it lasts', () => {
  const workers = [w(1, 'running', 'R'), w(2, 'running', 'R')];
  const first = diffMonitorResults(
    workers,
    [r(null, { diag: 'squeue lost the job' }), r('running', { nativeStatus: 'R' })],
    none,
  );
  assert.deepEqual(first.changes, [{ workerID: 1, status: null, diag: 'squeue lost the job' }]);
  assert.deepEqual(first.unknownNow, [1]);

  const second = diffMonitorResults(
    workers,
    [r(null, { diag: 'squeue lost the job' }), r('running', { nativeStatus: 'R' })],
    new Set(first.unknownNow),
  );
  assert.deepEqual(second.changes, [], 'still unknown: no second signal');
  assert.deepEqual(second.unknownNow, [1], 'but it is still listed as unknown');
});

test('an unknown worker that answers again is signalled even if its status is the same as before', () => {
  const { changes, unknownNow } = diffMonitorResults(
    [w(1, 'running', 'R'), w(2, 'running', 'R')],
    [r('running', { nativeStatus: 'R' }), r('running', { nativeStatus: 'R' })],
    new Set([1]),
  );
  assert.deepEqual(
    changes.map((c) => [c.workerID, c.status]),
    [[1, 'running']],
    'the clearing is news for worker 1 only',
  );
  assert.deepEqual(unknownNow, []);
});

test('an answer that does not match the question is an error, not a guess', () => {
  assert.throws(
    () => diffMonitorResults([w(1, 'submitted'), w(2, 'submitted')], [r('running')], none),
    /1 results for 2 workers/,
  );
});

test("the batch system's own start and end times travel with the change", () => {
  const { changes } = diffMonitorResults(
    [w(1, 'running', 'R')],
    [
      r('finished', {
        nativeStatus: 'CD',
        startTime: '2026-11-26T10:00:00Z',
        endTime: '2026-11-26T10:05:07Z',
      }),
    ],
    none,
  );
  assert.equal(changes[0].startTime, '2026-11-26T10:00:00Z');
  assert.equal(changes[0].endTime, '2026-11-26T10:05:07Z');
});

test('lost heartbeat: a running worker whose pilot went quiet past worker_heartbeat is signalled once, even unchanged', () => {
  const checkedAt = '2026-11-26T12:00:00.000Z';
  const minutesBefore = (m: number) => new Date(Date.parse(checkedAt) - m * 60_000).toISOString();
  const workers: MonitoredWorker[] = [
    { workerID: 1, status: 'running', nativeStatus: 'R', startTime: minutesBefore(60) },
    { workerID: 2, status: 'running', nativeStatus: 'R', startTime: minutesBefore(60) },
    { workerID: 3, status: 'running', nativeStatus: 'R', startTime: minutesBefore(60) },
    { workerID: 4, status: 'running', nativeStatus: 'R', startTime: minutesBefore(2) },
    { workerID: 5, status: 'running', nativeStatus: 'R', startTime: minutesBefore(60) },
  ];
  const results = workers.map(() => r('running', { nativeStatus: 'R' }));
  const heartbeats = {
    limitMinutes: 10,
    checkedAt,
    lastHeartbeat: {
      '1': minutesBefore(3), // alive
      '2': minutesBefore(11), // stale file
      '3': null, // no file, running for an hour
      '4': null, // no file, but started 2 minutes ago
      // 5: not read (already being killed, or the file was unreadable)
    },
  };
  const { changes } = diffMonitorResults(workers, results, none, heartbeats);
  assert.deepEqual(
    changes.map((c) => [c.workerID, c.status]),
    [
      [2, 'running'],
      [3, 'running'],
    ],
  );
  assert.match(
    changes[0].lostHeartbeat ?? '',
    new RegExp(`last heartbeat ${minutesBefore(11)}.*worker_heartbeat=10 min`),
  );
  assert.match(changes[1].lostHeartbeat ?? '', /last heartbeat never/);
  assert.deepEqual(diffMonitorResults(workers, results, none).changes, [], 'no limit: nobody');
});

test('lost heartbeat: a worker that is not running (or just ended) is not judged', () => {
  const checkedAt = '2026-11-26T12:00:00.000Z';
  const old = '2026-11-26T10:00:00.000Z';
  const heartbeats = { limitMinutes: 10, checkedAt, lastHeartbeat: { '1': old, '2': old } };
  const { changes } = diffMonitorResults(
    [
      { workerID: 1, status: 'submitted', startTime: old },
      { workerID: 2, status: 'running', startTime: old },
    ],
    [r('submitted'), r('finished')],
    none,
    heartbeats,
  );
  assert.deepEqual(
    changes.map((c) => [c.workerID, c.status, c.lostHeartbeat]),
    [[2, 'finished', undefined]],
  );
});
