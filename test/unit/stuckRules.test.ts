import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detectStuck, heartbeatAlive, KILL_REASONS, STUCK_DEFAULTS } from '../../src/core/stuckRules';

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
