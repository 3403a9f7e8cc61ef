// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Harvester placeholders (${workerID}) in accessPoint templates.
/**
 * Slurm parsers and plugins against real outputs (test/fixtures/slurm, provenance in its README):
 * captures from our Slurm 22.05.8 and from Slurm 24.11.5 in a Debian 13 chroot, lines from other
 * projects' tests and Slurm's docs. Monitor and sweeper run with a replaying
 * command runner so the argv they build (-M only with a cluster) is checked too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import { CommandError, type CommandRunner, type ExecResult } from '../../src/plugins/exec';
import {
  createSlurmMonitor,
  createSlurmSubmitter,
  createSlurmSweeper,
  mapSlurmWorker,
  parseColonExit,
  parseJobComp,
  parseSacct,
  parseSbatchOutput,
  parseScancelStderr,
  parseSqueue,
  sacctStateWord,
  slurmClusterOf,
} from '../../src/plugins/slurm';
import type { PluginContext } from '../../src/plugins/types';

const FIXTURES = resolve(__dirname, '../fixtures/slurm');
const fixture = (name: string) => readFileSync(resolve(FIXTURES, name), 'utf8');
const NOW = new Date('2026-12-07T21:00:00Z');
const ctx: PluginContext = { harvesterID: 'h1', queueName: 'Q', now: () => NOW };
const scratch = mkdtempSync(join(tmpdir(), 'harvester-slurm-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const accessPoint = `${scratch}/\${workerID}`;

function worker(workerID: number, batchID: string, extra: Partial<WorkSpec> = {}): WorkSpec {
  return {
    workerID,
    computingSite: 'Q',
    harvesterID: 'h1',
    configID: 'c',
    mapType: 'NoJob',
    status: 'submitted',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    creationTime: '2026-12-07T20:00:00Z',
    submitTime: '2026-12-07T20:00:00Z',
    batchID,
    submissionHost: 'login1',
    ...extra,
  };
}

const status = (r: ReturnType<typeof parseSqueue>[number]) =>
  mapSlurmWorker(worker(1, r.jobId), r, { cancelUnknown: false, unknownGraceSeconds: 600, now: NOW });

test('squeue 22.05.8 capture (exit_code as wait status): job ids, names, states, exit codes and signals', () => {
  const byName = new Map(parseSqueue(fixture('squeue-22.05.8.txt')).map((r) => [r.name, r]));
  assert.equal(byName.size, 8);
  const exit3 = byName.get('cap2-exit3');
  assert.equal(exit3?.jobId, '10');
  assert.equal(exit3?.exitCode, 3);
  assert.equal(exit3?.exitSignal, undefined);
  assert.equal(status(exit3 as never).status, 'failed');
  assert.match(status(exit3 as never).diag, /exit code 3/);
  const sig = byName.get('cap2-sig');
  assert.equal(sig?.exitSignal, 15);
  assert.equal(sig?.exitCode, 143);
  assert.match(status(sig as never).diag, /signal 15/);
  assert.equal(status(byName.get('cap2-cancel') as never).status, 'cancelled');
  assert.equal(byName.get('cap2-cancel')?.exitSignal, 15);
  assert.equal(status(byName.get('cap2-ok') as never).status, 'finished');
  assert.equal(byName.get('cap2-ok')?.exitCode, 0);
  // A `|` in the job name (last column) stays in the name and shifts nothing.
  assert.equal(byName.get('cap2|pipe')?.state, 'COMPLETED');
  const held = byName.get('cap2-held');
  assert.equal(status(held as never).status, 'submitted');
  assert.equal(status(held as never).diag, 'pending: JobHeldUser');
  assert.equal(held?.startTime, undefined);
  const run = byName.get('cap2-run');
  assert.equal(status(run as never).status, 'running');
  assert.equal(run?.endTime, undefined, 'EndTime NONE is no time');
  assert.equal(run?.nodeList, 'vm');
});

test('squeue 24.11.5 capture (exit_code as exit:signal): exit 3, SIGTERM, SIGKILL, TIMEOUT, held, running', () => {
  const byName = new Map(parseSqueue(fixture('squeue-24.11.5.txt')).map((r) => [r.name, r]));
  assert.equal(byName.size, 10);
  const exit3 = byName.get('cap-exit3');
  assert.equal(exit3?.jobId, '1');
  assert.equal(exit3?.exitCode, 3);
  assert.equal(exit3?.exitSignal, undefined);
  assert.equal(status(exit3 as never).status, 'failed');
  assert.match(status(exit3 as never).diag, /Slurm job 1 failed \(exit code 3\)/);
  const sig = byName.get('cap-sig');
  assert.deepEqual([sig?.exitCode, sig?.exitSignal], [143, 15]);
  assert.match(status(sig as never).diag, /signal 15/);
  const kill9 = byName.get('cap-kill9');
  assert.deepEqual([kill9?.jobId, kill9?.exitCode, kill9?.exitSignal], ['3', 137, 9]);
  assert.equal(status(kill9 as never).status, 'failed');
  const timeout = byName.get('cap-timeout');
  assert.equal(status(timeout as never).status, 'failed');
  assert.match(status(timeout as never).diag, /Slurm job 8 reached its time limit/);
  const cancelled = byName.get('cap-cancel');
  assert.equal(status(cancelled as never).status, 'cancelled');
  assert.equal(cancelled?.exitSignal, 15);
  assert.equal(status(byName.get('cap-ok') as never).status, 'finished');
  assert.equal(byName.get('cap|pipe')?.state, 'COMPLETED');
  const held = byName.get('cap-held');
  assert.equal(status(held as never).status, 'submitted');
  assert.equal(status(held as never).diag, 'pending: JobHeldUser');
  assert.equal(held?.startTime, undefined);
  // The same jobs while they ran: a job with a time limit already shows the EndTime it will be
  // killed at, one without shows NONE.
  const live = new Map(parseSqueue(fixture('squeue-live-24.11.5.txt')).map((r) => [r.name, r]));
  const alice = live.get('cap-alice');
  assert.equal(status(alice as never).status, 'running');
  assert.equal(alice?.endTime, undefined, 'EndTime NONE is no time');
  assert.equal(alice?.nodeList, 'trixie');
  assert.equal(status(live.get('cap-timeout') as never).status, 'running');
  assert.equal(live.get('cap-timeout')?.endTime, new Date('2026-12-07T20:48:19').toISOString());
  assert.equal(status(live.get('cap-cancel') as never).status, 'running');
});

test('monitor on 24.11.5: squeue exiting 1 with "Invalid job id specified" for one purged id is "gone", not an error', async () => {
  const { run, calls } = replay({
    squeue: { fail: 1, stderr: fixture('squeue-invalid-one-24.11.5.stderr') },
  });
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor' }, ctx, { run });
  const reply = await monitor.checkWorkers([worker(1, '999999')]);
  assert.equal(calls.length, 1);
  assert.equal(reply.ok, true, 'the status query as a whole did not fail');
  assert.equal(reply.results[0].status, null);
  assert.match(reply.results[0].diag, /Slurm job 999999 not in squeue/);
});

test('squeue: anything our command cannot print is refused, naming the problem', () => {
  const line = fixture('squeue-22.05.8.txt').split('\n')[0]; // 16|CANCELLED|None|vm|…|15|cap2-cancel|
  const parts = line.split('|');
  const withExit = (v: string) => [...parts.slice(0, 6), v, ...parts.slice(7)].join('|');
  assert.throws(() => parseSqueue(withExit('3:0:1')), /exit_code "3:0:1" is neither/);
  assert.throws(() => parseSqueue(withExit('exited')), /exit_code/);
  // A `|` inside Reason moves a reason word into StartTime: detected, not read as data.
  const shifted = [parts[0], parts[1], 'Reason|with pipe', ...parts.slice(3)].join('|');
  assert.throws(() => parseSqueue(shifted), /"\|" inside Reason or NodeList shifted the columns/);
  assert.throws(() => parseSqueue('CLUSTER: harvester\n'), /multi-cluster header/);
  assert.throws(() => parseSqueue(line.slice(0, -1)), /does not end with the field separator/);
  // NO_VAL printed by <=22.05's %d is "-2": no exit code, not an error.
  assert.equal(parseSqueue(withExit('-2'))[0].exitCode, undefined);
});

test('sbatch acknowledgements: every form sites print gives the job id and the cluster', () => {
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-parsable-22.05.8.txt')), { jobId: '1' });
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-plain-22.05.8.txt')), { jobId: '2' });
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-prefixed-slurm-faq.txt')), { jobId: '65541' });
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-prefixed-dask-jobqueue.txt')), { jobId: '654321' });
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-parsable-cluster-dask-jobqueue.txt')), {
    jobId: '654321',
    cluster: 'cluster',
  });
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-on-cluster-from-source.txt')), {
    jobId: '654321',
    cluster: 'cluster',
  });
});

test('sbatch: output that is not an acknowledgement is refused', () => {
  // sbatch's own refusal text (it exits 1; a wrapper exiting 0 with it must not give a job id).
  assert.throws(
    () => parseSbatchOutput(fixture('sbatch-clusters-no-slurmdbd-22.05.8.stderr')),
    /expected one line/,
  );
  assert.throws(() => parseSbatchOutput(''), /no output/);
  assert.throws(() => parseSbatchOutput('Submitted batch job\n'), /expected "N"/);
  assert.throws(() => parseSbatchOutput('12;-rf\n'), /bad cluster name/);
  assert.throws(() => parseSbatchOutput('banner\nSubmitted batch job 5\n'), /got 2/);
});

test('jobcomp/filetxt 22.05.8: final states and exit codes; Cluster=unknown is no cluster', () => {
  const jobs = parseJobComp(fixture('jobcomp-22.05.8.txt'));
  assert.equal(jobs.size, 8);
  assert.equal(jobs.get('10')?.exitCode, 3);
  assert.equal(jobs.get('11')?.exitSignal, 15);
  assert.equal(jobs.get('13')?.name, 'cap2|pipe');
  assert.equal(jobs.get('17')?.state, 'TIMEOUT');
  assert.equal(jobs.get('15')?.state, 'CANCELLED');
  assert.equal(jobs.get('16')?.cluster, undefined);
  assert.equal(jobs.get('12')?.endTime, new Date('2026-12-07T20:29:09').toISOString());
});

test('jobcomp/filetxt 24.11.5: final states, exit 3, signals, TIMEOUT; lines end in a space', () => {
  const text = fixture('jobcomp-24.11.5.txt');
  assert.match(text.split('\n')[0], /ExitCode=0:15 $/);
  const jobs = parseJobComp(text);
  assert.equal(jobs.size, 9);
  assert.deepEqual([jobs.get('1')?.state, jobs.get('1')?.exitCode], ['FAILED', 3]);
  assert.deepEqual([jobs.get('2')?.exitCode, jobs.get('2')?.exitSignal], [143, 15]);
  assert.deepEqual([jobs.get('3')?.exitCode, jobs.get('3')?.exitSignal], [137, 9]);
  assert.equal(jobs.get('8')?.state, 'TIMEOUT');
  assert.equal(jobs.get('9')?.state, 'CANCELLED');
  assert.equal(jobs.get('5')?.name, 'cap|pipe');
  assert.equal(jobs.get('10')?.name, 'cap-alice');
  assert.equal(jobs.get('4')?.cluster, undefined, 'Cluster=unknown is no cluster');
  assert.equal(jobs.get('4')?.nodeList, 'trixie');
});

test('sbatch 24.11.5: --parsable and plain acknowledgements; -M without slurmdbd is refused', () => {
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-parsable-24.11.5.txt')), { jobId: '1' });
  assert.deepEqual(parseSbatchOutput(fixture('sbatch-plain-24.11.5.txt')), { jobId: '2' });
  assert.throws(
    () => parseSbatchOutput(fixture('sbatch-clusters-no-slurmdbd-24.11.5.stderr')),
    /expected one line/,
  );
});

test("sacct values from gc3pie's recorded outputs: CANCELLED by N, exit:signal, NO_VAL -2, job id forms", () => {
  const rows = fixture('sacct-gc3pie.txt')
    .trim()
    .split('\n')
    .map((l) => l.split('|'));
  // gc3pie's columns: jobid|exitcode|state|ncpus|elapsed|totalcpu|submit|start|end|maxrss|maxvmsize|
  assert.deepEqual(
    rows.map((r) => sacctStateWord(r[2])),
    ['CANCELLED', 'CANCELLED', 'NODE_FAIL', 'CANCELLED', 'TIMEOUT', 'FAILED', 'RUNNING', 'COMPLETED'],
  );
  assert.deepEqual(parseColonExit(rows[1][1], 'sacct', ''), { exitCode: 143, exitSignal: 15 });
  assert.deepEqual(parseColonExit(rows[2][1], 'sacct', ''), { exitCode: 1 });
  assert.deepEqual(parseColonExit(rows[3][1], 'sacct', ''), {}, '-2 is NO_VAL: no exit code');
  assert.deepEqual(parseColonExit(rows[4][1], 'sacct', ''), { exitCode: 129, exitSignal: 1 });
  // Rows laid out in our --format order parse; the step row (123.batch) is not an allocation id.
  const ours = (r: string[]) => [r[0], r[2], r[1], 'node01', r[7], r[8], 'harvester-h1-1'].join('|');
  const parsed = parseSacct(
    rows
      .filter((r) => !r[0].includes('.'))
      .map(ours)
      .join('\n'),
  );
  assert.equal(parsed.get('123')?.state, 'COMPLETED', 'the last line for an id wins');
  assert.throws(() => parseSacct(ours(rows[1])), /bad job id/);
  assert.equal(parseSacct('123_4|RUNNING|0:0|n1|Unknown|Unknown|x').get('123_4')?.state, 'RUNNING');
  assert.equal(parseSacct('123_[1-3]|PENDING|0:0|None assigned|Unknown|Unknown|x').size, 1);
  assert.equal(parseSacct('93+0|RUNNING|0:0|n1|Unknown|Unknown|x').size, 1);
  // gc3pie's own column order is not ours: refused, not mis-read.
  assert.throws(() => parseSacct(fixture('sacct-gc3pie.txt').split('\n')[0]), /not a Slurm job state/);
});

test('scancel stderr: gone/done jobs are success, access denied and sibling errors are failures', () => {
  assert.equal(parseScancelStderr(fixture('scancel-invalid-id-22.05.8.stderr')).failed.size, 0);
  assert.equal(parseScancelStderr(fixture('scancel-verbose-gone-22.05.8.stderr')).failed.size, 0);
  assert.equal(parseScancelStderr(fixture('scancel-verbose-already-done-22.05.8.stderr')).failed.size, 0);
  assert.equal(parseScancelStderr(fixture('scancel-invalid-gc3pie.stderr')).failed.size, 0);
  assert.deepEqual(
    [...parseScancelStderr(fixture('scancel-denied-two-22.05.8.stderr')).failed],
    [
      ['6', 'Access/permission denied'],
      ['5', 'Access/permission denied'],
    ],
  );
  assert.equal(
    parseScancelStderr(fixture('scancel-sibling-from-source-24.05.stderr')).failed.get('654321'),
    'Job started on sibling cluster cluster: Invalid job id specified',
  );
  const general = parseScancelStderr(fixture('scancel-clusters-no-slurmdbd-22.05.8.stderr'));
  assert.equal(general.failed.size, 0);
  assert.equal(general.general.length, 2);
});

test('scancel 24.11.5 stderr: invalid/done ids hidden or success, denied ids named, controller refusal general', () => {
  assert.equal(fixture('scancel-invalid-id-24.11.5.stderr'), '', 'scancel 999999: nothing, exit 0');
  const verbose = parseScancelStderr(fixture('scancel-verbose-gone-done-24.11.5.stderr'));
  assert.deepEqual([verbose.failed.size, verbose.general.length], [0, 0]);
  assert.deepEqual(
    [...parseScancelStderr(fixture('scancel-denied-24.11.5.stderr')).failed],
    [['10', 'Access/permission denied']],
  );
  // bob's `scancel 10 999999 4`: the invalid id is hidden, root's finished job 4 is denied too.
  assert.deepEqual(
    [...parseScancelStderr(fixture('scancel-denied-mixed-24.11.5.stderr')).failed],
    [
      ['10', 'Access/permission denied'],
      ['4', 'Access/permission denied'],
    ],
  );
  const ctld = parseScancelStderr(fixture('scancel-ctld-denied-24.11.5.stderr'));
  assert.equal(ctld.failed.size, 0);
  assert.match(ctld.general.join('\n'), /Unable to signal jobs: Operation not permitted/);
  const noDb = parseScancelStderr(fixture('scancel-clusters-no-slurmdbd-24.11.5.stderr'));
  assert.equal(noDb.failed.size, 0);
  assert.equal(noDb.general.length, 2, 'the two error lines; the fatal line after them adds nothing');
});

/** A runner that answers each command from `answers` and records the argv. */
function replay(answers: Record<string, Partial<ExecResult> & { fail?: number }>): {
  run: CommandRunner;
  calls: string[][];
} {
  const calls: string[][] = [];
  const run: CommandRunner = async (command, args) => {
    calls.push([command, ...args]);
    const a = answers[command] ?? {};
    if (a.fail !== undefined) {
      throw new CommandError({
        kind: 'exitCode',
        command,
        args,
        host: 'test',
        exitCode: a.fail,
        signal: null,
        stdout: a.stdout ?? '',
        stderrTail: a.stderr ?? '',
        durationMs: 1,
      });
    }
    return { command, args, exitCode: 0, stdout: a.stdout ?? '', stderr: a.stderr ?? '', durationMs: 1 };
  };
  return { run, calls };
}

