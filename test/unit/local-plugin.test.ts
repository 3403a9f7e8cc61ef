// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Harvester placeholders (${workerID}) are the subject under test.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import { readTextIfExists } from '../../src/plugins/common/files';
import { createLocalMonitor, createLocalSubmitter, createLocalSweeper } from '../../src/plugins/local';
import type { PluginContext } from '../../src/plugins/types';

const root = mkdtempSync(join(tmpdir(), 'harvester-local-'));
after(() => rmSync(root, { recursive: true, force: true }));

const READY = 'pilot ready';
const ctx: PluginContext = { harvesterID: 'h1', queueName: 'LOCAL' };
// Pilots 3-5 print a line once they are ready to be killed: the test waits for it, so a signal
// never arrives before the wrapper's or the pilot's trap is set (that race made 4 die of SIGTERM).
const TEMPLATE = `#!/bin/sh
echo "worker \${workerID} of \${harvesterID} site {computingSite} in \${accessPoint}"
case \${workerID} in
  2) echo boom >&2; exit 3 ;;
  3) echo "${READY}"; sleep 60 ;;
  4|5) trap '' TERM; echo "${READY}"; sleep 60 ;;
esac
`;

function worker(workerID: number): WorkSpec {
  return {
    workerID,
    computingSite: 'LOCAL',
    harvesterID: 'h1',
    configID: '1',
    mapType: 'NoJob',
    status: 'submitted',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    accessPoint: join(root, '${workerID}'),
    creationTime: new Date().toISOString(),
  };
}

const params = { module: 'local', name: '' };

/** Polls `fn` until true; generous deadline because a loaded 2-core machine starts shells slowly. */
async function waitFor(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const stdoutOf = (workerID: number) => readTextIfExists(join(root, String(workerID), 'pilot.stdout'));
/** When the sweeper decided to kill: it writes the time into pilot.killed just before SIGTERM. */
const killRequestedAt = (workerID: number) =>
  Date.parse(readFileSync(join(root, String(workerID), 'pilot.killed'), 'utf8').trim());

test('local workers: run, finish, fail, kill (TERM and KILL), idempotent submit, sweep', async () => {
  const graceSeconds = 2;
  const submitter = createLocalSubmitter({ ...params, template: TEMPLATE }, ctx);
  const monitor = createLocalMonitor(params, ctx);
  const sweeper = createLocalSweeper({ ...params, killGraceSeconds: graceSeconds }, ctx);
  const workers = [1, 2, 3, 4, 5].map(worker);

  const submitted = await submitter.submitWorkers(workers);
  for (const [i, r] of submitted.entries()) {
    assert.equal(r.outcome, 'success', r.diag);
    workers[i].batchID = r.batchID;
  }
  // A retried submit finds the running process instead of starting a second one.
  const again = await submitter.submitWorkers([worker(3)]);
  assert.equal(again[0].batchID, workers[2].batchID);
  assert.match(again[0].diag, /found existing/);

  await waitFor('workers 1 and 2 to end as finished and failed', async () => {
    const r = await monitor.checkWorkers(workers);
    return r.results[0].status === 'finished' && r.results[1].status === 'failed';
  });
  for (const id of [3, 4, 5])
    await waitFor(`pilot ${id} to print "${READY}" (its traps are set)`, async () =>
      ((await stdoutOf(id)) ?? '').includes(`${READY}\n`),
    );
  const mid = await monitor.checkWorkers(workers);
  assert.equal(mid.ok, true);
  assert.deepEqual(
    mid.results.map((r) => r.status),
    ['finished', 'failed', 'running', 'running', 'running'],
  );
  assert.equal(mid.results[1].nativeExitCode, 3);
  assert.match(mid.results[1].diag, /exited with code 3/);
  assert.equal(await stdoutOf(1), `worker 1 of h1 site LOCAL in ${join(root, '1')}\n`);
  assert.equal(readFileSync(join(root, '2', 'pilot.stderr'), 'utf8'), 'boom\n');

  // Worker 3 ends on SIGTERM; 4 and 5 ignore it and need the SIGKILL after the grace period.
  const t0 = Date.now();
  const killed = await sweeper.killWorkers([workers[2], workers[3], workers[4], workers[0]]);
  const elapsed = Date.now() - t0;
  assert.deepEqual(
    killed.map((k) => k.outcome),
    ['success', 'success', 'success', 'success'],
    killed.map((k) => k.diag).join(' | '),
  );
  assert.deepEqual(
    killed.map((k) => k.diag),
    ['', 'needed SIGKILL', 'needed SIGKILL', 'not running'],
  );
  assert.ok(elapsed >= graceSeconds * 1000, `SIGKILL came after the grace period (${elapsed} ms)`);
  // Killed in parallel: one at a time, the second SIGTERM would follow the first by a whole grace period.
  const gap = Math.abs(killRequestedAt(5) - killRequestedAt(4));
  assert.ok(gap < graceSeconds * 1000, `workers 4 and 5 were signalled ${gap} ms apart`);

  const end = await monitor.checkWorkers(workers);
  assert.deepEqual(
    end.results.map((r) => r.status),
    ['finished', 'failed', 'cancelled', 'cancelled', 'cancelled'],
  );
  assert.equal(end.results[2].nativeExitCode, 143, 'the wrapper recorded the SIGTERM exit');

  const swept = await sweeper.sweepWorker(workers[0]);
  assert.equal(swept.outcome, 'success');
  assert.ok(!existsSync(join(root, '1')));
});

test('a worker without access point is "cannot tell", and a shallow path is never deleted', async () => {
  const monitor = createLocalMonitor(params, ctx);
  const w = { ...worker(9), accessPoint: undefined };
  const reply = await monitor.checkWorkers([w]);
  assert.equal(reply.results[0].status, null);
  assert.match(reply.results[0].diag, /no accessPoint/);
  const sweeper = createLocalSweeper(params, ctx);
  const r = await sweeper.sweepWorker({ ...worker(9), accessPoint: '/tmp' });
  assert.equal(r.outcome, 'permanentFailure');
  assert.ok(existsSync('/tmp'));
});
