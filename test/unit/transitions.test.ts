import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyWorkerStatus,
  canTransition,
  convertToJobStatus,
  jobStateFromWorker,
  jobStateFromWorkers,
  timestampsForStatus,
} from '../../src/core/transitions';
import { FINAL_WORKER_STATUSES, WORKER_STATUSES, type WorkerStatus } from '../../src/core/workerStatus';

const FINAL = [...FINAL_WORKER_STATUSES];
const ACTIVE: WorkerStatus[] = WORKER_STATUSES.filter((s) => !FINAL_WORKER_STATUSES.has(s));

test('a final worker status never changes, whatever is reported', () => {
  for (const current of FINAL) {
    for (const reported of WORKER_STATUSES) {
      if (reported === current) continue;
      const d = applyWorkerStatus(current, reported);
      assert.deepEqual(
        d,
        { status: current, changed: false, ignoredReason: 'final' },
        `${current} -> ${reported}`,
      );
    }
  }
});

test('submitted is ignored after running or idle (no reverse transition)', () => {
  assert.deepEqual(applyWorkerStatus('running', 'submitted'), {
    status: 'running',
    changed: false,
    ignoredReason: 'no_reverse_to_submitted',
  });
  assert.deepEqual(applyWorkerStatus('idle', 'submitted'), {
    status: 'idle',
    changed: false,
    ignoredReason: 'no_reverse_to_submitted',
  });
});

test('submitted is accepted after pending and ready', () => {
  assert.deepEqual(applyWorkerStatus('pending', 'submitted'), { status: 'submitted', changed: true });
  assert.deepEqual(applyWorkerStatus('ready', 'submitted'), { status: 'submitted', changed: true });
});

test('pending can go to every other status, including missed on a failed submission', () => {
  for (const reported of WORKER_STATUSES) {
    if (reported === 'pending') continue;
    assert.deepEqual(applyWorkerStatus('pending', reported), { status: reported, changed: true }, reported);
  }
});

test('nothing moves a worker back into pending', () => {
  for (const current of ACTIVE) {
    if (current === 'pending') continue;
    assert.equal(applyWorkerStatus(current, 'pending').ignoredReason, 'pending_is_local', current);
    assert.equal(applyWorkerStatus(current, 'pending').status, current);
  }
});

test('every active worker can reach every final status', () => {
  for (const current of ACTIVE) {
    for (const final of FINAL) {
      assert.deepEqual(
        applyWorkerStatus(current, final),
        { status: final, changed: true },
        `${current} -> ${final}`,
      );
    }
  }
});

test('forward moves between active statuses are changes', () => {
  assert.deepEqual(applyWorkerStatus('submitted', 'running'), { status: 'running', changed: true });
  assert.deepEqual(applyWorkerStatus('submitted', 'idle'), { status: 'idle', changed: true });
  assert.deepEqual(applyWorkerStatus('running', 'idle'), { status: 'idle', changed: true });
  assert.deepEqual(applyWorkerStatus('idle', 'running'), { status: 'running', changed: true });
  // late binding: a running worker asks for more jobs
  assert.deepEqual(applyWorkerStatus('running', 'ready'), { status: 'ready', changed: true });
});

test('the same status again is no change and no ignored reason', () => {
  for (const s of WORKER_STATUSES) assert.deepEqual(applyWorkerStatus(s, s), { status: s, changed: false });
});

test('an unknown report (null) keeps the last known status', () => {
  assert.deepEqual(applyWorkerStatus('running', null), {
    status: 'running',
    changed: false,
    ignoredReason: 'unknown',
  });
});

test('canTransition agrees with applyWorkerStatus', () => {
  assert.equal(canTransition('submitted', 'running'), true);
  assert.equal(canTransition('running', 'submitted'), false);
  assert.equal(canTransition('finished', 'failed'), false);
  assert.equal(canTransition('running', 'running'), false);
});

test('start time is set once on running, end time once on a final status', () => {
  const now = new Date('2026-02-01T10:00:00.000Z');
  assert.deepEqual(timestampsForStatus({}, 'running', now), { startTime: '2026-02-01T10:00:00.000Z' });
  assert.deepEqual(timestampsForStatus({ startTime: '2026-01-01T00:00:00.000Z' }, 'running', now), {});
  assert.deepEqual(timestampsForStatus({}, 'failed', now), { endTime: '2026-02-01T10:00:00.000Z' });
  assert.deepEqual(timestampsForStatus({ endTime: '2026-01-01T00:00:00.000Z' }, 'cancelled', now), {});
  assert.deepEqual(timestampsForStatus({}, 'submitted', now), {});
});

test('convertToJobStatus follows Harvester convert_to_job_status', () => {
  assert.deepEqual(convertToJobStatus('submitted'), { status: 'starting', subStatus: 'submitted' });
  assert.deepEqual(convertToJobStatus('ready'), { status: 'starting', subStatus: 'ready' });
  assert.deepEqual(convertToJobStatus('running'), { status: 'running', subStatus: 'running' });
  assert.deepEqual(convertToJobStatus('idle'), { status: 'running', subStatus: 'idle' });
  assert.deepEqual(convertToJobStatus('finished'), { status: 'finished', subStatus: 'to_transfer' });
  assert.deepEqual(convertToJobStatus('failed'), { status: 'failed', subStatus: 'to_transfer' });
  assert.deepEqual(convertToJobStatus('cancelled'), { status: 'cancelled', subStatus: 'to_transfer' });
  assert.deepEqual(convertToJobStatus('missed'), { status: 'missed', subStatus: 'missed' });
  assert.deepEqual(convertToJobStatus('pending'), { status: 'starting', subStatus: 'prepared' });
});

test("the pilot's finished/failed job status overrides the worker status; other values do not", () => {
  assert.deepEqual(jobStateFromWorker('running', 'finished'), {
    status: 'finished',
    subStatus: 'to_transfer',
  });
  assert.deepEqual(jobStateFromWorker('cancelled', 'failed'), { status: 'failed', subStatus: 'to_transfer' });
  assert.deepEqual(jobStateFromWorker('running', 'transferring'), {
    status: 'running',
    subStatus: 'running',
  });
  assert.deepEqual(jobStateFromWorker('running', undefined), { status: 'running', subStatus: 'running' });
});

test('a job of several workers is final only when all are; finished beats failed beats cancelled', () => {
  assert.deepEqual(jobStateFromWorkers(['finished', 'running'], false), {
    status: 'running',
    subStatus: 'running',
  });
  assert.deepEqual(jobStateFromWorkers(['submitted', 'submitted'], false), {
    status: 'starting',
    subStatus: 'submitted',
  });
  assert.deepEqual(jobStateFromWorkers(['submitted'], true), { status: 'running', subStatus: 'running' });
  assert.deepEqual(jobStateFromWorkers(['failed', 'finished', 'cancelled'], true).status, 'finished');
  assert.deepEqual(jobStateFromWorkers(['failed', 'cancelled'], true).status, 'failed');
  assert.deepEqual(jobStateFromWorkers(['cancelled', 'missed'], true).status, 'cancelled');
});