test('sweeper: scancel exiting 0 with "Access/permission denied" (gc3pie, 24.05+) is a failure with the message', async () => {
  const { run } = replay({ scancel: { stderr: fixture('scancel-denied-exit0-gc3pie.stderr') } });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run });
  const [denied, other] = await sweeper.killWorkers([worker(1, '123'), worker(2, '124')]);
  assert.equal(denied.outcome, 'temporaryFailure');
  assert.match(denied.diag, /scancel 123: Access\/permission denied/);
  assert.equal(other.outcome, 'success');
});

test('sweeper: 22.05 scancel exiting 210 for one denied job; the gone job is killed', async () => {
  const { run } = replay({ scancel: { fail: 210, stderr: fixture('scancel-denied-22.05.8.stderr') } });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run });
  const [denied, gone] = await sweeper.killWorkers([worker(1, '5'), worker(2, '3')]);
  assert.equal(denied.outcome, 'temporaryFailure');
  assert.equal(gone.outcome, 'success');
});

test('sweeper on 24.11.5: scancel exiting 210 (plain path, not exit 0) fails the denied jobs only', async () => {
  const { run } = replay({ scancel: { fail: 210, stderr: fixture('scancel-denied-mixed-24.11.5.stderr') } });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run });
  const [denied, gone, done] = await sweeper.killWorkers([
    worker(1, '10'),
    worker(2, '999999'),
    worker(3, '4'),
  ]);
  assert.equal(denied.outcome, 'temporaryFailure');
  assert.match(denied.diag, /scancel 10: Access\/permission denied/);
  assert.equal(gone.outcome, 'success');
  assert.equal(done.outcome, 'temporaryFailure', 'denied, even though the job had ended');
});

