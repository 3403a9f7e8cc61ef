/**
 * Bulk kills (src/activities/plugin.ts KILL_BATCH): kill activities of one queue that arrive close
 * together share one sweeper call, and each activity gets its own worker's outcome back. The
 * sweepers are the real Slurm and HTCondor ones with their command runner replaying real outputs
 * (test/fixtures/slurm, test/fixtures/htcondor; provenance in their READMEs). The batch windows are
 * timers: a mocked clock moves them exactly, as in keyedBatcher.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { WorkersPluginCall } from '../../src/activities/lifecycleTypes';
import { createPluginActivities, KILL_BATCH } from '../../src/activities/plugin';
import type { WorkSpec } from '../../src/core/specs';
import { CommandError, type CommandRunner } from '../../src/plugins/exec';
import { createHTCondorSweeper } from '../../src/plugins/htcondor';
import { PluginRegistry } from '../../src/plugins/registry';
import { createSlurmSweeper } from '../../src/plugins/slurm';
import type { PluginParams, PluginResult } from '../../src/plugins/types';

const slurmFixture = (name: string) => readFileSync(resolve(__dirname, '../fixtures/slurm', name), 'utf8');
const condorFixture = (name: string) =>
  readFileSync(resolve(__dirname, '../fixtures/htcondor', name), 'utf8');

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

/** Answers every call of `command` with the captured output; exit codes other than 0 are thrown as the real runner does. */
function replay(answer: { stdout?: string; stderr?: string; exitCode?: number; okExitCodes?: number[] }) {
  const calls: string[][] = [];
  let release: (() => void) | undefined;
  let hold: Promise<void> | undefined;
  const run: CommandRunner = async (command, args, options) => {
    calls.push([command, ...args]);
    if (hold) await hold;
    const exitCode = answer.exitCode ?? 0;
    const ok = options?.okExitCodes ?? [0];
    if (!ok.includes(exitCode))
      throw new CommandError({
        kind: 'exitCode',
        command,
        args,
        host: 'test',
        exitCode,
        signal: null,
        stdout: answer.stdout ?? '',
        stderrTail: answer.stderr ?? '',
        durationMs: 1,
      });
    return {
      command,
      args,
      exitCode,
      stdout: answer.stdout ?? '',
      stderr: answer.stderr ?? '',
      durationMs: 1,
    };
  };
  return {
    run,
    calls,
    /** Makes the next calls wait until released (a slow scancel). */
    holdCalls() {
      hold = new Promise<void>((r) => {
        release = r;
      });
    },
    release: () => release?.(),
  };
}

function registryWith(run: CommandRunner): PluginRegistry {
  const registry = new PluginRegistry();
  registry.register('sweeper', 'slurm', 'SlurmSweeper', (p, c) => createSlurmSweeper(p, c, { run }));
  registry.register('sweeper', 'htcondor', 'HTCondorSweeper', (p, c) =>
    createHTCondorSweeper(p, c, { run, localName: 'harvester01.example.org' }),
  );
  return registry;
}

function worker(workerID: number, batchID: string, submissionHost?: string): WorkSpec {
  return {
    workerID,
    computingSite: 'Q',
    harvesterID: 'h1',
    configID: '1',
    mapType: 'NoJob',
    status: 'running',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    batchID,
    submissionHost,
    creationTime: '2026-12-07T00:00:00.000Z',
  };
}

const SLURM: PluginParams = { module: 'slurm', name: 'SlurmSweeper' };
const CONDOR: PluginParams = { module: 'htcondor', name: 'HTCondorSweeper' };

/** One lifecycle's kill activity, each in its own activity context (as on a worker), with its heartbeats counted. */
function killActivity(
  activities: ReturnType<typeof createPluginActivities>,
  call: WorkersPluginCall,
): { result: Promise<PluginResult[]>; heartbeats: () => number } {
  const env = new MockActivityEnvironment({ activityType: 'killWorkers' });
  let beats = 0;
  env.on('heartbeat', () => beats++);
  return { result: env.run(activities.killWorkers, call), heartbeats: () => beats };
}

