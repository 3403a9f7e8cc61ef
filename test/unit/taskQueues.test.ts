import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlTaskQueueFor, controlTaskQueueOf } from '../../src/core/taskQueues';

test("a queue or instance workflow belongs on the control queue its input names, or else on its main queue's", () => {
  // Started since the control queue exists: the input says where.
  assert.equal(controlTaskQueueFor({ controlTaskQueue: 'tq-control' }, 'tq'), 'tq-control');
  assert.equal(controlTaskQueueFor({ controlTaskQueue: 'tq-control' }, 'tq-control'), 'tq-control');
  // Started before, on the main queue: moves to that queue's control queue.
  assert.equal(controlTaskQueueFor({}, 'harvester-central'), controlTaskQueueOf('harvester-central'));
  // Started on a control queue without the field: stays (not tq-control-control, which nobody polls).
  assert.equal(controlTaskQueueFor({}, 'tq-control'), 'tq-control');
});