test('sweeper on 24.11.5: the controller refusing the whole call fails every job', async () => {
  const { run } = replay({ scancel: { fail: 1, stderr: fixture('scancel-ctld-denied-24.11.5.stderr') } });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run });
  const res = await sweeper.killWorkers([worker(1, '10'), worker(2, '4')]);
  assert.deepEqual(
    res.map((r) => r.outcome),
    ['temporaryFailure', 'temporaryFailure'],
  );
  assert.match(res[1].diag, /Operation not permitted/);
});

test('sweeper: an error naming no job (bad -M) fails every job of that cluster', async () => {
  const { run, calls } = replay({
    scancel: { fail: 1, stderr: fixture('scancel-clusters-no-slurmdbd-22.05.8.stderr') },
  });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run });
  const res = await sweeper.killWorkers([worker(1, '6', { submissionHost: 'login1,harvester' })]);
  assert.equal(res[0].outcome, 'temporaryFailure');
  assert.match(res[0].diag, /can't be reached now.*on cluster harvester/);
  assert.deepEqual(calls, [['scancel', '-M', 'harvester', '6']]);
});

test('sweeper and monitor: one call per cluster, -M only when the worker has a cluster', async () => {
  const { run, calls } = replay({ scancel: {}, squeue: { stdout: '' }, sacct: { stdout: '' } });
  const workers = [
    worker(1, '10'),
    worker(2, '11', { submissionHost: 'login1,alpha' }),
    worker(3, '10', { submissionHost: 'login2,alpha' }),
    worker(4, '12'),
  ];
  await createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run }).killWorkers(workers);
  assert.deepEqual(calls, [
    ['scancel', '10', '12'],
    ['scancel', '-M', 'alpha', '11', '10'],
  ]);
  calls.length = 0;
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor', useSacct: true }, ctx, { run });
  const reply = await monitor.checkWorkers(workers);
  assert.equal(reply.ok, true);
  // squeue then sacct (for the ids squeue did not list) per cluster: local first, then alpha.
  assert.deepEqual(
    calls.map((c) => [c[0], c.includes('-M') ? c[c.indexOf('-M') + 1] : 'local', c[c.indexOf('-j') + 1]]),
    [
      ['squeue', 'local', '10,12'],
      ['sacct', 'local', '10,12'],
      ['squeue', 'alpha', '11,10'],
      ['sacct', 'alpha', '11,10'],
    ],
  );
  assert.deepEqual(calls[3].slice(0, 3), ['sacct', '-M', 'alpha'], '-M goes first, before the query options');
});

