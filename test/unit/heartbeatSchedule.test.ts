import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  HEARTBEAT_TICKS_PER_INTERVAL,
  heartbeatOffsetMs,
  nextHeartbeatAt,
} from '../../src/core/heartbeatSchedule';

const PERIOD = 1800;

test('consecutive heartbeats of a worker are exactly one period apart, the first within 0.5-1.5 periods', () => {
  const start = Date.parse('2026-11-26T10:00:07Z');
  const first = nextHeartbeatAt({ fromMs: start, intervalSeconds: PERIOD, workerID: 42, queueName: 'Q' });
  assert.ok(
    first >= start + PERIOD * 500 && first <= start + PERIOD * 1500,
    `first beat ${(first - start) / 1000} s after start`,
  );
  const second = nextHeartbeatAt({ fromMs: first, intervalSeconds: PERIOD, workerID: 42, queueName: 'Q' });
  const third = nextHeartbeatAt({
    fromMs: second + 1234,
    intervalSeconds: PERIOD,
    workerID: 42,
    queueName: 'Q',
  });
  assert.equal(second - first, PERIOD * 1000);
  assert.equal(third - second, PERIOD * 1000, 'a late wake-up does not shift the slot');
});

test('1,000 workers of a queue fall into 10 ticks of 100: ten bulk calls of ≤ 100 per period', () => {
  const start = Date.parse('2026-11-26T10:00:00Z');
  const perTick = new Map<number, number>();
  for (let id = 1; id <= 1000; id++) {
    // Workers start at different moments; their slot does not depend on it.
    const from = start + ((id * 7919) % (PERIOD * 1000));
    let t = nextHeartbeatAt({ fromMs: from, intervalSeconds: PERIOD, workerID: id, queueName: 'Q' });
    t = nextHeartbeatAt({ fromMs: t, intervalSeconds: PERIOD, workerID: id, queueName: 'Q' });
    const slot = t % (PERIOD * 1000);
    perTick.set(slot, (perTick.get(slot) ?? 0) + 1);
  }
  assert.equal(perTick.size, HEARTBEAT_TICKS_PER_INTERVAL);
  assert.deepEqual([...perTick.values()], Array(10).fill(100));
});

test('queues get different phases, so two queues do not wake at the same instant', () => {
  assert.notEqual(heartbeatOffsetMs(PERIOD, 1, 'CERN-PROD'), heartbeatOffsetMs(PERIOD, 1, 'BNL-PROD'));
});