const call = (params: PluginParams, w: WorkSpec, queueName = 'Q'): WorkersPluginCall => ({
  params,
  harvesterID: 'h1',
  queueName,
  workers: [w],
});

test('200 kill activities of one queue are one scancel; each gets its own outcome from the real stderr', async () => {
  // 24.11.5, scancel exiting 210: jobs 10 and 4 denied, the other ids killed (invalid ids are hidden).
  const r = replay({ exitCode: 210, stderr: slurmFixture('scancel-denied-mixed-24.11.5.stderr') });
  const activities = createPluginActivities({ registry: registryWith(r.run) });
  const ids = ['10', '999999', '4', ...Array.from({ length: 197 }, (_, i) => String(1000 + i))];
  const kills = ids.map((id, i) => killActivity(activities, call(SLURM, worker(i + 1, id))));
  // Two hundred at once are a bulk kill: they wait for the burst's quiet gap, then go out together.
  mock.timers.tick(KILL_BATCH.burst.idleMs - 1);
  assert.equal(r.calls.length, 0, 'held for batch mates until the quiet gap');
  mock.timers.tick(1);
  const results = await Promise.all(kills.map((k) => k.result));
  assert.equal(r.calls.length, 1, 'one scancel for all 200');
  assert.deepEqual(r.calls[0], ['scancel', ...ids]);
  assert.equal(results[0][0].outcome, 'temporaryFailure');
  assert.match(results[0][0].diag, /scancel 10: Access\/permission denied/);
  assert.equal(results[1][0].outcome, 'success', 'a job Slurm no longer knows counts as killed');
  assert.equal(results[2][0].outcome, 'temporaryFailure');
  assert.match(results[2][0].diag, /scancel 4: Access\/permission denied/);
  for (const res of results.slice(3)) assert.deepEqual(res, [{ outcome: 'success', diag: '' }]);
});

test('already completed and invalid ids (scancel -v lines) are killed; kills of other clusters and queues go apart', async () => {
  const r = replay({ stderr: slurmFixture('scancel-verbose-gone-done-24.11.5.stderr') });
  const activities = createPluginActivities({ registry: registryWith(r.run) });
  const kills = [
    killActivity(activities, call(SLURM, worker(1, '999999'))),
    killActivity(activities, call(SLURM, worker(2, '4'))),
    killActivity(activities, call(SLURM, worker(3, '77', 'login1,alpha'))),
    killActivity(activities, call(SLURM, worker(4, '78'), 'OTHER_QUEUE')),
  ];
  mock.timers.tick(KILL_BATCH.idleMs);
  const results = await Promise.all(kills.map((k) => k.result));
  assert.deepEqual(
    results.map((x) => x[0].outcome),
    ['success', 'success', 'success', 'success'],
  );
  assert.deepEqual(r.calls.sort(), [
    ['scancel', '-M', 'alpha', '77'],
    ['scancel', '78'],
    ['scancel', '999999', '4'],
  ]);
});

test('a steady stream of kills goes out at the window, not held while kills keep coming', async () => {
  const r = replay({});
  const activities = createPluginActivities({ registry: registryWith(r.run) });
  const kills: Array<Promise<PluginResult[]>> = [];
  const gap = KILL_BATCH.idleMs - 50;
  let elapsed = 0;
  // Fewer kills per window than a burst: each window's go out at its end.
  for (let i = 0; elapsed < 2 * KILL_BATCH.windowMs; i++) {
    kills.push(killActivity(activities, call(SLURM, worker(i + 1, String(100 + i)))).result);
    mock.timers.tick(gap);
    elapsed += gap;
  }
  mock.timers.tick(KILL_BATCH.idleMs);
  await Promise.all(kills);
  const perCall = r.calls.map((c) => c.length - 1);
  assert.equal(
    perCall.reduce((a, b) => a + b, 0),
    kills.length,
    'every worker in exactly one call',
  );
  assert.ok(r.calls.length >= 2 && r.calls.length <= 3, `one call per window: ${perCall.join(', ')}`);
  assert.ok(perCall[0] > 1, 'the first call took the kills of its window');
  assert.ok(Math.max(...perCall) < KILL_BATCH.burst.afterItems, 'no window of this stream was a burst');
});

