/**
 * The setLimits update's validator (validateLimitOverrides in src/workflows/queue.ts): a malformed
 * value is refused before it reaches the workflow's history, with a message naming the field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateLimitOverrides } from '../../src/workflows/queue';

test('valid overrides pass: any subset of the three limits, 0 meaning "no limit"', () => {
  for (const o of [
    { maxWorkers: 10 },
    { nQueueLimitWorker: 0 },
    { maxNewWorkersPerCycle: 5, maxWorkers: 1_000_000 },
    { maxWorkers: 3, nQueueLimitWorker: 2, maxNewWorkersPerCycle: 1 },
  ]) {
    assert.doesNotThrow(() => validateLimitOverrides(o), JSON.stringify(o));
  }
});

test("null is accepted: it drops the override, so the config's value applies again", () => {
  assert.doesNotThrow(() => validateLimitOverrides({ maxWorkers: null }));
  assert.doesNotThrow(() => validateLimitOverrides({ maxWorkers: 5, nQueueLimitWorker: null }));
});

test('a bad value is refused with a message naming the field and the value', () => {
  const cases: [unknown, RegExp][] = [
    [{ maxWorkers: -1 }, /field "maxWorkers" must be an integer from 0 to 1000000.*got -1/],
    [{ nQueueLimitWorker: 2.5 }, /field "nQueueLimitWorker" .*got 2\.5/],
    [{ maxNewWorkersPerCycle: '5' }, /field "maxNewWorkersPerCycle" .*got "5"/],
    [{ maxWorkers: true }, /field "maxWorkers" .*or null \(back to the config's value\), got true/],
    [{ maxWorkers: 1_000_001 }, /field "maxWorkers" .*got 1000001/],
    [{ maxWorkers: Number.NaN }, /field "maxWorkers"/],
    [{ maxWorkers: 5, nQueueLimitWorker: -3 }, /field "nQueueLimitWorker"/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => validateLimitOverrides(input), message, JSON.stringify(input));
  }
});

test('an unknown field (a typo) is refused and the known ones are listed', () => {
  assert.throws(
    () => validateLimitOverrides({ maxWorker: 5 }),
    /unknown field "maxWorker"; expected one of maxWorkers, nQueueLimitWorker, maxNewWorkersPerCycle/,
  );
  // A typo next to a valid field must not let the valid half through silently.
  assert.throws(() => validateLimitOverrides({ maxWorkers: 5, nqueuelimitworker: 2 }), /"nqueuelimitworker"/);
});

test('not an object, or an empty one, is refused', () => {
  for (const input of [undefined, null, 5, 'maxWorkers=5', [{ maxWorkers: 5 }]]) {
    assert.throws(
      () => validateLimitOverrides(input),
      /setLimits: expected an object with any of maxWorkers/,
      String(input),
    );
  }
  assert.throws(() => validateLimitOverrides({}), /setLimits: give at least one of/);
});
