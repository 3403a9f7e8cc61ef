// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Harvester placeholders (${workerID}) are the subject under test.
/**
 * The Slurm plugins against the real one-node Slurm of scripts/slurm-setup.sh (run here too; it is
 * idempotent): 50 workers through sbatch, a retried submit that must not make a second job, one
 * worker failing, one cancelled through the sweeper, one killed by its time limit, and a monitor
 * that makes exactly one squeue call per cycle for all of them.
 *
 * Slurm's time limit is in whole minutes and slurmctld enforces it on a ~30 s tick, so the
 * time-limit worker ends 60-90 s after it starts; the test waits at most 150 s for everything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import type { SubmissionOutcome } from '../../src/activities/lifecycleTypes';
import { createPluginActivities } from '../../src/activities/plugin';
import type { WorkSpec } from '../../src/core/specs';
import { isFinalWorkerStatus, type WorkerStatus } from '../../src/core/workerStatus';
import { createPluginRegistry } from '../../src/plugins';
import { chunkByLength } from '../../src/plugins/common/batchName';
import { countingRunner, runCommand } from '../../src/plugins/exec';
import { PluginRegistry } from '../../src/plugins/registry';
import { createSlurmMonitor, createSlurmSubmitter, createSlurmSweeper } from '../../src/plugins/slurm';
import type { CheckResult, PluginContext, PluginResult } from '../../src/plugins/types';

const JOBCOMP = '/var/log/slurm/jobcomp.log';
const N_WORKERS = 50;
const FAIL_ID = 7;
const CANCEL_ID = 13;
const TIMEOUT_ID = 21;
/** Workers of the bulk-submit test: 20 of them, a crash after the first 10. */
const BULK_IDS = Array.from({ length: 20 }, (_, i) => 101 + i);
/** Workers of the bulk-kill test: 120 killed at once, then one alone. */
const KILL_IDS = Array.from({ length: 120 }, (_, i) => 301 + i);
const LONE_KILL_ID = 500;

// The job's behaviour comes from its worker id, through the placeholders under test.
const TEMPLATE = `#!/bin/bash
#SBATCH --time=\${requestWalltimeMinute}
#SBATCH --cpus-per-task={nCore}
echo "worker \${workerID} of \${harvesterID} at \${computingSite}, \${nCore} core(s), in \${accessPoint}, shard \${_workerID_1.0}"
case "\${workerID}" in
  ${FAIL_ID}) echo "failing on purpose" >&2; exit 1 ;;
  ${CANCEL_ID}|${TIMEOUT_ID}) sleep 600 ;;
  *) sleep $(( \${workerID} % 3 + 1 )) ;;
esac
`;

const harvesterID = `it${Date.now().toString(36)}`;
const ctx: PluginContext = { harvesterID, queueName: 'SLURM_TEST' };
let root: string;

function makeWorker(workerID: number): WorkSpec {
  return {
    workerID,
    computingSite: 'SLURM_TEST',
    harvesterID,
    configID: '1',
    mapType: 'NoJob',
    status: 'pending',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    maxWalltime: workerID === TIMEOUT_ID ? 5 : 600,
    accessPoint: join(root, '${workerID}'),
    creationTime: new Date().toISOString(),
  };
}

before(() => {
  const setup = spawnSync('bash', [resolve(__dirname, '../../scripts/slurm-setup.sh')], { encoding: 'utf8' });
  assert.equal(setup.status, 0, `scripts/slurm-setup.sh failed:\n${setup.stdout}\n${setup.stderr}`);
  root = mkdtempSync(join(tmpdir(), 'harvester-slurm-it-'));
});

after(() => {
  // Leave no job of this run behind, whatever failed.
  // scancel --name takes one name only: find this run's job ids by name, then cancel them by id.
  const names = new Set(
    [...Array.from({ length: N_WORKERS }, (_, i) => i + 1), ...BULK_IDS, ...KILL_IDS, LONE_KILL_ID].map(
      (id) => `harvester-${harvesterID}-${id}`,
    ),
  );
  const listed = spawnSync('squeue', ['-h', '-o', '%i %j'], { encoding: 'utf8' }).stdout ?? '';
  const ids = listed
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([id, name]) => id && names.has(name))
    .map(([id]) => id);
  if (ids.length > 0) spawnSync('scancel', ids);
  if (root) rmSync(root, { recursive: true, force: true });
});

