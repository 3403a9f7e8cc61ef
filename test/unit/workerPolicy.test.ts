/**
 * The worker policy derived from a queue config (src/core/workerPolicy.ts): the limits and timers a
 * worker lifecycle runs by.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_SAFETY_CHECK_SECONDS,
  safetyCheckSecondsFor,
  workerHeartbeatMinutes,
} from '../../src/core/workerPolicy';

const messenger = (extra: Record<string, unknown>) => ({
  module: 'pandaharvester.harvestermessenger.shared_file_messenger',
  name: 'SharedFileMessenger',
  ...extra,
});

test('the safety check runs every checkTimeout, at most an hour apart', () => {
  assert.equal(safetyCheckSecondsFor(3600), 3600);
  assert.equal(safetyCheckSecondsFor(5), 5);
  assert.equal(safetyCheckSecondsFor(7 * 3600), DEFAULT_SAFETY_CHECK_SECONDS);
  assert.equal(safetyCheckSecondsFor(0), DEFAULT_SAFETY_CHECK_SECONDS, 'rule off: the hourly default');
});

test("worker_heartbeat in the messenger section is the lost-heartbeat limit; Harvester's default is off", () => {
  assert.equal(workerHeartbeatMinutes(undefined), 0);
  assert.equal(workerHeartbeatMinutes(messenger({})), 0);
  assert.equal(workerHeartbeatMinutes(messenger({ worker_heartbeat: 60 })), 60);
  assert.equal(workerHeartbeatMinutes(messenger({ worker_heartbeat: '30' })), 30, 'a number in a string');
  assert.equal(workerHeartbeatMinutes(messenger({ worker_heartbeat: 0.5 })), 0.5);
  for (const bad of ['soon', -5, null, Number.NaN])
    assert.equal(workerHeartbeatMinutes(messenger({ worker_heartbeat: bad })), 0, String(bad));
});