test('monitor: the same job id on two clusters gets each its own answer', async () => {
  const lines = fixture('squeue-24.11.5.txt').split('\n');
  const local = lines.find((l) => l.startsWith('1|')) as string; // FAILED 3:0
  const alpha = lines.find((l) => l.startsWith('4|')) as string; // COMPLETED 0:0
  const run: CommandRunner = async (command, args) => ({
    command,
    args,
    exitCode: 0,
    stdout: args[0] === '-M' ? alpha.replace(/^4\|/, '1|') : local,
    stderr: '',
    durationMs: 1,
  });
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor' }, ctx, { run });
  const reply = await monitor.checkWorkers([
    worker(1, '1'),
    worker(2, '1', { submissionHost: 'login1,alpha' }),
  ]);
  assert.deepEqual(
    reply.results.map((r) => r.status),
    ['failed', 'finished'],
  );
});

test('monitor: a malformed cluster in submissionHost is "cannot tell" for that worker only', async () => {
  const { run } = replay({ squeue: { stdout: fixture('squeue-22.05.8.txt') } });
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor' }, ctx, { run });
  const reply = await monitor.checkWorkers([worker(1, '10'), worker(2, '11', { submissionHost: 'h,-x' })]);
  assert.equal(reply.results[0].status, 'failed');
  assert.equal(reply.results[1].status, null);
  assert.match(reply.results[1].diag, /not a Slurm cluster name/);
  assert.throws(() => slurmClusterOf('h,-x'), /not a Slurm cluster name/);
  assert.equal(slurmClusterOf('login1'), undefined);
});