test('50 workers through real Slurm: submit, idempotent retry, fail, cancel, time limit, one squeue per cycle', async (t) => {
  const counter = countingRunner();
  const submitter = createSlurmSubmitter(
    { module: 'slurm', name: 'SlurmSubmitter', template: TEMPLATE, jobCompLoc: JOBCOMP },
    ctx,
    {
      run: counter.run,
    },
  );
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor', jobCompLoc: JOBCOMP }, ctx, {
    run: counter.run,
  });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run: counter.run });

  const workers = Array.from({ length: N_WORKERS }, (_, i) => makeWorker(i + 1));

  // --- submit ---------------------------------------------------------------------------------
  const t0 = performance.now();
  const submitted = await submitter.submitWorkers(workers);
  const submitMs = performance.now() - t0;
  t.diagnostic(`submitWorkers(${N_WORKERS}) took ${submitMs.toFixed(0)} ms (1 squeue + ${N_WORKERS} sbatch)`);
  for (const [i, r] of submitted.entries()) {
    assert.equal(r.outcome, 'success', `worker ${i + 1}: ${r.diag}`);
    assert.match(r.batchID ?? '', /^\d+$/);
    // A single-cluster site: sbatch names no cluster, so none rides in submissionHost.
    assert.ok(r.submissionHost && !r.submissionHost.includes(','), `submissionHost ${r.submissionHost}`);
    workers[i].batchID = r.batchID;
    workers[i].submissionHost = r.submissionHost;
    workers[i].submitTime = new Date().toISOString();
    workers[i].status = 'submitted';
  }
  assert.equal(new Set(submitted.map((r) => r.batchID)).size, N_WORKERS, 'every worker has its own job');
  assert.equal(counter.counts.get('sbatch'), N_WORKERS);
  assert.equal(counter.counts.get('squeue'), 1, 'one squeue looks up all names before submitting');

  // The script was filled in: placeholders replaced, shell syntax kept.
  const script = readFileSync(join(root, '3', 'slurm-3.sh'), 'utf8');
  assert.match(script, /#SBATCH --time=10\n/);
  assert.match(script, /--cpus-per-task=1\n/);
  assert.match(
    script,
    new RegExp(`worker 3 of ${harvesterID} at SLURM_TEST, 1 core\\(s\\), in ${root}/3, shard 03`),
  );
  assert.match(script, /sleep \$\(\( 3 % 3 \+ 1 \)\)/);

  // --- a retried submit finds the job instead of making another ---------------------------------
  const sbatchBefore = counter.counts.get('sbatch');
  const retried = await submitter.submitWorkers([makeWorker(1), makeWorker(2)]);
  assert.deepEqual(
    retried.map((r) => [r.outcome, r.batchID]),
    [
      ['success', workers[0].batchID],
      ['success', workers[1].batchID],
    ],
  );
  assert.equal(counter.counts.get('sbatch'), sbatchBefore, 'no sbatch on retry');
  const byName = await runCommand('squeue', [
    '-h',
    '-t',
    'all',
    `--name=harvester-${harvesterID}-1`,
    '-o',
    '%i',
  ]);
  assert.equal(byName.stdout.trim().split('\n').length, 1, 'exactly one Slurm job carries worker 1');

  // --- monitor cycles; cancel one worker once it runs -------------------------------------------
  const statusOf = new Map<number, CheckResult>();
  let cancelled = false;
  let cycles = 0;
  const deadline = Date.now() + 150_000;
  const cycleTimes: number[] = [];
  while (Date.now() < deadline) {
    const before = counter.counts.get('squeue') ?? 0;
    const c0 = performance.now();
    const reply = await monitor.checkWorkers(workers);
    cycleTimes.push(performance.now() - c0);
    cycles++;
    assert.equal(reply.ok, true, reply.diag);
    assert.equal(reply.results.length, N_WORKERS);
    assert.equal((counter.counts.get('squeue') ?? 0) - before, 1, `cycle ${cycles}: exactly one squeue call`);
    for (const [i, r] of reply.results.entries()) {
      if (r.status === null) continue;
      assert.ok(
        !isFinalWorkerStatus(workers[i].status) || r.status === workers[i].status,
        'a final status never changes',
      );
      workers[i].status = r.status as WorkerStatus;
      statusOf.set(workers[i].workerID, r);
    }
    const cancelWorker = workers[CANCEL_ID - 1];
    if (!cancelled && cancelWorker.status === 'running') {
      const scancelBefore = counter.counts.get('scancel') ?? 0;
      const killed = await sweeper.killWorkers([cancelWorker]);
      assert.deepEqual(
        killed.map((k) => k.outcome),
        ['success'],
      );
      assert.equal((counter.counts.get('scancel') ?? 0) - scancelBefore, 1);
      cancelled = true;
    }
    if (workers.every((w) => isFinalWorkerStatus(w.status))) break;
    await new Promise((r) => setTimeout(r, 3000));
  }
  t.diagnostic(
    `${cycles} monitor cycles, checkWorkers(${N_WORKERS}) ${Math.min(...cycleTimes).toFixed(0)}-${Math.max(...cycleTimes).toFixed(0)} ms`,
  );

  const byStatus = (s: WorkerStatus) => workers.filter((w) => w.status === s).map((w) => w.workerID);
  assert.deepEqual(
    byStatus('failed'),
    [FAIL_ID, TIMEOUT_ID],
    'failed: the exit-1 worker and the time-limit worker',
  );
  assert.deepEqual(byStatus('cancelled'), [CANCEL_ID]);
  assert.equal(byStatus('finished').length, N_WORKERS - 3);

  const failed = statusOf.get(FAIL_ID) as CheckResult;
  assert.equal(failed.nativeStatus, 'FAILED');
  assert.equal(failed.nativeExitCode, 1);
  assert.match(failed.diag, /exit code 1/);
  const timedOut = statusOf.get(TIMEOUT_ID) as CheckResult;
  assert.equal(timedOut.nativeStatus, 'TIMEOUT');
  assert.match(timedOut.diag, /time limit/);
  assert.equal(statusOf.get(CANCEL_ID)?.nativeStatus, 'CANCELLED');
  const done = statusOf.get(1) as CheckResult;
  assert.equal(done.nativeExitCode, 0);
  assert.ok(done.startTime && done.endTime && done.nodeID, 'start, end and node reported');

  // Jobs that ended early have left squeue by now (MinJobAge); their answer came from jobcomp.
  const still = await runCommand('squeue', [
    '-h',
    '-t',
    'all',
    '-j',
    workers.map((w) => w.batchID).join(','),
    '-o',
    '%i',
  ]);
  const inSqueue = new Set(still.stdout.split('\n').filter(Boolean));
  const fromHistory = workers.filter((w) => !inSqueue.has(w.batchID as string));
  t.diagnostic(
    `${fromHistory.length} of ${N_WORKERS} jobs already purged from squeue, answered from ${JOBCOMP}`,
  );
  if (fromHistory.length > 0) {
    const final = await monitor.checkWorkers(workers);
    for (const w of fromHistory) {
      assert.equal(
        final.results[w.workerID - 1].status,
        w.status,
        `worker ${w.workerID} from the jobcomp file`,
      );
    }
  }

  // --- sweep ------------------------------------------------------------------------------------
  const ap = join(root, String(CANCEL_ID));
  assert.ok(existsSync(ap));
  const swept = await sweeper.sweepWorker(workers[CANCEL_ID - 1]);
  assert.equal(swept.outcome, 'success', swept.diag);
  assert.ok(!existsSync(ap));
});

