import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedBatcher } from '../../src/util/keyedBatcher';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    if (i % 10 === 0) await sleep(20); // spread over ~300 ms, never idle for 100 ms
  }
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
  const t0 = Date.now();
  await Promise.all([b.add('A', 1), b.add('B', 2), b.add('A', 3)]);
  assert.ok(Date.now() - t0 < 1000);
  assert.deepEqual(calls.sort(), ['A:2', 'B:1']);
});

test('a failed bulk call fails every caller of that batch', async () => {
  const b = new KeyedBatcher<number, number>({
    maxItems: 10,
    windowMs: 100,
    flush: async () => {
      throw new Error('PanDA down');
    },
  });
  await assert.rejects(Promise.all([b.add('Q', 1), b.add('Q', 2)]), /PanDA down/);
});
