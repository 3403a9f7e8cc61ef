import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import {
  DummyMonitor,
  DummyPreparator,
  DummyStager,
  DummySubmitter,
  DummySweeper,
} from '../../src/plugins/dummy';
import { JOB_FILE, STATUS_FILE } from '../../src/plugins/dummy/job';
import { spreadSeconds } from '../../src/plugins/dummy/submitter';
import type { PluginContext, PluginParams } from '../../src/plugins/types';
import { ManualClock, makeJob, makeWorker, placeholder } from './support/workers';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'dummy-plugins-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const params = (extra: Record<string, unknown> = {}): PluginParams => ({
  module: 'dummy',
  name: 'x',
  ...extra,
});

function setup(extra: { submitter?: Record<string, unknown>; monitor?: Record<string, unknown> } = {}) {
  const clock = new ManualClock('2026-05-01T12:00:00.000Z');
  const ctx: PluginContext = { harvesterID: 'h1', queueName: 'TEST_PQ', now: clock.now };
  return {
    clock,
    submitter: new DummySubmitter(params(extra.submitter), ctx),
    monitor: new DummyMonitor(params(extra.monitor), ctx),
    sweeper: new DummySweeper(params(), ctx),
  };
}

let nextID = 100;
function worker(overrides: Partial<WorkSpec> = {}): WorkSpec {
  const workerID = nextID++;
  return makeWorker({ workerID, accessPoint: path.join(root, placeholder('workerID')), ...overrides });
}

const statusOf = async (w: WorkSpec): Promise<string> =>
  (await fs.readFile(path.join(root, String(w.workerID), STATUS_FILE), 'utf8')).trim();

test('submit creates the access point, writes submitted and gives a batch id', async () => {
  const { submitter, monitor } = setup();
  const w = worker();
  const [result] = await submitter.submitWorkers([w]);
  assert.equal(result.outcome, 'success');
  assert.match(result.batchID ?? '', /^[0-9a-f]{32}$/);
  assert.equal(await statusOf(w), 'submitted');
  const reply = await monitor.checkWorkers([{ ...w, batchID: result.batchID }]);
  assert.equal(reply.ok, true);
  assert.equal(reply.results[0].status, 'submitted');
});

test('the monitor reports what status.txt says, and submitted when the file is missing', async () => {
  const { submitter, monitor } = setup();
  const a = worker();
  const b = worker();
  const c = worker();
  await submitter.submitWorkers([a, b]);
  await fs.writeFile(path.join(root, String(a.workerID), STATUS_FILE), 'running\n');
  await fs.writeFile(path.join(root, String(b.workerID), STATUS_FILE), 'failed');
  const reply = await monitor.checkWorkers([a, b, c]);
  assert.deepEqual(
    reply.results.map((r) => r.status),
    ['running', 'failed', 'submitted'],
  );
  assert.equal(reply.results[1].nativeExitCode, 1);
  assert.match(reply.results[2].diag, /status\.txt not found/);
});

test('garbage in status.txt is an unknown status, not a crash', async () => {
  const { submitter, monitor } = setup();
  const w = worker();
  await submitter.submitWorkers([w]);
  await fs.writeFile(path.join(root, String(w.workerID), STATUS_FILE), 'exploded');
  const [result] = (await monitor.checkWorkers([w])).results;
  assert.equal(result.status, null);
  assert.match(result.diag, /"exploded", which is not a worker status/);
});

test('submitting again finds the existing job instead of making a second one', async () => {
  const { submitter, monitor, clock } = setup({ submitter: { runAfterSeconds: 10 } });
  const w = worker();
  const [first] = await submitter.submitWorkers([w]);
  await fs.writeFile(path.join(root, String(w.workerID), STATUS_FILE), 'running');
  clock.advanceSeconds(5);
  const found = await submitter.findSubmittedWorkers([w, worker()]);
  assert.deepEqual([...found.keys()], [w.workerID]);
  assert.equal(found.get(w.workerID)?.batchID, first.batchID);
  const [second] = await submitter.submitWorkers([w]);
  assert.equal(second.outcome, 'success');
  assert.equal(second.batchID, first.batchID);
  assert.equal(await statusOf(w), 'running', 'a repeated submit does not reset the job');
  const record = JSON.parse(await fs.readFile(path.join(root, String(w.workerID), JOB_FILE), 'utf8'));
  assert.equal(record.submittedAt, '2026-05-01T12:00:00.000Z', 'original submission time kept');
  assert.equal((await monitor.checkWorkers([w])).results[0].status, 'running');
});