test('-M only with a known cluster: none on this single-cluster site; a cluster Slurm does not know fails loudly', async () => {
  const counter = countingRunner();
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor', jobCompLoc: JOBCOMP }, ctx, {
    run: counter.run,
  });
  const sweeper = createSlurmSweeper({ module: 'slurm', name: 'SlurmSweeper' }, ctx, { run: counter.run });
  const local = { ...makeWorker(9001), batchID: '999999', submissionHost: 'login1' };
  const elsewhere = { ...makeWorker(9002), batchID: '999998', submissionHost: 'login1,nosuchcluster' };
  const reply = await monitor.checkWorkers([local]);
  assert.equal(reply.ok, true, reply.diag);
  assert.ok(!counter.calls.some((c) => c.args.includes('-M')), 'no -M without a cluster');
  // Real squeue/scancel with -M for a cluster this site lacks (no slurmdbd here): the query fails
  // ({ok:false}) and the kill is not taken as done.
  const remote = await monitor.checkWorkers([elsewhere]);
  assert.equal(remote.ok, false);
  assert.match(remote.diag, /cluster nosuchcluster/);
  const [killed] = await sweeper.killWorkers([elsewhere]);
  assert.equal(killed.outcome, 'temporaryFailure');
  assert.match(killed.diag, /nosuchcluster/);
  const last = counter.calls.at(-1);
  assert.deepEqual(last?.args.slice(0, 2), ['-M', 'nosuchcluster']);
});

