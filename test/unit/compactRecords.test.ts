/**
 * The compact form of a submitter cycle's worker specs and outcomes (src/core/compactRecords.ts):
 * what the queue workflow's history holds per new worker on an edge queue.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { compactRecords, expandRecords, idRanges, idsOfRanges } from '../../src/core/compactRecords';
import { recordedSubmission } from '../../src/core/submissionRecord';
import { packInChunks, unpack } from '../../src/util/packed';

const spec = (workerID: number, extra: Record<string, unknown> = {}) => ({
  workerID,
  computingSite: 'Q',
  nCore: 8,
  status: 'pending',
  accessPoint: `/data/${workerID}`,
  resources: { mem: 2000 },
  ...extra,
});

test('shared fields are kept once; each record keeps what differs, and expands back to the same records', () => {
  const list = [spec(1), spec(2, { pandaIDs: [5] }), spec(3, { nCore: 16 })];
  const c = compactRecords(list);
  assert.deepEqual(c.common, { computingSite: 'Q', status: 'pending', resources: { mem: 2000 } });
  assert.deepEqual(c.each[1], { workerID: 2, nCore: 8, accessPoint: '/data/2', pandaIDs: [5] });
  assert.deepEqual(expandRecords(c, 'test'), list);
});

test('a field absent from one record is not common; undefined values are dropped', () => {
  const list = [{ a: 1, b: 2, u: undefined }, { a: 1 }];
  const c = compactRecords(list);
  assert.deepEqual(c.common, { a: 1 });
  assert.deepEqual(expandRecords(c, 'test'), [{ a: 1, b: 2 }, { a: 1 }]);
});

test('one record or none: nothing is common', () => {
  assert.deepEqual(compactRecords([]), { common: {}, each: [] });
  assert.deepEqual(compactRecords([spec(1)]).common, {});
  assert.deepEqual(expandRecords(compactRecords([spec(1)]), 't'), [spec(1)]);
});

test('expanded records do not share the common objects', () => {
  const [a, b] = expandRecords(compactRecords([spec(1), spec(2)]), 't');
  a.resources.mem = 1;
  assert.equal(b.resources.mem, 2000);
});

test('the compact form is far smaller than the list for similar records', () => {
  const list = Array.from({ length: 1000 }, (_, i) =>
    spec(1000 + i, { creationTime: '2026-12-07T00:00:00.000Z' }),
  );
  const full = JSON.stringify(list).length;
  const compact = JSON.stringify(compactRecords(list)).length;
  assert.ok(compact < full / 3, `${compact} vs ${full} characters`);
});

test('a malformed compact value is refused with what it is', () => {
  assert.throws(() => expandRecords({ common: {} } as never, 'submission of Q'), /submission of Q: expected/);
});

test('ids pass as ranges and come back in order', () => {
  assert.deepEqual(idRanges([3, 4, 5, 9, 10, 12]), [
    [3, 5],
    [9, 10],
    [12, 12],
  ]);
  assert.deepEqual(idsOfRanges(idRanges([3, 4, 5, 9, 10, 12]), 't'), [3, 4, 5, 9, 10, 12]);
  assert.deepEqual(idRanges([]), []);
  assert.deepEqual(idRanges(Array.from({ length: 1000 }, (_, i) => 77 + i)), [[77, 1076]]);
  assert.throws(() => idsOfRanges([[5, 3]], 'ids of Q'), /ids of Q: expected \[first, last\]/);
  assert.throws(() => idRanges([1.5]), /not an integer id/);
});

test('a recorded submission: the batch id on record, a missed row, or nothing for a pending one', () => {
  const base = {
    workerID: 7,
    computingSite: 'Q',
    harvesterID: 'h',
    configID: 'c',
    mapType: 'NoJob' as const,
  };
  const w = (extra: Record<string, unknown>) =>
    ({ ...base, resourceType: 'SCORE', jobType: 'managed', nCore: 1, creationTime: 'x', ...extra }) as never;
  assert.equal(recordedSubmission(w({ status: 'pending' })), undefined);
  assert.deepEqual(
    recordedSubmission(w({ status: 'running', batchID: '12', submitTime: 't', submissionHost: 'h1' })),
    {
      workerID: 7,
      outcome: 'success',
      diag: '',
      batchID: '12',
      submissionHost: 'h1',
      computingElement: undefined,
      queueName: undefined,
      submittedAt: 't',
    },
  );
  assert.deepEqual(recordedSubmission(w({ status: 'missed', diagMessage: 'sbatch: error' })), {
    workerID: 7,
    outcome: 'failure',
    diag: 'sbatch: error',
  });
});

test('a list packs into chunks under the bound; one item over it is named', () => {
  const items = Array.from({ length: 200 }, (_, i) => ({ id: i, blob: randomBytes(300).toString('hex') }));
  const chunks = packInChunks(
    items,
    (s) => s,
    (it) => `item ${it.id}`,
    40_000,
  );
  assert.ok(chunks.length > 1, `${chunks.length} chunks`);
  for (const c of chunks) assert.ok(c.gzipBase64.length <= 40_000);
  assert.deepEqual(
    chunks.flatMap((c) => unpack(c, 't')),
    items,
  );
  assert.deepEqual(
    packInChunks(
      [],
      (s) => s,
      () => '',
    ),
    [],
  );
  assert.throws(
    () =>
      packInChunks(
        items,
        (s) => s,
        (it) => `worker ${it.id}`,
        300,
      ),
    /worker 0 packs to \d+ bytes, over the 300-byte bound/,
  );
});
