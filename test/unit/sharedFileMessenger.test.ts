import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import { PAYLOAD_FILES, SharedFileMessenger } from '../../src/plugins/common/sharedFileMessenger';
import type { PluginContext } from '../../src/plugins/types';
import { ManualClock, makeJob, makeWorker, placeholder } from './support/workers';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'shared-file-messenger-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

let nextID = 500;
function setup(extra: Record<string, unknown> = {}, workerOverrides: Partial<WorkSpec> = {}) {
  const clock = new ManualClock('2026-06-01T00:00:00.000Z');
  const ctx: PluginContext = { harvesterID: 'h1', queueName: 'TEST_PQ', now: clock.now };
  const messenger = new SharedFileMessenger(
    {
      module: 'shared_file_messenger',
      name: 'SharedFileMessenger',
      accessPoint: path.join(root, placeholder('workerID')),
      ...extra,
    },
    ctx,
  );
  const worker = makeWorker({ workerID: nextID++, mapType: 'OneToOne', ...workerOverrides });
  const dir = path.join(root, String(worker.workerID));
  return { clock, messenger, worker, dir };
}

test('feedJobs writes HPCJobs.json as {PandaID: jobParams}, the PandaID list, and drops the job request', async () => {
  const { messenger, worker, dir } = setup();
  await messenger.setupAccessPoints([worker]);
  await fs.writeFile(path.join(dir, PAYLOAD_FILES.jobRequestFile), JSON.stringify({ nJobs: 1 }));
  const job = makeJob({
    PandaID: 4242,
    jobParams: { PandaID: 4242, transformation: 'run.sh', coreCount: 8 },
  });
  assert.equal(await messenger.feedJobs(worker, [job]), true);
  const spec = JSON.parse(await fs.readFile(path.join(dir, 'HPCJobs.json'), 'utf8'));
  assert.deepEqual(spec, { '4242': { PandaID: 4242, transformation: 'run.sh', coreCount: 8 } });
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, 'worker_pandaids.json'), 'utf8')), [4242]);
  await assert.rejects(fs.stat(path.join(dir, PAYLOAD_FILES.jobRequestFile)), { code: 'ENOENT' });
  assert.deepEqual(await messenger.getPandaIDs(worker), [4242]);
});