test('a failing squeue is {ok:false}, never an empty success', async () => {
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor' }, ctx, {
    run: (_c, args, opts) => runCommand('squeue', [...args, '--no-such-option'], opts),
  });
  const reply = await monitor.checkWorkers([{ ...makeWorker(1), batchID: '1', status: 'submitted' }]);
  assert.equal(reply.ok, false);
  assert.match(reply.diag, /squeue .* exited with code/);
  assert.deepEqual(reply.results, []);
});

test('a purged job asked for alone is "cannot tell", not an error', async () => {
  const monitor = createSlurmMonitor({ module: 'slurm', name: 'SlurmMonitor' }, ctx);
  const reply = await monitor.checkWorkers([{ ...makeWorker(1), batchID: '999999', status: 'submitted' }]);
  assert.equal(reply.ok, true, reply.diag);
  assert.equal(reply.results[0].status, null);
  assert.match(reply.results[0].diag, /not in squeue/);
});

/** The activity's own log lines would drown the test output; warnings still show. */
const quiet = new DefaultLogger('WARN');

test("the queue's bulk submit against real Slurm: a retry after a crash mid-batch finds the jobs it made, a refused sbatch is looked up, then missed", async () => {
  const activities = createPluginActivities({ registry: createPluginRegistry() });
  const params = { module: 'slurm', name: 'SlurmSubmitter', template: '#!/bin/bash\nsleep 120\n' };
  const workers = BULK_IDS.map(makeWorker);
  const call = { params, harvesterID, queueName: 'SLURM_TEST', workers };

  // Attempt 1 "dies" after sbatch for the first ten workers: they exist in Slurm, nobody recorded them.
  const first = await createSlurmSubmitter(params, { ...ctx, submitAttempt: 1 }).submitWorkers(
    workers.slice(0, 10),
  );
  assert.ok(first.every((r) => r.outcome === 'success'));

  // Temporal retries the activity: attempt 2 looks all twenty up, keeps the ten and submits the rest.
  const retried: SubmissionOutcome[] = await new MockActivityEnvironment(
    { attempt: 2 },
    { logger: quiet },
  ).run(activities.submitWorkers, call);
  assert.deepEqual(
    retried.map((o) => o.outcome),
    workers.map(() => 'success'),
  );
  assert.deepEqual(
    retried.slice(0, 10).map((o) => o.batchID),
    first.map((r) => r.batchID),
    'the jobs made before the crash are the ones reported',
  );
  const listed = await runCommand('squeue', ['-h', '-t', 'all', '-o', '%j %i']);
  const jobsPerWorker = new Map<string, number>();
  for (const line of listed.stdout.split('\n')) {
    const [name] = line.trim().split(/\s+/);
    if (
      name?.startsWith(`harvester-${harvesterID}-1`) &&
      BULK_IDS.some((id) => name === `harvester-${harvesterID}-${id}`)
    )
      jobsPerWorker.set(name, (jobsPerWorker.get(name) ?? 0) + 1);
  }
  assert.equal(jobsPerWorker.size, 20, 'every worker has a job');
  assert.ok(
    [...jobsPerWorker.values()].every((n) => n === 1),
    'and only one',
  );

  // sbatch refuses (no such partition): the worker is looked up (a timeout might have submitted
  // it), not found, and comes back failed with sbatch's own words.
  const refused: SubmissionOutcome[] = await new MockActivityEnvironment(
    { attempt: 1 },
    { logger: quiet },
  ).run(activities.submitWorkers, {
    ...call,
    params: { ...params, partition: 'no_such_partition' },
    workers: [makeWorker(200)],
  });
  assert.equal(refused[0].outcome, 'failure');
  assert.match(refused[0].diag, /sbatch.*(partition|Invalid)/i);
});