test('submitter: the cluster from "N;CLUSTER" is kept in submissionHost, batchID is the job id', async () => {
  const { run, calls } = replay({ sbatch: { stdout: fixture('sbatch-parsable-cluster-dask-jobqueue.txt') } });
  const submitter = createSlurmSubmitter(
    {
      module: 'slurm',
      name: 'SlurmSubmitter',
      template: '#!/bin/sh\n',
      accessPoint,
    },
    { ...ctx, submitAttempt: 1 },
    { run },
  );
  const [res] = await submitter.submitWorkers([worker(7, '', { batchID: undefined })]);
  assert.equal(res.outcome, 'success');
  assert.equal(res.batchID, '654321');
  assert.match(res.submissionHost ?? '', /,cluster$/);
  assert.equal(slurmClusterOf(res.submissionHost), 'cluster');
  assert.ok(!calls[0].some((a) => a.startsWith('--clusters')), 'no --clusters when none is configured');
});

test('submitter: "cluster" adds --clusters to sbatch and -M to the lookup; -M in sbatchArgs is refused', async () => {
  const { run, calls } = replay({
    sbatch: { stdout: fixture('sbatch-plain-22.05.8.txt') },
    squeue: { stdout: '' },
  });
  const submitter = createSlurmSubmitter(
    {
      module: 'slurm',
      name: 'SlurmSubmitter',
      template: '#!/bin/sh\n',
      accessPoint,
      cluster: 'alpha',
    },
    { ...ctx, submitAttempt: 2 },
    { run },
  );
  const [res] = await submitter.submitWorkers([worker(8, '', { batchID: undefined })]);
  assert.equal(res.batchID, '2');
  assert.equal(slurmClusterOf(res.submissionHost), 'alpha');
  assert.deepEqual(calls[0].slice(0, 3), ['squeue', '-M', 'alpha']);
  assert.ok(calls[1].includes('--clusters=alpha'));
  assert.throws(
    () =>
      createSlurmSubmitter(
        { module: 'slurm', name: 'SlurmSubmitter', template: 'x', sbatchArgs: ['-M', 'alpha'] },
        ctx,
      ),
    /set "cluster" instead/,
  );
});
