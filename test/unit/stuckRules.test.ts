import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applyMonitorSilence,
  detectStuck,
  FAILED_BY_SERVER_ERROR_CODE,
  giveUpDeadline,
  giveUpUnknownWorker,
  heartbeatAlive,
  KILL_REASONS,
  lostHeartbeat,
  STUCK_DEFAULTS,
  type UnknownWorkerInput,
} from '../../src/core/stuckRules';

const T0 = Date.parse('2026-01-10T00:00:00.000Z');
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const iso = (seconds: number): string => at(seconds).toISOString();

test('defaults are Harvester’s: 48 h queued, 1 h held, 1 h unknown', () => {
  assert.equal(STUCK_DEFAULTS.workerQueueTimeLimitSeconds, 48 * 3600);
  assert.equal(STUCK_DEFAULTS.heldTimeoutSeconds, 3600);
  assert.equal(STUCK_DEFAULTS.checkTimeoutSeconds, 3600);
  assert.ok(KILL_REASONS.includes('panda_tobekilled') && KILL_REASONS.includes('operator'));
});

test('a worker queued longer than workerQueueTimeLimit is stuck_queued', () => {
  const worker = { status: 'submitted' as const, submitTime: iso(0), lastCheckedAt: iso(0) };
  assert.equal(detectStuck(worker, at(48 * 3600)), null, 'exactly at the limit is not yet stuck');
  const verdict = detectStuck(worker, at(48 * 3600 + 1));
  assert.equal(verdict?.reason, 'stuck_queued');
  assert.match(verdict?.detail ?? '', /workerQueueTimeLimit=172800s/);
  // per-queue override
  assert.equal(detectStuck(worker, at(601), { workerQueueTimeLimitSeconds: 600 })?.reason, 'stuck_queued');
  // 0 switches the rule off
  assert.equal(detectStuck(worker, at(10 * 86400), { workerQueueTimeLimitSeconds: 0 }), null);
});

test('only submitted workers can be stuck queued', () => {
  const running = { status: 'running' as const, submitTime: iso(0), startTime: iso(10) };
  assert.equal(detectStuck(running, at(100 * 3600)), null);
  const idle = { status: 'idle' as const, submitTime: iso(0) };
  assert.equal(detectStuck(idle, at(100 * 3600)), null);
});

test('a worker held longer than heldTimeout is stuck_held', () => {
  const worker = { status: 'submitted' as const, submitTime: iso(0), heldSince: iso(100) };
  assert.equal(detectStuck(worker, at(100 + 3600)), null);
  assert.equal(detectStuck(worker, at(100 + 3601))?.reason, 'stuck_held');
  assert.equal(detectStuck(worker, at(100 + 601), { heldTimeoutSeconds: 600 })?.reason, 'stuck_held');
  assert.equal(detectStuck({ ...worker, heldSince: undefined }, at(100 + 3601)), null);
});

test('a status unknown for longer than checkTimeout is stuck_unknown', () => {
  const worker = {
    status: 'running' as const,
    submitTime: iso(0),
    lastCheckedAt: iso(1000),
    statusUnknown: true,
  };
  assert.equal(detectStuck(worker, at(1000 + 3600)), null);
  const verdict = detectStuck(worker, at(1000 + 3601));
  assert.equal(verdict?.reason, 'stuck_unknown');
  assert.match(verdict?.detail ?? '', /checkTimeout=3600s/);
  // a status that is known again is not stuck, however old the last check
  assert.equal(detectStuck({ ...worker, statusUnknown: false }, at(1000 + 7200)), null);
  // never checked: counts from submission, as Harvester sets checkTime at submit
  assert.equal(
    detectStuck({ status: 'submitted', submitTime: iso(0), statusUnknown: true }, at(3601))?.reason,
    'stuck_unknown',
  );
});

test('unknown beats held beats queued when several rules fire', () => {
  const worker = {
    status: 'submitted' as const,
    submitTime: iso(0),
    heldSince: iso(0),
    lastCheckedAt: iso(0),
    statusUnknown: true,
  };
  const late = at(72 * 3600);
  assert.equal(detectStuck(worker, late)?.reason, 'stuck_unknown');
  assert.equal(detectStuck({ ...worker, statusUnknown: false }, late)?.reason, 'stuck_held');
  assert.equal(
    detectStuck({ ...worker, statusUnknown: false, heldSince: undefined }, late)?.reason,
    'stuck_queued',
  );
});

