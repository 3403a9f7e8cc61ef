import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { KeyedBatcher } from '../../src/util/keyedBatcher';

// The batcher's windows are timers: a mocked clock moves them exactly, so a loaded machine whose
// event loop stalls for 100 ms cannot turn "a gap shorter than idleMs" into a longer one.
beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('a burst with short gaps is one call; at most maxItems per call', async () => {
  const calls: number[][] = [];
  const b = new KeyedBatcher<number, number>({
    maxItems: 100,
    windowMs: 2000,
    idleMs: 100,
    flush: async (_k, items) => {
      calls.push(items);
      return items.map((i) => i * 2);
    },
  });
  const results: Promise<number>[] = [];
  for (let i = 0; i < 150; i++) {
    results.push(b.add('Q', i));
    if (i % 10 === 0) mock.timers.tick(99); // spread over ~1.5 s, never idle for 100 ms
  }
  assert.deepEqual(
    calls.map((c) => c.length),
    [100],
    'the first 100 went out at maxItems, the rest wait',
  );
  mock.timers.tick(100);
  assert.deepEqual(
    await Promise.all(results),
    Array.from({ length: 150 }, (_, i) => i * 2),
  );
  assert.deepEqual(
    calls.map((c) => c.length),
    [100, 50],
  );
});

test('a lone item is flushed after the idle gap, not the whole window; keys are batched apart', async () => {
  const calls: string[] = [];
  const b = new KeyedBatcher<number, number>({
    maxItems: 100,
    windowMs: 5000,
    idleMs: 50,
    flush: async (k, items) => {
      calls.push(`${k}:${items.length}`);
      return items;
    },
  });
  const done = Promise.all([b.add('A', 1), b.add('B', 2), b.add('A', 3)]);
  mock.timers.tick(49);
  assert.deepEqual(calls, [], 'nothing before the idle gap');
  mock.timers.tick(1);
  assert.deepEqual(calls.sort(), ['A:2', 'B:1'], 'flushed at the idle gap, long before the 5 s window');
  assert.deepEqual(await done, [1, 2, 3]);
});

test('a failed bulk call fails every caller of that batch', async () => {
  const b = new KeyedBatcher<number, number>({
    maxItems: 10,
    windowMs: 100,
    flush: async () => {
      throw new Error('PanDA down');
    },
  });
  const both = Promise.all([b.add('Q', 1), b.add('Q', 2)]);
  mock.timers.tick(25); // the default idle gap, a quarter of the window
  await assert.rejects(both, /PanDA down/);
});

test('a batch grown to a burst waits for its own longer window and quiet gap; small batches keep the short ones', async () => {
  const calls: number[] = [];
  const b = new KeyedBatcher<number, number>({
    maxItems: 1000,
    windowMs: 1000,
    idleMs: 300,
    burst: { afterItems: 10, windowMs: 5000, idleMs: 1000 },
    flush: async (_k, items) => {
      calls.push(items.length);
      return items;
    },
  });
  // A small group: out at the short quiet gap.
  const small = Promise.all([b.add('Q', 1), b.add('Q', 2)]);
  mock.timers.tick(300);
  assert.deepEqual(calls, [2]);
  await small;

  // A burst trickling in with gaps of 600 ms (longer than the short gap, shorter than the burst's).
  const burst: Promise<number>[] = [];
  for (let i = 0; i < 10; i++) burst.push(b.add('Q', i)); // ten at once: a burst
  for (let t = 0; t < 3000; t += 600) {
    mock.timers.tick(600);
    burst.push(b.add('Q', 100 + t));
  }
  assert.deepEqual(calls, [2], 'the burst is still gathering past the short window and gap');
  mock.timers.tick(1000);
  assert.deepEqual(calls, [2, 15], 'out after the burst quiet gap, in one call');
  await Promise.all(burst);

  // A burst that never goes quiet: out at the burst window, 5 s after its first item.
  const steady: Promise<number>[] = [];
  for (let i = 0; i < 10; i++) steady.push(b.add('Q', i));
  for (let t = 500; t < 5000; t += 500) {
    mock.timers.tick(500);
    steady.push(b.add('Q', t));
  }
  assert.deepEqual(calls, [2, 15], 'not yet at 4.5 s');
  mock.timers.tick(500);
  assert.deepEqual(calls, [2, 15, 19]);
  await Promise.all(steady);
});
