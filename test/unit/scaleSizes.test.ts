/**
 * The scale bench's sizes (bench/scale.bench.ts): the full size is the instance issue 14 asks for,
 * and a mistyped override is refused with the variable named.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseQueueSpec, scaleSizeFromEnv } from '../../bench/scale.bench';

test('the full size: 50,000 workers over 50 queues, the largest 20,000, edge queues, one queue bulk-killed', () => {
  const full = scaleSizeFromEnv({ HARVESTER_BENCH_SCALE: 'full' });
  const sizes = full.queues.map((q) => q.size);
  assert.equal(full.queues.length, 50);
  assert.equal(
    sizes.reduce((a, b) => a + b, 0),
    50_000,
  );
  assert.equal(Math.max(...sizes), 20_000);
  assert.deepEqual(
    full.queues.filter((q) => q.edge).map((q) => q.size),
    [5000, 1000],
  );
  assert.deepEqual(
    full.queues.filter((q) => q.bulkKill).map((q) => q.size),
    [5000],
  );
  assert.equal(full.monitorSeconds, 60);
  assert.equal(full.heartbeatSeconds, 1800);
  assert.ok(full.holdSeconds >= 900, 'at least 15 minutes of steady state');
  assert.equal(new Set(full.queues.map((q) => q.name)).size, 50, 'queue names are unique');
});

test('overrides: sizes, spans and numbers from the environment', () => {
  const s = scaleSizeFromEnv({
    HARVESTER_BENCH_SCALE: 'smoke',
    HARVESTER_BENCH_SCALE_QUEUES: '2x300e,100k',
    HARVESTER_BENCH_SCALE_FINISH_AFTER: '600-1200',
    HARVESTER_BENCH_SCALE_HOLD_SECONDS: '60',
  });
  assert.deepEqual(
    s.queues.map((q) => [q.name, q.size, q.edge, q.bulkKill]),
    [
      ['SCALE_Q01_300_EDGE', 300, true, false],
      ['SCALE_Q02_300_EDGE', 300, true, false],
      ['SCALE_Q03_100', 100, false, true],
    ],
  );
  assert.deepEqual(s.finishAfter, [600, 1200]);
  assert.equal(s.holdSeconds, 60);
});

test('a malformed override names the variable and what it expects', () => {
  assert.throws(
    () => parseQueueSpec('20000,abc'),
    /HARVESTER_BENCH_SCALE_QUEUES: "abc" is not <size>\[e\]\[k\] or <n>x<size>/,
  );
  assert.throws(() => parseQueueSpec('10k,20k'), /at most one queue marked k/);
  assert.throws(
    () => scaleSizeFromEnv({ HARVESTER_BENCH_SCALE_FINISH_AFTER: '900-60' }),
    /HARVESTER_BENCH_SCALE_FINISH_AFTER=900-60: expected <min>-<max> seconds/,
  );
  assert.throws(
    () => scaleSizeFromEnv({ HARVESTER_BENCH_SCALE: 'huge' }),
    /expected one of smoke, medium, full/,
  );
  assert.throws(
    () => scaleSizeFromEnv({ HARVESTER_BENCH_SCALE_HOLD_SECONDS: '0' }),
    /HARVESTER_BENCH_SCALE_HOLD_SECONDS=0: expected a whole number >= 1/,
  );
});