test('lost heartbeat only when worker_heartbeat is configured', () => {
  const worker = {
    status: 'running' as const,
    submitTime: iso(0),
    startTime: iso(0),
    lastHeartbeat: iso(60),
  };
  assert.equal(detectStuck(worker, at(60 + 3600)), null, 'rule off without workerHeartbeatMinutes');
  assert.equal(detectStuck(worker, at(60 + 600), { workerHeartbeatMinutes: 10 }), null);
  const verdict = detectStuck(worker, at(60 + 601), { workerHeartbeatMinutes: 10 });
  assert.equal(verdict?.reason, 'lost_heartbeat');
  assert.match(verdict?.detail ?? '', /worker_heartbeat=10 min/);
});

test('heartbeat: no file is fine until the worker has run longer than the limit', () => {
  assert.equal(heartbeatAlive({}, at(99999), 10), true, 'not started yet');
  assert.equal(heartbeatAlive({ startTime: iso(0) }, at(600), 10), true);
  assert.equal(heartbeatAlive({ startTime: iso(0) }, at(601), 10), false);
  assert.equal(heartbeatAlive({ startTime: iso(0), lastHeartbeat: iso(590) }, at(1000), 10), true);
  const never = detectStuck({ status: 'running', startTime: iso(0) }, at(601), {
    workerHeartbeatMinutes: 10,
  });
  assert.equal(never?.reason, 'lost_heartbeat');
  assert.match(never?.detail ?? '', /never/);
});

test('final and pending workers are never stuck', () => {
  for (const status of ['finished', 'failed', 'cancelled', 'missed', 'pending'] as const) {
    const worker = { status, submitTime: iso(0), heldSince: iso(0), statusUnknown: true, startTime: iso(0) };
    assert.equal(detectStuck(worker, at(1e6), { workerHeartbeatMinutes: 1 }), null, status);
  }
});

test('a bad timestamp is an error naming the field', () => {
  assert.throws(
    () => detectStuck({ status: 'submitted', submitTime: 'soon' }, at(0)),
    /submitTime is not an ISO-8601 timestamp: "soon"/,
  );
});

test('lost heartbeat is judged for running workers only, in the clock of the host that read the file', () => {
  const running = { status: 'running' as const, startTime: iso(0), lastHeartbeat: iso(100) };
  assert.equal(lostHeartbeat(running, at(100 + 600), 10), null, 'exactly at the limit is alive');
  assert.match(
    lostHeartbeat(running, at(100 + 601), 10)?.detail ?? '',
    new RegExp(`last heartbeat ${iso(100)}`),
  );
  assert.equal(lostHeartbeat(running, at(1e6), 0), null, 'limit 0: the rule is off');
  for (const status of ['submitted', 'idle', 'ready', 'finished'] as const)
    assert.equal(lostHeartbeat({ ...running, status }, at(1e6), 10), null, status);
  // A fraction of a minute works (Harvester compares with timedelta(minutes=...)).
  assert.equal(lostHeartbeat({ status: 'running', startTime: iso(0) }, at(7), 0.1)?.reason, 'lost_heartbeat');
});

const unknownRunning = (extra: Partial<UnknownWorkerInput> = {}): UnknownWorkerInput => ({
  status: 'running',
  statusUnknown: true,
  lastCheckedAt: iso(0),
  kill: { requestedAt: iso(3601), attempts: 1, source: 'stuck_unknown' },
  ...extra,
});
const giveUpLimits = { checkTimeoutSeconds: 3600, sweeperIntervalSeconds: 180 };

