// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Harvester placeholders (${workerID}) are the subject under test.
/**
 * HTCondor plugins against recorded -json outputs (test/fixtures/htcondor) replayed by fake
 * condor_* binaries put first on PATH; the fakes log their argv so the commands built are checked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, beforeEach, test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import { countingRunner } from '../../src/plugins/exec';
import {
  buildSubmitDescription,
  createHTCondorMonitor,
  createHTCondorSubmitter,
  createHTCondorSweeper,
  mapCondorJob,
} from '../../src/plugins/htcondor';
import type { PluginContext } from '../../src/plugins/types';

const FIXTURES = resolve(__dirname, '../fixtures/htcondor');
const NOW = new Date(1756505000 * 1000);
const ctx: PluginContext = { harvesterID: 'cern_central_a', queueName: 'CERN_GRID', now: () => NOW };
const root = mkdtempSync(join(tmpdir(), 'harvester-condor-'));
const LOG = join(root, 'argv.log');
process.env.PATH = `${join(FIXTURES, 'bin')}:${process.env.PATH}`;
process.env.FAKE_CONDOR_LOG = LOG;
const deps = { localName: 'harvester01.example.org' };

after(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  writeFileSync(LOG, '');
  delete process.env.FAKE_CONDOR_FAIL;
});

function calls(): Array<{ tool: string; argv: string[]; sdf?: string }> {
  return readFileSync(LOG, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function worker(workerID: number, batchID?: string, status: WorkSpec['status'] = 'submitted'): WorkSpec {
  return {
    workerID,
    computingSite: 'CERN_GRID',
    harvesterID: 'cern_central_a',
    configID: '1',
    mapType: 'NoJob',
    status,
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: workerID % 2 === 0 ? 8 : 1,
    maxWalltime: 3600,
    batchID,
    submissionHost: batchID ? 'schedd01.example.org,pool.example.org' : undefined,
    accessPoint: join(root, 'wdirs', '${_workerID_1.0}', '${workerID}'),
    creationTime: NOW.toISOString(),
  };
}

const SDF = `universe = vanilla
executable = /opt/harvester/runpilot-wrapper.sh
arguments = -s {computingSite} -w \${workerID} --harvester \${harvesterID}
request_cpus = \${nCore}
request_memory = {requestRam}
+maxWallTime = {requestWalltimeMinute}
initialdir = \${accessPoint}
output = \${accessPoint}/grid.$(Cluster).$(Process).out
log = /var/log/condor_logs/\${harvesterID}/grid.$(Cluster).log
`;

test('monitor: one condor_q + one condor_history per schedd, every JobStatus mapped (spec §9)', async () => {
  const counter = countingRunner();
  const monitor = createHTCondorMonitor({ module: 'htcondor', name: '', heldTimeout: 3600 }, ctx, {
    ...deps,
    run: counter.run,
  });
  const workers = [
    worker(101, '241.0'),
    worker(102, '15', 'running'),
    worker(103, '4242.2'),
    worker(104, '3472942.89', 'running'),
    worker(105, '4242.4'),
    worker(106, '4242.5', 'running'),
    worker(107, '4242.6'),
    worker(108, '4242.7', 'running'),
    worker(90, '4241.0', 'running'),
    worker(91, '4241.1', 'running'),
    worker(92, '4241.2'),
    worker(93, '4241.3', 'running'),
    worker(94, '4241.4', 'running'),
    worker(80, '4240.0'),
    worker(81),
    worker(82, '42x'),
  ];
  const reply = await monitor.checkWorkers(workers);
  assert.equal(reply.ok, true, reply.diag);
  const got = Object.fromEntries(workers.map((w, i) => [w.workerID, reply.results[i]]));
  const status = (id: number) => got[id].status;
  assert.equal(status(101), 'running');
  assert.equal(got[101].nodeID, 'crane');
  assert.equal(got[101].startTime, new Date(1756503384 * 1000).toISOString());
  assert.equal(status(102), 'idle', 'idle after having run; bare cluster id 15 read as 15.0');
  assert.equal(status(103), 'submitted', 'held briefly: still queued');
  assert.match(got[103].diag, /HoldReason: Error from slot1@TODDS480S/);
  // The captured held ad belongs to user gemc: past heldTimeout it must go, but condor_rm refuses
  // (permission denied), so the worker is not reported cancelled; the reason says why.
  assert.equal(status(104), null, 'held past heldTimeout, condor_rm refused');
  assert.equal(got[104].pilotClosed, undefined);
  assert.match(
    got[104].diag,
    /OnExitHold expression .* evaluated to TRUE; removed: held for 139384357 s > heldTimeout 3600 s; condor_rm: permission denied to remove job 3472942\.89$/,
  );
  assert.equal(status(105), 'cancelled', 'fatal hold reason');
  assert.equal(status(106), 'finished', 'LastJobStatus=4 wins over JobStatus=1');
  assert.equal(status(107), 'running', 'transferring output');
  assert.equal(status(108), 'idle', 'suspended after running');
  assert.equal(status(90), 'finished');
  assert.equal(status(91), 'failed');
  assert.equal(got[91].nativeExitCode, 1);
  assert.equal(status(92), 'cancelled');
  assert.match(got[92].diag, /PeriodicRemove expression .*; last held: Error from slot3/);
  assert.equal(status(93), 'failed');
  assert.match(got[93].diag, /signal 9/);
  assert.equal(status(94), 'finished', 'completed then removed stays completed');
  assert.equal(status(80), null, 'missing job: cannot tell');
  assert.equal(status(81), null, 'no batchID');
  assert.equal(status(82), null, 'unreadable batchID');
  assert.match(got[82].diag, /batchID .*42x/);

  const log = calls();
  assert.deepEqual(
    log.map((c) => c.tool),
    ['condor_q', 'condor_history', 'condor_rm'],
  );
  assert.deepEqual(log[0].argv.slice(0, 6), [
    '-name',
    'schedd01.example.org',
    '-pool',
    'pool.example.org',
    '-json',
    '-attributes',
  ]);
  assert.equal(log[0].argv.filter((a) => /^\d+\.\d+$/.test(a)).length, 14);
  assert.ok(log[0].argv.includes('15.0'), 'bare cluster id queried as proc 0');
  assert.deepEqual(
    log[1].argv.filter((a) => /^\d+\.\d+$/.test(a)),
    ['4241.0', '4241.1', '4241.2', '4241.3', '4241.4', '4240.0'],
    'history only for jobs condor_q did not list',
  );
  assert.deepEqual(
    log[2].argv.slice(4),
    ['3472942.89', '4242.4'],
    'one condor_rm for the held jobs to remove',
  );
  assert.equal(counter.counts.get('condor_q'), 1);
});

test('monitor: cancelUnknown, a final worker stays final, and a failed condor_q is {ok:false}', async () => {
  const monitor = createHTCondorMonitor({ module: 'htcondor', name: '', cancelUnknown: true }, ctx, deps);
  const reply = await monitor.checkWorkers([worker(80, '4240.0'), worker(101, '241.0', 'finished')]);
  assert.equal(reply.results[0].status, 'cancelled');
  assert.equal(reply.results[1].status, 'finished');

  process.env.FAKE_CONDOR_FAIL = 'condor_q';
  const failed = await monitor.checkWorkers([worker(101, '241.0')]);
  assert.equal(failed.ok, false);
  assert.match(
    failed.diag,
    /: condor_q query failed: -- Failed to fetch ads from: <192\.0\.2\.10:9618.*> : schedd01\.example\.org SECMAN:2003:/,
  );
  assert.deepEqual(failed.results, []);

  process.env.FAKE_CONDOR_FAIL = 'condor_history';
  const noHistory = await monitor.checkWorkers([worker(90, '4241.0')]);
  assert.equal(noHistory.ok, false, 'a failed condor_history is not "job gone"');
  assert.match(noHistory.diag, /Unable to send history command to remote schedd/);
});

test('mapCondorJob: held job exactly at the timeout is kept', () => {
  const w = worker(1, '1.0');
  const ad = { ClusterId: 1, ProcId: 0, JobStatus: 5, HoldReason: 'x', EnteredCurrentStatus: 1000 };
  assert.equal(
    mapCondorJob(w, ad, { heldTimeout: 100, cancelUnknown: false, nowSeconds: 1100 }).remove,
    undefined,
  );
  assert.equal(
    mapCondorJob(w, ad, { heldTimeout: 100, cancelUnknown: false, nowSeconds: 1101 }).remove,
    true,
  );
});

test('submitter: one condor_submit for many workers, per-worker values in a queue-from table', async () => {
  const submitter = createHTCondorSubmitter(
    {
      module: 'htcondor',
      name: '',
      template: SDF,
      condorSchedd: 'schedd01.example.org',
      condorPool: 'pool.example.org',
      submitDir: join(root, 'sdf'),
    },
    ctx,
    deps,
  );
  const workers = [201, 202, 203, 214].map((id) => worker(id));
  const results = await submitter.submitWorkers(workers);
  assert.deepEqual(
    results.map((r) => [r.outcome, r.batchID, r.submissionHost]),
    workers.map((_, i) => ['success', `5000.${i}`, 'schedd01.example.org,pool.example.org']),
  );
  const log = calls();
  assert.deepEqual(
    log.map((c) => c.tool),
    ['condor_q', 'condor_history', 'condor_submit'],
    'look for existing jobs, then ONE submit',
  );
  assert.match(
    log[0].argv.join(' '),
    /-constraint harvesterID == "cern_central_a" && member\(harvesterWorkerID, \{201,202,203,214\}\)/,
  );
  assert.deepEqual(log[2].argv.slice(0, 5), [
    '-terse',
    '-name',
    'schedd01.example.org',
    '-pool',
    'pool.example.org',
  ]);
  const sdf = log[2].sdf as string;
  assert.match(sdf, /arguments = -s CERN_GRID -w \$\(hw_workerID\) --harvester cern_central_a\n/);
  assert.match(sdf, /request_cpus = \$\(hw_nCore\)\n/);
  assert.match(sdf, /\+maxWallTime = 60\n/, 'same for all workers: written in directly');
  assert.match(
    sdf,
    /output = \$\(hw_accessPoint\)\/grid\.\$\(Cluster\)\.\$\(Process\)\.out/,
    'condor macros untouched',
  );
  assert.match(sdf, /\+harvesterWorkerID = \$\(hw_workerID\)\n/);
  const table = /queue (.*) from \(\n([\s\S]*?)\n\)/.exec(sdf);
  assert.ok(table);
  const columns = table[1].split(',');
  const rows = table[2].split('\n').map((r) => r.trim().split(','));
  assert.equal(rows.length, 4);
  const col = (name: string) => rows.map((r) => r[columns.indexOf(name)]);
  assert.deepEqual(col('hw_workerID'), ['201', '202', '203', '214']);
  assert.deepEqual(col('hw_nCore'), ['1', '8', '1', '8']);
  assert.deepEqual(
    col('hw_accessPoint'),
    ['01/201', '02/202', '03/203', '14/214'].map((p) => join(root, 'wdirs', p)),
  );
});

test('submitter: a retried submit finds existing jobs and submits only the rest', async () => {
  const submitter = createHTCondorSubmitter(
    { module: 'htcondor', name: '', template: SDF, submitDir: join(root, 'sdf') },
    ctx,
    deps,
  );
  const results = await submitter.submitWorkers([worker(101), worker(90), worker(300)]);
  assert.deepEqual(
    results.map((r) => r.batchID),
    ['241.0', '4241.0', '5000.0'],
  );
  assert.match(results[0].diag, /found existing condor job 241\.0/);
  const submit = calls().find((c) => c.tool === 'condor_submit');
  assert.match(submit?.sdf ?? '', /queue hw_workerID from \(\n {2}300\n\)/);
  assert.deepEqual(submit?.argv.length, 2, 'local schedd: no -name/-pool');
});

test('submitter: bad templates and values are permanent failures; submit errors temporary', async () => {
  const withQueue = createHTCondorSubmitter(
    { module: 'htcondor', name: '', template: `${SDF}queue 1\n` },
    ctx,
    deps,
  );
  const r1 = await withQueue.submitWorkers([worker(1)]);
  assert.equal(r1[0].outcome, 'permanentFailure');
  assert.match(r1[0].diag, /must not contain a queue statement/);

  const submitter = createHTCondorSubmitter(
    { module: 'htcondor', name: '', template: SDF, submitDir: join(root, 'sdf') },
    ctx,
    deps,
  );
  const spaced = { ...worker(2), accessPoint: join(root, 'with space', '${workerID}') };
  const r2 = await submitter.submitWorkers([spaced, worker(3)]);
  assert.equal(r2[0].outcome, 'permanentFailure');
  assert.match(r2[0].diag, /cannot go into a queue-from table/);
  assert.equal(r2[1].outcome, 'success');

  process.env.FAKE_CONDOR_FAIL = 'condor_submit';
  const r3 = await submitter.submitWorkers([worker(4)]);
  assert.equal(r3[0].outcome, 'temporaryFailure');
});

test('buildSubmitDescription: a value shared by all workers is not a column', () => {
  const rows = [1, 2].map((id, index) => ({
    worker: worker(id),
    index,
    values: { workerID: id, nCore: 4, site: 'S' },
  }));
  const sdf = buildSubmitDescription('x = ${nCore} ${site} ${workerID}\n', 'h', rows);
  assert.match(sdf, /^x = 4 S \$\(hw_workerID\)\n/);
  assert.match(sdf, /queue hw_workerID from \(\n {2}1\n {2}2\n\)/);
});

test('sweeper: one condor_rm per schedd; each job line decides: gone and already removed are killed', async () => {
  const sweeper = createHTCondorSweeper({ module: 'htcondor', name: '' }, ctx, deps);
  const out = await sweeper.killWorkers([
    worker(107, '4242.6'),
    worker(1, '1.0'),
    worker(109, '4242.8'),
    worker(101, '241.0'),
    worker(2),
    worker(3, '4242'),
  ]);
  assert.deepEqual(
    out.map((r) => r.outcome),
    ['success', 'success', 'success', 'permanentFailure', 'success', 'success'],
    'condor_rm exits 1 here, yet only the job of another user failed',
  );
  assert.equal(out[0].diag, '');
  assert.match(out[1].diag, /already gone/);
  assert.match(out[2].diag, /already marked for removal/);
  assert.match(out[3].diag, /permission denied to remove job 241\.0/);
  const log = calls();
  assert.equal(log.length, 1);
  assert.deepEqual(log[0].argv, [
    '-name',
    'schedd01.example.org',
    '-pool',
    'pool.example.org',
    '4242.6',
    '1.0',
    '4242.8',
    '241.0',
    '4242.0',
  ]);

  process.env.FAKE_CONDOR_FAIL = 'condor_rm';
  const failed = await sweeper.killWorkers([worker(107, '4242.6')]);
  assert.equal(failed[0].outcome, 'temporaryFailure');
  assert.match(
    failed[0].diag,
    /no result for job 4242\.6: .*Can't find address for schedd schedd01\.example\.org/,
  );
});