test('each waiting kill activity heartbeats through a slow batched scancel; a failed call fails every kill of its batch', async () => {
  // Real timers here: the SDK's heartbeat needs the activity's async context, which mocked
  // intervals do not keep.
  mock.timers.reset();
  const r = replay({});
  r.holdCalls();
  const activities = createPluginActivities({ registry: registryWith(r.run) });
  const kills = [1, 2, 3].map((i) => killActivity(activities, call(SLURM, worker(i, String(i)))));
  await sleep(KILL_BATCH.idleMs + 100);
  assert.equal(r.calls.length, 1);
  await sleep(3500); // a slow scancel: each activity goes on heartbeating (every 3 s) while it waits
  for (const k of kills) assert.ok(k.heartbeats() >= 2, `heartbeats while waiting: ${k.heartbeats()}`);
  r.release();
  await Promise.all(kills.map((k) => k.result));

  // The sweeper cannot be loaded where this runs: every kill of the batch fails, each retried by its lifecycle.
  const broken = createPluginActivities({ registry: new PluginRegistry() });
  const failing = [1, 2].map((i) => killActivity(broken, call(SLURM, worker(i, String(i)))));
  for (const f of failing) await assert.rejects(f.result, /SlurmSweeper|slurm/);
});

test('HTCondor: kills of one schedd are one condor_rm; each worker gets its own line from the real output', async () => {
  const r = replay({
    exitCode: 1,
    stdout: condorFixture('condor_rm.out'),
    stderr: condorFixture('condor_rm.err'),
  });
  const activities = createPluginActivities({ registry: registryWith(r.run) });
  const schedd = 'schedd01.example.org,pool.example.org';
  const jobs = ['4242.2', '4242.8', '4240.0', '241.0', '4243.0'];
  const kills = jobs.map((id, i) => killActivity(activities, call(CONDOR, worker(i + 1, id, schedd))));
  const other = killActivity(activities, call(CONDOR, worker(9, '4242.2', 'schedd02.example.org')));
  mock.timers.tick(KILL_BATCH.idleMs);
  const results = await Promise.all(kills.map((k) => k.result));
  await other.result;
  assert.deepEqual(
    r.calls.sort(),
    [
      ['condor_rm', '-name', 'schedd01.example.org', '-pool', 'pool.example.org', ...jobs],
      ['condor_rm', '-name', 'schedd02.example.org', '4242.2'],
    ],
    'one condor_rm per schedd',
  );
  assert.deepEqual(
    results.map((x) => x[0].outcome),
    ['success', 'success', 'success', 'permanentFailure', 'temporaryFailure'],
  );
  assert.match(results[1][0].diag, /already marked for removal/);
  assert.match(results[2][0].diag, /already gone/);
  assert.match(results[3][0].diag, /permission denied to remove job 241\.0/);
  assert.match(results[4][0].diag, /no result for job 4243\.0/);
});

test("a batch that fills the process's activity slots goes out at once: no further kill could start to join it", async () => {
  const r = replay({});
  const activities = createPluginActivities({ registry: registryWith(r.run), activitySlots: 20 });
  const kills = Array.from({ length: 50 }, (_, i) =>
    killActivity(activities, call(SLURM, worker(i + 1, String(i + 1)))),
  );
  await new Promise(setImmediate); // the activities have started (setImmediate is not mocked)
  assert.deepEqual(
    r.calls.map((c) => c.length - 1),
    [20, 20],
    'two full batches without waiting for the idle gap',
  );
  mock.timers.tick(KILL_BATCH.burst.idleMs);
  await Promise.all(kills.map((k) => k.result));
  assert.deepEqual(
    r.calls.map((c) => c.length - 1),
    [20, 20, 10],
  );
});