test('an unknown worker whose kill is not confirmed within a sweeper interval is given up as cancelled, FAILEDBYSERVER', () => {
  const worker = unknownRunning();
  assert.equal(giveUpDeadline(worker, giveUpLimits), T0 + (3601 + 180) * 1000);
  assert.equal(giveUpUnknownWorker(worker, at(3601 + 179), giveUpLimits), null, 'the kill still has time');
  const verdict = giveUpUnknownWorker(worker, at(3601 + 180), giveUpLimits);
  assert.equal(verdict?.status, 'cancelled');
  assert.equal(verdict?.errorCode, FAILED_BY_SERVER_ERROR_CODE);
  assert.equal(FAILED_BY_SERVER_ERROR_CODE, 1236, "Harvester's PilotErrors.FAILEDBYSERVER");
  assert.match(verdict?.detail ?? '', /checkTimeout=3600s/);
  assert.match(verdict?.detail ?? '', /180s after the kill \(stuck_unknown\)/);
});

test('the give-up deadline counts from the later of "unknown for checkTimeout" and the kill', () => {
  // An operator's kill of a worker unknown for long still gets its sweeper interval.
  const lateKill = unknownRunning({ kill: { requestedAt: iso(9000), attempts: 1, source: 'operator' } });
  assert.equal(giveUpDeadline(lateKill, giveUpLimits), T0 + (9000 + 180) * 1000);
  // A kill asked early (operator) waits for the unknown status to last checkTimeout.
  const earlyKill = unknownRunning({ kill: { requestedAt: iso(10), attempts: 3, source: 'operator' } });
  assert.equal(giveUpDeadline(earlyKill, giveUpLimits), T0 + (3600 + 180) * 1000);
});

test('no give-up while the status is known, before any kill was sent, for final workers, or with checkTimeout 0', () => {
  const late = at(1e6);
  assert.equal(giveUpUnknownWorker(unknownRunning({ statusUnknown: false }), late, giveUpLimits), null);
  assert.equal(giveUpUnknownWorker(unknownRunning({ kill: undefined }), late, giveUpLimits), null);
  const notSent = unknownRunning({ kill: { requestedAt: iso(3601), attempts: 0, source: 'stuck_unknown' } });
  assert.equal(giveUpUnknownWorker(notSent, late, giveUpLimits), null);
  for (const status of ['finished', 'cancelled', 'pending'] as const)
    assert.equal(giveUpUnknownWorker(unknownRunning({ status }), late, giveUpLimits), null, status);
  assert.equal(
    giveUpUnknownWorker(unknownRunning(), late, { ...giveUpLimits, checkTimeoutSeconds: 0 }),
    null,
  );
});

test('a monitor silent past checkTimeout makes the status unknown from now, and its answer makes it known again', () => {
  const known = { statusUnknown: false, lastCheckedAt: iso(0) };
  assert.equal(applyMonitorSilence(known, 3600, at(5000), 3600), known, 'exactly checkTimeout: not yet');
  assert.equal(
    applyMonitorSilence(known, undefined, at(5000), 3600),
    known,
    'never succeeded: nothing known',
  );
  assert.equal(applyMonitorSilence(known, 1e6, at(5000), 0), known, 'checkTimeout 0: rule off');
  const silent = applyMonitorSilence(known, 7200, at(9000), 3600);
  // From now, not from the monitor's last success: after a harvester restart its monitor gets checkTimeout.
  assert.deepEqual(silent, { statusUnknown: true, monitorSilent: true, lastCheckedAt: iso(9000) });
  assert.equal(detectStuck({ status: 'running', ...silent }, at(9000 + 3600)), null);
  assert.equal(detectStuck({ status: 'running', ...silent }, at(9000 + 3601))?.reason, 'stuck_unknown');
  // Still silent later: unknown since the first notice.
  assert.equal(applyMonitorSilence(silent, 9000, at(10800), 3600), silent);
  // The monitor answers again: the held status stands, known as of its last success.
  assert.deepEqual(applyMonitorSilence(silent, 60, at(10800), 3600), {
    statusUnknown: false,
    monitorSilent: false,
    lastCheckedAt: iso(10740),
  });
});

test('a monitor that answers does not clear its own "cannot tell"', () => {
  const cannotTell = { statusUnknown: true, monitorSilent: false, lastCheckedAt: iso(0) };
  assert.equal(applyMonitorSilence(cannotTell, 5, at(100), 3600), cannotTell);
  assert.equal(
    applyMonitorSilence(cannotTell, 7200, at(100), 3600),
    cannotTell,
    'already unknown: since before',
  );
});