test('the cgi format writes pandaJobData.out URL-encoded, as the grid pilot reads it', async () => {
  const { messenger, worker, dir } = setup({ jobSpecFileFormat: 'cgi' });
  await messenger.setupAccessPoints([worker]);
  await messenger.feedJobs(worker, [makeJob({ PandaID: 7, jobParams: { PandaID: 7, jobPars: 'a b&c' } })]);
  const text = await fs.readFile(path.join(dir, 'pandaJobData.out'), 'utf8');
  assert.equal(text, 'PandaID=7&jobPars=a+b%26c');
  assert.throws(() => setup({ jobSpecFileFormat: 'xml' }), /jobSpecFileFormat" must be json or cgi/);
});

test('ManyToOne workers get one sub-directory per job', async () => {
  const { messenger, worker, dir } = setup({}, { mapType: 'ManyToOne', pandaIDs: [1, 2] });
  await messenger.setupAccessPoints([worker]);
  await messenger.feedJobs(worker, [makeJob({ PandaID: 1 }), makeJob({ PandaID: 2 })]);
  await fs.stat(path.join(dir, '1', 'HPCJobs.json'));
  await fs.stat(path.join(dir, '2', 'HPCJobs.json'));
  assert.deepEqual(await messenger.getPandaIDs(worker), [1, 2]);
});

test('getWorkAttributes reads worker_attributes.json with jobReport.json as metaData, keyed by PandaID', async () => {
  const { messenger, worker, dir } = setup({}, { pandaIDs: [11] });
  await messenger.setupAccessPoints([worker]);
  await fs.writeFile(
    path.join(dir, 'worker_attributes.json'),
    JSON.stringify({ jobStatus: 'finished', pilotErrorCode: 0 }),
  );
  await fs.writeFile(path.join(dir, 'jobReport.json'), JSON.stringify({ exitCode: 0, files: [] }));
  assert.deepEqual(await messenger.getWorkAttributes(worker), {
    '11': { jobStatus: 'finished', pilotErrorCode: 0, metaData: { exitCode: 0, files: [] } },
  });
  // a half-written file is treated as absent rather than failing the check
  await fs.writeFile(path.join(dir, 'worker_attributes.json'), '{"jobStat');
  assert.deepEqual(await messenger.getWorkAttributes(worker), {
    '11': { metaData: { exitCode: 0, files: [] } },
  });
});

test('jobRequested: 0 without a request, nJobs from it, 1 when unreadable', async () => {
  const { messenger, worker, dir } = setup();
  await messenger.setupAccessPoints([worker]);
  assert.equal(await messenger.jobRequested(worker), 0);
  await fs.writeFile(path.join(dir, 'worker_requestjob.json'), JSON.stringify({ nJobs: 3 }));
  assert.equal(await messenger.jobRequested(worker), 3);
  await fs.writeFile(path.join(dir, 'worker_requestjob.json'), 'nope');
  assert.equal(await messenger.jobRequested(worker), 1);
});

test('killRequested is true once the pilot writes kill_worker.json', async () => {
  const { messenger, worker, dir } = setup();
  await messenger.setupAccessPoints([worker]);
  assert.equal(await messenger.killRequested(worker), false);
  await fs.writeFile(path.join(dir, 'kill_worker.json'), '{}');
  assert.equal(await messenger.killRequested(worker), true);
});

test('isAlive follows the heartbeat file age, and a started worker without one is dead after the limit', async () => {
  const { messenger, worker, dir, clock } = setup({}, { startTime: '2026-06-01T00:00:00.000Z' });
  await messenger.setupAccessPoints([worker]);
  clock.advanceSeconds(5 * 60);
  assert.equal(await messenger.isAlive(worker, 10), true, 'young worker without heartbeat');
  clock.advanceSeconds(6 * 60);
  assert.equal(await messenger.isAlive(worker, 10), null, 'old worker without heartbeat');
  const file = path.join(dir, 'worker_heartbeat.json');
  await fs.writeFile(file, '{}');
  const beat = new Date(Date.parse('2026-06-01T00:10:00.000Z'));
  await fs.utimes(file, beat, beat);
  assert.equal(await messenger.isAlive(worker, 10), true);
  assert.equal(await messenger.lastHeartbeat(worker), beat.toISOString());
  clock.advanceSeconds(10 * 60);
  assert.equal(await messenger.isAlive(worker, 10), false, 'heartbeat older than the limit');
  const { messenger: m2, worker: notStarted } = setup();
  assert.equal(await m2.isAlive(notStarted, 10), true, 'a worker that has not started is given time');
});

test('file names can be overridden like [payload_interaction]', async () => {
  const { messenger, worker, dir } = setup({ killWorkerFile: 'please_die' });
  await messenger.setupAccessPoints([worker]);
  await fs.writeFile(path.join(dir, 'kill_worker.json'), '{}');
  assert.equal(await messenger.killRequested(worker), false);
  await fs.writeFile(path.join(dir, 'please_die'), '{}');
  assert.equal(await messenger.killRequested(worker), true);
});

test('cleanUp removes the access point and treats a missing one as done', async () => {
  const { messenger, worker, dir } = setup();
  await messenger.setupAccessPoints([worker]);
  await fs.writeFile(path.join(dir, 'x.log'), 'x');
  assert.equal((await messenger.cleanUp(worker)).outcome, 'success');
  await assert.rejects(fs.stat(dir), { code: 'ENOENT' });
  const again = await messenger.cleanUp(worker);
  assert.equal(again.outcome, 'success');
  assert.match(again.diag, /already gone/);
  await fs.writeFile(dir, 'a file where the directory should be');
  assert.equal((await messenger.cleanUp(worker)).outcome, 'permanentFailure');
  await fs.rm(dir);
});