test('failSubmitWorkerIDs and submitOutcome control the submission result', async () => {
  const a = worker();
  const b = worker();
  const { submitter } = setup({ submitter: { failSubmitWorkerIDs: [a.workerID] } });
  const results = await submitter.submitWorkers([a, b]);
  assert.deepEqual(
    results.map((r) => r.outcome),
    ['permanentFailure', 'success'],
  );
  assert.match(results[0].diag, new RegExp(`worker ${a.workerID} is listed in failSubmitWorkerIDs`));
  await assert.rejects(fs.stat(path.join(root, String(a.workerID), JOB_FILE)), { code: 'ENOENT' });

  const { submitter: flaky } = setup({ submitter: { submitOutcome: 'temporaryFailure' } });
  const [r] = await flaky.submitWorkers([worker()]);
  assert.equal(r.outcome, 'temporaryFailure');
  assert.equal(r.batchID, undefined);
  assert.throws(
    () => setup({ submitter: { submitOutcome: 'maybe' } }),
    /submitOutcome" must be one of success/,
  );
});

test('a worker without an access point fails permanently with a message saying where to set it', async () => {
  const { submitter } = setup();
  const [r] = await submitter.submitWorkers([makeWorker({ workerID: 9 })]);
  assert.equal(r.outcome, 'permanentFailure');
  assert.match(r.diag, /worker 9 has no accessPoint; set "accessPoint" in the queue's messenger section/);
});

test('automatic progression: submitted → running → finished by the clock, with start and end times', async () => {
  const { submitter, monitor, clock } = setup({ submitter: { runAfterSeconds: 30, finishAfterSeconds: 90 } });
  const w = worker();
  await submitter.submitWorkers([w]);
  const check = async () => (await monitor.checkWorkers([w])).results[0];
  clock.advanceSeconds(29);
  assert.equal((await check()).status, 'submitted');
  clock.advanceSeconds(1);
  const running = await check();
  assert.equal(running.status, 'running');
  assert.equal(running.startTime, '2026-05-01T12:00:30.000Z');
  clock.advanceSeconds(60);
  const finished = await check();
  assert.equal(finished.status, 'finished');
  assert.equal(finished.startTime, '2026-05-01T12:00:30.000Z');
  assert.equal(finished.endTime, '2026-05-01T12:01:30.000Z');
  assert.equal(finished.nativeExitCode, 0);
});

test('failRunWorkerIDs and finalStatus choose how an automatic job ends', async () => {
  const a = worker();
  const b = worker();
  const { submitter, monitor, clock } = setup({
    submitter: { finishAfterSeconds: 10, failRunWorkerIDs: [b.workerID] },
  });
  await submitter.submitWorkers([a, b]);
  clock.advanceSeconds(10);
  assert.deepEqual(
    (await monitor.checkWorkers([a, b])).results.map((r) => r.status),
    ['finished', 'failed'],
  );
  assert.throws(
    () => setup({ submitter: { finalStatus: 'running' } }),
    /finalStatus" must be one of finished/,
  );
});

test('kill writes cancelled, and the progression does not override it', async () => {
  const { submitter, monitor, sweeper, clock } = setup({
    submitter: { runAfterSeconds: 5, finishAfterSeconds: 50 },
  });
  const w = worker();
  await submitter.submitWorkers([w]);
  clock.advanceSeconds(10);
  const [killed] = await sweeper.killWorkers([w]);
  assert.equal(killed.outcome, 'success');
  assert.equal(await statusOf(w), 'cancelled');
  clock.advanceSeconds(100);
  assert.equal((await monitor.checkWorkers([w])).results[0].status, 'cancelled');
});

test('killing a job that already ended leaves its final status', async () => {
  const { submitter, monitor, sweeper, clock } = setup({ submitter: { finishAfterSeconds: 5 } });
  const w = worker();
  await submitter.submitWorkers([w]);
  clock.advanceSeconds(6);
  const [r] = await sweeper.killWorkers([w]);
  assert.equal(r.outcome, 'success');
  assert.match(r.diag, /already finished/);
  assert.equal((await monitor.checkWorkers([w])).results[0].status, 'finished');
});

test('killing a worker whose access point is gone succeeds (kills are repeated)', async () => {
  const { sweeper } = setup();
  const [r] = await sweeper.killWorkers([worker()]);
  assert.equal(r.outcome, 'success');
  assert.match(r.diag, /nothing to kill/);
});

test('sweepWorker removes the access point directory, and again is fine', async () => {
  const { submitter, sweeper } = setup();
  const w = worker();
  await submitter.submitWorkers([w]);
  const dir = path.join(root, String(w.workerID));
  await fs.writeFile(path.join(dir, 'payload.log'), 'x');
  assert.equal((await sweeper.sweepWorker(w)).outcome, 'success');
  await assert.rejects(fs.stat(dir), { code: 'ENOENT' });
  assert.equal((await sweeper.sweepWorker(w)).outcome, 'success');
});

test('monitor test switches: a failed bulk query, and workers whose status cannot be told', async () => {
  const w = worker();
  const { monitor: broken } = setup({ monitor: { failCheck: true } });
  const reply = await broken.checkWorkers([w]);
  assert.equal(reply.ok, false);
  assert.match(reply.diag, /failCheck/);
  const { submitter, monitor } = setup({ monitor: { unknownWorkerIDs: [w.workerID] } });
  const other = worker();
  await submitter.submitWorkers([w, other]);
  assert.deepEqual(
    (await monitor.checkWorkers([w, other])).results.map((r) => r.status),
    [null, 'submitted'],
  );
});

test('failCheckFile: the bulk query fails while the file exists and answers again once it is gone', async () => {
  const switchFile = path.join(root, 'batch-system-down');
  const { submitter, monitor } = setup({ monitor: { failCheckFile: switchFile } });
  const w = worker();
  await submitter.submitWorkers([w]);
  assert.deepEqual(
    (await monitor.checkWorkers([w])).results.map((r) => r.status),
    ['submitted'],
    'no file: the query answers',
  );
  await fs.writeFile(switchFile, '');
  const down = await monitor.checkWorkers([w]);
  assert.equal(down.ok, false);
  assert.deepEqual(down.results, [], 'a failed query reports no statuses at all, not zero workers');
  assert.match(down.diag, /failCheckFile .*batch-system-down exists/);
  await fs.rm(switchFile);
  const up = await monitor.checkWorkers([w]);
  assert.equal(up.ok, true);
  assert.deepEqual(
    up.results.map((r) => r.status),
    ['submitted'],
  );
});

test('failCheckFile must be a string path', () => {
  const ctx: PluginContext = { harvesterID: 'h1', queueName: 'TEST_PQ' };
  assert.throws(() => new DummyMonitor(params({ failCheckFile: 42 }), ctx), /failCheckFile/);
});

test('access point templates with sharding placeholders are resolved', async () => {
  const { submitter } = setup();
  const w = makeWorker({
    workerID: 12345,
    accessPoint: path.join(
      root,
      placeholder('harvesterID'),
      placeholder('_workerID_3.2'),
      placeholder('workerID'),
    ),
  });
  await submitter.submitWorkers([w]);
  const status = await fs.readFile(path.join(root, 'test-harvester', '23', '12345', STATUS_FILE), 'utf8');
  assert.equal(status.trim(), 'submitted');
});

test('dummy preparator and stager always succeed; staged files end finished', async () => {
  const job = makeJob();
  assert.equal((await new DummyPreparator().triggerPreparation(job)).outcome, 'success');
  assert.equal((await new DummyPreparator().checkStageInStatus(job)).outcome, 'success');
  const out = await new DummyStager().checkStageOutStatus(job, [
    { PandaID: job.PandaID, lfn: 'out.root', fileType: 'output', status: 'transferring' },
  ]);
  assert.equal(out.outcome, 'success');
  assert.deepEqual(
    out.files.map((f) => f.status),
    ['finished'],
  );
});

test('runAfterSecondsMax / finishAfterSecondsMax spread the jobs over a span, the same for a worker on every submit', async () => {
  const { submitter } = setup({
    submitter: {
      runAfterSeconds: 60,
      runAfterSecondsMax: 600,
      finishAfterSeconds: 1200,
      finishAfterSecondsMax: 7200,
    },
  });
  const workers = Array.from({ length: 400 }, () => worker());
  await submitter.submitWorkers(workers);
  const records = await Promise.all(
    workers.map(async (w) =>
      JSON.parse(await fs.readFile(path.join(root, String(w.workerID), JOB_FILE), 'utf8')),
    ),
  );
  const runs = records.map((r) => r.runAfterSeconds as number);
  const ends = records.map((r) => r.finishAfterSeconds as number);
  assert.ok(
    runs.every((x) => x >= 60 && x <= 600),
    'every start within its span',
  );
  assert.ok(
    ends.every((x) => x >= 1200 && x <= 7200),
    'every end within its span',
  );
  // Spread, not clustered: each quarter of the span holds a fair share of 400 workers.
  for (const [xs, lo, hi] of [
    [runs, 60, 600],
    [ends, 1200, 7200],
  ] as const) {
    for (let q = 0; q < 4; q++) {
      const from = lo + ((hi - lo) * q) / 4;
      const n = xs.filter((x) => x >= from && x < from + (hi - lo) / 4).length;
      assert.ok(n > 60 && n < 140, `quarter ${q} of ${lo}-${hi} s holds ${n} of 400`);
    }
  }
  assert.deepEqual(
    workers.slice(0, 5).map((w) => spreadSeconds(1200, 7200, w.workerID, 2)),
    ends.slice(0, 5),
    'drawn from the worker id alone',
  );
});

test('a spread needs its lower end and must not end below it', () => {
  const ctx: PluginContext = { harvesterID: 'h1', queueName: 'TEST_PQ' };
  assert.throws(
    () => new DummySubmitter(params({ finishAfterSecondsMax: 60 }), ctx),
    /"finishAfterSecondsMax" must be set together with finishAfterSeconds, got 60/,
  );
  assert.throws(
    () => new DummySubmitter(params({ runAfterSeconds: 60, runAfterSecondsMax: 30 }), ctx),
    /"runAfterSecondsMax" must be a number >= runAfterSeconds \(60\), got 30/,
  );
  assert.equal(spreadSeconds(90, undefined, 7, 1), 90);
});