/** The jobs (by id) that squeue still lists in a state other than ended. */
async function notEnded(batchIDs: string[]): Promise<string[]> {
  const listed = await runCommand('squeue', ['-h', '-t', 'all', '-j', batchIDs.join(','), '-o', '%i %T']);
  return listed.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([id, state]) => id && !['CANCELLED', 'COMPLETING', 'COMPLETED', 'FAILED'].includes(state))
    .map(([id]) => id);
}

async function submitSleepers(ids: number[]): Promise<WorkSpec[]> {
  const params = { module: 'slurm', name: 'SlurmSubmitter', template: '#!/bin/bash\nsleep 600\n' };
  const workers = ids.map(makeWorker);
  const results = await createSlurmSubmitter(params, ctx).submitWorkers(workers);
  return workers.map((w, i) => {
    assert.equal(results[i].outcome, 'success', results[i].diag);
    return {
      ...w,
      batchID: results[i].batchID,
      submissionHost: results[i].submissionHost,
      status: 'submitted',
    };
  });
}

test('bulk kills against real Slurm: 120 kill activities at once are one scancel, every job ends; a lone kill lands in under 2 s', async (t) => {
  const counter = countingRunner();
  const registry = new PluginRegistry();
  registry.register('sweeper', 'slurm', 'SlurmSweeper', (p, c) =>
    createSlurmSweeper(p, c, { run: counter.run }),
  );
  const activities = createPluginActivities({ registry });
  const params = { module: 'slurm', name: 'SlurmSweeper' };
  // Each lifecycle's own kill activity, in its own activity context, as the worker process runs them.
  const kill = (w: WorkSpec): Promise<PluginResult[]> =>
    new MockActivityEnvironment({ activityType: 'killWorkers' }, { logger: quiet }).run(
      activities.killWorkers,
      {
        params,
        harvesterID,
        queueName: 'SLURM_TEST',
        workers: [w],
      },
    );

  const workers = await submitSleepers(KILL_IDS);
  const ids = workers.map((w) => w.batchID as string);
  assert.equal(
    (await notEnded(ids)).length,
    KILL_IDS.length,
    'every job is queued or running before the kill',
  );

  const t0 = performance.now();
  const results = await Promise.all(workers.map(kill));
  const killMs = performance.now() - t0;
  assert.deepEqual(
    results.map((r) => r.map((x) => x.outcome)),
    workers.map(() => ['success']),
  );
  const chunks = chunkByLength(ids, 100_000, ' ').length;
  assert.equal(chunks, 1, 'these ids fit one command line');
  assert.equal(counter.counts.get('scancel'), chunks, 'one scancel per argv chunk for all 120 kills');
  assert.deepEqual([...(counter.calls[0]?.args ?? [])].sort(), [...ids].sort());
  let left = ids;
  const deadline = Date.now() + 30_000;
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = await notEnded(ids);
  }
  assert.deepEqual(left, [], 'every job ended');
  t.diagnostic(
    `${KILL_IDS.length} kills: ${counter.counts.get('scancel')} scancel call, activities done in ${killMs.toFixed(0)} ms`,
  );

  // A lone kill waits only the batch's idle gap: signal-free here, from the activity's start to the job ending.
  const [lone] = await submitSleepers([LONE_KILL_ID]);
  const t1 = performance.now();
  const [alone] = await kill(lone);
  assert.equal(alone.outcome, 'success', alone.diag);
  while ((await notEnded([lone.batchID as string])).length > 0) {
    assert.ok(performance.now() - t1 < 10_000, 'the lone job ended');
    await new Promise((r) => setTimeout(r, 20));
  }
  const loneMs = performance.now() - t1;
  assert.equal(counter.counts.get('scancel'), chunks + 1);
  t.diagnostic(`lone kill: job ended ${loneMs.toFixed(0)} ms after its kill activity started`);
  assert.ok(loneMs < 2000, `lone kill took ${loneMs.toFixed(0)} ms`);
});
