// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Harvester placeholders (${workerID}) in accessPoint templates.
/**
 * The HTCondor plugins against real HTCondor 23.9.6 output (test/fixtures/htcondor/htcondor-23.9.6,
 * captured from a personal pool in a Debian 13 chroot by that folder's capture.ts; provenance in
 * test/fixtures/htcondor/README.md). Each plugin call is replayed from the captures with the argv
 * the plugin builds checked against the argv it was captured with, so what a user sees (states,
 * exit codes, hold reasons, batch ids, per-job condor_rm outcomes) comes from what a schedd printed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import { CommandError, type CommandRunner } from '../../src/plugins/exec';
import {
  createHTCondorMonitor,
  createHTCondorSubmitter,
  createHTCondorSweeper,
  parseCondorJson,
  parseCondorRm,
  parseSubmitTerse,
} from '../../src/plugins/htcondor';
import type { CheckResult, PluginContext, PluginResult } from '../../src/plugins/types';

const DIR = resolve(__dirname, '../fixtures/htcondor/htcondor-23.9.6');
const read = (file: string) => readFileSync(join(DIR, file), 'utf8');
interface Capture {
  file: string;
  tool: string;
  argv: string[];
  exitCode: number;
  date: string;
}
const manifest = JSON.parse(read('captures.json')) as { condorVersion: string; captures: Capture[] };
const captures = manifest.captures;
const output = (c: Capture) => ({ stdout: read(`${c.file}.stdout`), stderr: read(`${c.file}.stderr`) });

// As in capture.ts: the plugins were told their host is "harvester-host"; the schedd is the chroot's.
const LOCAL = 'harvester-host';
const SCHEDD = 'condor-trixie.localdomain';
const REMOTE = `${SCHEDD},${SCHEDD}:19618`;
const HARVESTER_ID = 'condor3_trixie';
const scratch = mkdtempSync(join(tmpdir(), 'harvester-condor-captures-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Replays the captures of one label, each tool's in order. The argv must be the captured one (the submit
 * description's path is compared by file name: it was written under the chroot). A captured exit
 * code the caller does not accept throws as runCommand does.
 */
function replay(label: string): { run: CommandRunner; left: () => string[] } {
  const queue = captures.filter((c) => c.file.replace(/-\d+$/, '').startsWith(`${label}.`));
  assert.ok(queue.length > 0, `no captures for ${label}`);
  const run: CommandRunner = async (command, args, options = {}) => {
    const at = queue.findIndex((x) => x.tool === command);
    assert.ok(at >= 0, `${label}: unexpected extra call ${command}`);
    const [c] = queue.splice(at, 1);
    const norm = (argv: readonly string[]) =>
      command === 'condor_submit' ? argv.map((a) => (a.endsWith('.sdf') ? basename(a) : a)) : [...argv];
    assert.deepEqual(norm([command, ...args]), norm(c.argv), `${c.file}: argv`);
    const { stdout, stderr } = output(c);
    if (!(options.okExitCodes ?? [0]).includes(c.exitCode)) {
      throw new CommandError({
        kind: 'exitCode',
        command,
        args,
        host: LOCAL,
        exitCode: c.exitCode,
        signal: null,
        stdout,
        stderrTail: stderr,
        durationMs: 1,
      });
    }
    return { command, args, exitCode: c.exitCode, stdout, stderr, durationMs: 1 };
  };
  return { run, left: () => queue.map((c) => c.file) };
}

/** ctx.now at the time of a capture, so held-time arithmetic is what the monitor saw then. */
const ctxAt = (file: string): PluginContext => {
  const c = captures.find((x) => x.file === file);
  assert.ok(c, file);
  return { harvesterID: HARVESTER_ID, queueName: 'TRIXIE_CONDOR', now: () => new Date(c.date) };
};

function worker(workerID: number, batchID?: string, submissionHost = LOCAL, nCore = 1): WorkSpec {
  return {
    workerID,
    computingSite: 'TRIXIE_CONDOR',
    harvesterID: HARVESTER_ID,
    configID: '1',
    mapType: 'NoJob',
    status: batchID ? 'submitted' : 'pending',
    resourceType: nCore > 1 ? 'MCORE' : 'SCORE',
    jobType: 'managed',
    nCore,
    maxWalltime: 3600,
    batchID,
    submissionHost: batchID ? submissionHost : undefined,
    accessPoint: join(scratch, 'wdirs', '${workerID}'),
    creationTime: '2026-12-07T23:45:00Z',
  };
}

// The jobs of capture.ts: cluster 1 = workers 101..107 (106, 107 ask for 8 cores), 2.0 = 202
// (on_exit_hold), 3.0 = 301 (missing input file).
const JOBS: Array<[number, string]> = [
  [101, '1.0'],
  [102, '1.1'],
  [103, '1.2'],
  [104, '1.3'],
  [105, '1.4'],
  [106, '1.5'],
  [107, '1.6'],
  [202, '2.0'],
  [301, '3.0'],
];
const ALL = JOBS.map(([id, batch]) => worker(id, batch));
const byBatch = (batch: string, host = LOCAL) =>
  worker(JOBS.find(([, b]) => b === batch)?.[0] ?? 0, batch, host);

const HOLD = 'condor HoldReason: via condor_hold (by user harvester)';
const ON_EXIT_HOLD =
  "condor HoldReason: The job attribute OnExitHold expression 'ExitCode =!= 0' evaluated to TRUE";
const NO_INPUT =
  'condor HoldReason: Transfer input files failure at access point condor-trixie while sending files to execution point ' +
  'slot1_3@condor-trixie.localdomain. Details: reading from file /home/harvester/no-such-input.tar.gz: (errno 2) No such file or directory';
const NODE = 'condor-trixie.localdomain';

async function monitorReplay(label: string, workers: WorkSpec[], heldTimeout = 3600, allUsed = true) {
  const { run, left } = replay(label);
  const firstFile = captures.find((c) => c.file.startsWith(`${label}.`))?.file as string;
  const monitor = createHTCondorMonitor({ module: 'htcondor', name: '', heldTimeout }, ctxAt(firstFile), {
    localName: LOCAL,
    run,
  });
  const reply = await monitor.checkWorkers(workers);
  if (allUsed) assert.deepEqual(left(), [], `${label}: every captured call made`);
  return reply;
}

const summary = (r: CheckResult) => [r.status, r.nativeExitCode, r.diag];

test('captures are HTCondor 23.9.6 from Debian 13', () => {
  assert.match(
    manifest.condorVersion,
    /^\$CondorVersion: 23\.9\.6 .* PackageID: 23\.9\.6\+dfsg-2\.1\+b10 \$/,
  );
  assert.match(manifest.condorVersion, /\$CondorPlatform: X86_64-Debian_13 \$/);
});

test('every condor_q / condor_history capture: listings parse; each failed query is refused, even without its exit code', () => {
  const refused: string[] = [];
  for (const c of captures.filter((x) => x.tool === 'condor_q' || x.tool === 'condor_history')) {
    const { stdout, stderr } = output(c);
    if (c.exitCode === 0) {
      const ads = parseCondorJson(stdout, c.tool, stderr);
      for (const ad of ads) assert.ok(Number.isInteger(ad.JobStatus), `${c.file}: JobStatus`);
      continue;
    }
    // A wrapper that loses the exit code must not turn these into "no jobs".
    assert.throws(() => parseCondorJson(stdout, c.tool, stderr), /query failed: /, c.file);
    refused.push(c.file);
  }
  assert.deepEqual(refused.sort(), [
    'collector-off-remote.condor_history',
    'collector-off-remote.condor_q',
    'no-collector.condor_history',
    'no-collector.condor_q',
    'schedd-dead-remote.condor_history',
    'schedd-dead-remote.condor_q',
    'schedd-dead.condor_q',
    'schedd-off-remote.condor_history',
    'schedd-off-remote.condor_q',
    'schedd-off-submit.condor_q',
    'schedd-off.condor_q',
    'unknown-host.condor_history',
    'unknown-host.condor_q',
    'unknown-schedd.condor_history',
    'unknown-schedd.condor_q',
  ]);
  const why = (file: string, tool: string) => {
    const { stdout, stderr } = output({ file } as Capture);
    try {
      parseCondorJson(stdout, tool, stderr);
    } catch (err) {
      return (err as Error).message;
    }
    return 'accepted';
  };
  assert.equal(
    why('no-collector.condor_q', 'condor_q'),
    `condor_q query failed: Error: Couldn't contact the condor_collector on ${SCHEDD}:19999.`,
  );
  assert.equal(
    why('schedd-off.condor_q', 'condor_q'),
    "condor_q query failed: Error: Can't find address for schedd condor-trixie.localdomain",
  );
  assert.equal(
    why('unknown-host.condor_q', 'condor_q'),
    'condor_q query failed: Error: unknown host nosuchschedd',
  );
  assert.equal(
    why('unknown-schedd.condor_q', 'condor_q'),
    'condor_q query failed: Error: Collector has no record of schedd/submitter',
  );
  assert.match(
    why('schedd-dead.condor_q', 'condor_q'),
    /^condor_q query failed: -- Failed to fetch ads from: <192\.168\.213\.1:\d+\?addrs=.*> : condor-trixie\.localdomain CEDAR:6001:Failed to connect to <192\.168\.213\.1:\d+\?addrs=.*>$/,
  );
  assert.equal(
    why('no-collector.condor_history', 'condor_history'),
    `condor_history query failed: Unable to locate remote schedd (name=${SCHEDD}, pool=${SCHEDD}:19999).`,
  );
  // condor_history prints "[" before it finds out: the half listing alone is not JSON either.
  assert.throws(
    () => parseCondorJson(read('no-collector.condor_history.stdout'), 'condor_history'),
    /not JSON/,
  );
});

test('empty listings: condor_q prints nothing, condor_history "[\\n]\\n"', () => {
  assert.equal(read('monitor-unknown.condor_q.stdout'), '');
  assert.equal(read('monitor-unknown.condor_history.stdout'), '[\n]\n');
  assert.equal(read('lookup-none.condor_q.stdout'), '');
  assert.equal(read('lookup-none.condor_history.stdout'), '[\n]\n');
  for (const f of ['monitor-unknown.condor_q', 'monitor-unknown.condor_history', 'lookup-none.condor_q'])
    assert.deepEqual(parseCondorJson(read(`${f}.stdout`), f.split('.')[1], read(`${f}.stderr`)), []);
});

test('condor_submit -terse: one "C.P - C.P" line per call', () => {
  assert.equal(read('submit.condor_submit.stdout'), '1.0 - 1.6\n');
  assert.deepEqual(parseSubmitTerse(read('submit.condor_submit.stdout')), {
    clusterId: 1,
    firstProc: 0,
    lastProc: 6,
  });
  assert.deepEqual(parseSubmitTerse(read('submit-on-exit-hold.condor_submit.stdout')), {
    clusterId: 2,
    firstProc: 0,
    lastProc: 0,
  });
});

test('submitter: lookup, one condor_submit for seven workers, batch ids C.P; schedd down is temporary', async () => {
  const submitter = (label: string) =>
    createHTCondorSubmitter(
      {
        module: 'htcondor',
        name: '',
        template: 'executable = /home/harvester/pilot.sh\n',
        submitDir: join(scratch, 'submit'),
      },
      ctxAt(`${label}.condor_q`),
      { localName: LOCAL, run: replay(label).run },
    );
  // Only argv and output matter here: the captured condor_submit read the capture's own template.
  const fresh = [101, 102, 103, 104, 105, 106, 107].map((id) =>
    worker(id, undefined, LOCAL, id >= 106 ? 8 : 1),
  );
  const results = await submitter('submit').submitWorkers(fresh);
  assert.deepEqual(
    results.map((r) => [r.outcome, r.batchID, r.submissionHost]),
    JOBS.slice(0, 7).map(([, b]) => ['success', b, LOCAL]),
  );

  // The retry lookup finds every job, queued (condor_q) or finished (condor_history).
  const found = await submitter('lookup-found').findSubmittedWorkers([
    ...JOBS.map(([id]) => worker(id)),
    worker(999),
  ]);
  assert.deepEqual(
    [...found].map(([id, r]) => [id, r.batchID]).sort(),
    [...JOBS.map(([id, b]) => [id, b]), ...[]].sort(),
  );
  assert.equal((await submitter('lookup-none').findSubmittedWorkers([worker(998), worker(999)])).size, 0);

  const down = await submitter('schedd-off-submit').submitWorkers([worker(994)]);
  assert.equal(down[0].outcome, 'temporaryFailure');
  assert.match(
    down[0].diag,
    /^HTCondorSubmitter: cannot check for existing jobs before submitting: condor_q query failed: Error: Can't find address for schedd condor-trixie\.localdomain$/,
  );
});

test('monitor: idle, running, held (condor_hold, OnExitHold, input transfer) and finished, locally and via -name/-pool', async () => {
  const fresh = await monitorReplay('monitor-just-submitted', ALL.slice(0, 7));
  assert.equal(fresh.ok, true);
  assert.deepEqual(
    fresh.results.map((r) => [r.status, r.nativeStatus, r.diag]),
    ALL.slice(0, 7).map(() => ['submitted', 'idle', '']),
  );

  for (const [label, host] of [
    ['monitor-mixed', LOCAL],
    ['remote-mixed', REMOTE],
  ] as const) {
    const workers = JOBS.map(([, b]) => byBatch(b, host));
    const reply = await monitorReplay(label, workers);
    assert.equal(reply.ok, true, label);
    const r = reply.results;
    assert.deepEqual(
      r.map(summary),
      [
        ['finished', 0, ''],
        ['failed', 3, 'pilot exited with code 3'],
        ['failed', 137, 'pilot killed by signal 9'],
        ['running', undefined, ''],
        ['running', undefined, ''],
        ['submitted', undefined, ''],
        ['submitted', undefined, HOLD],
        ['submitted', undefined, ON_EXIT_HOLD],
        ['submitted', undefined, NO_INPUT],
      ],
      label,
    );
    assert.deepEqual(
      r.map((x) => x.nativeStatus),
      ['completed', 'completed', 'completed', 'running', 'running', 'idle', 'held', 'held', 'held'],
    );
    assert.deepEqual(
      r.map((x) => x.nodeID),
      [NODE, NODE, NODE, NODE, NODE, undefined, undefined, NODE, NODE],
      'slot1_N@machine: the machine; from LastRemoteHost once the job left it',
    );
    assert.ok(r[0].startTime && r[0].endTime && r[3].startTime && !r[3].endTime);
  }
});

test('monitor: a job being removed, held jobs past heldTimeout removed, then everything from history', async () => {
  const removing = await monitorReplay('monitor-removing', [byBatch('1.3'), byBatch('1.4')]);
  assert.deepEqual(removing.results.map(summary), [
    ['cancelled', undefined, 'condor job removed: via condor_rm (by user harvester)'],
    ['cancelled', undefined, 'condor job removed: via condor_rm (by user harvester)'],
  ]);
  assert.deepEqual(
    removing.results.map((r) => r.nativeStatus),
    ['removed', 'removed'],
    '1.4 still in the queue (ignores SIGTERM), 1.3 in history',
  );

  const held = await monitorReplay(
    'monitor-held-timeout',
    [byBatch('1.6'), byBatch('2.0'), byBatch('3.0')],
    0,
  );
  assert.equal(held.ok, true);
  for (const [i, reason] of [HOLD, ON_EXIT_HOLD, NO_INPUT].entries()) {
    assert.equal(held.results[i].status, 'cancelled');
    assert.equal(held.results[i].pilotClosed, true);
    assert.ok(held.results[i].diag.startsWith(`${reason}; removed: held for `), held.results[i].diag);
    assert.match(held.results[i].diag, /; removed: held for \d+ s > heldTimeout 0 s$/);
  }

  const done = await monitorReplay(
    'monitor-history',
    ALL.map((w) => ({ ...w, status: 'running' as const })),
  );
  assert.deepEqual(done.results.map(summary), [
    ['finished', 0, ''],
    ['failed', 3, 'pilot exited with code 3'],
    ['failed', 137, 'pilot killed by signal 9'],
    // Removed while running: HTCondor records ExitBySignal (15, or 9 after the vacate time); removed wins.
    ['cancelled', undefined, 'condor job removed: via condor_rm (by user harvester)'],
    ['cancelled', undefined, 'condor job removed: via condor_rm (by user harvester)'],
    ['cancelled', undefined, 'condor job removed: via condor_rm (by user harvester)'],
    [
      'cancelled',
      undefined,
      'condor job removed: via condor_rm (by user harvester); last held: via condor_hold (by user harvester)',
    ],
    [
      'cancelled',
      undefined,
      `condor job removed: via condor_rm (by user harvester); last held: ${ON_EXIT_HOLD.replace('condor HoldReason: ', '')}`,
    ],
    [
      'cancelled',
      undefined,
      `condor job removed: via condor_rm (by user harvester); last held: ${NO_INPUT.replace('condor HoldReason: ', '')}`,
    ],
  ]);

  const unknown = await monitorReplay('monitor-unknown', [worker(993, '88888.0')]);
  assert.deepEqual(unknown.results.map(summary), [
    [null, undefined, 'condor job 88888.0 not found in queue or history; skipped'],
  ]);
});

test("monitor: every failed condor_q is {ok: false} with the tool's reason, never zero workers", async () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      'no-collector',
      `${SCHEDD},${SCHEDD}:19999`,
      /Couldn't contact the condor_collector on condor-trixie\.localdomain:19999\.$/,
    ],
    ['unknown-schedd', `nosuch@${SCHEDD},${SCHEDD}:19618`, /Collector has no record of schedd\/submitter/],
    ['unknown-host', `nosuchschedd,${SCHEDD}:19618`, /Error: unknown host nosuchschedd/],
    ['schedd-off', LOCAL, /Error: Can't find address for schedd condor-trixie.localdomain/],
    ['schedd-off-remote', REMOTE, /Collector has no record of schedd\/submitter/],
    [
      'schedd-dead',
      LOCAL,
      /-- Failed to fetch ads from: <192\.168\.213\.1:\d+.*CEDAR:6001:Failed to connect/s,
    ],
    ['schedd-dead-remote', REMOTE, /-- Failed to fetch ads from: .*CEDAR:6001:Failed to connect/s],
    [
      'collector-off-remote',
      REMOTE,
      /Couldn't contact the condor_collector on condor-trixie\.localdomain:19618\.$/,
    ],
  ];
  for (const [label, host, why] of cases) {
    const { run } = replay(label);
    const monitor = createHTCondorMonitor({ module: 'htcondor', name: '' }, ctxAt(`${label}.condor_q`), {
      localName: LOCAL,
      run,
    });
    const reply = await monitor.checkWorkers([byBatch('1.0', host)]);
    assert.equal(reply.ok, false, label);
    assert.deepEqual(reply.results, [], label);
    assert.match(reply.diag, why, label);
  }
  // The local schedd answers without its collector: job 1.0 is found in its history.
  const noCollector = await monitorReplay('collector-off', [byBatch('1.0')], 3600, false);
  assert.deepEqual(noCollector.results.map(summary), [['finished', 0, '']]);
});

test('sweeper: condor_rm per-job lines decide; exit 0 with failures beside a success, exit 1 with none removed', async () => {
  const kill = async (label: string, workers: WorkSpec[]): Promise<PluginResult[]> => {
    const { run, left } = replay(label);
    const results = await createHTCondorSweeper(
      { module: 'htcondor', name: '' },
      ctxAt(`${label}.condor_rm`),
      {
        localName: LOCAL,
        run,
      },
    ).killWorkers(workers);
    assert.ok(!left().some((f) => f.includes('.condor_rm')), `${label}: condor_rm made`);
    return results;
  };
  assert.deepEqual(await kill('rm-running', [byBatch('1.3')]), [{ outcome: 'success', diag: '' }]);
  assert.deepEqual(await kill('rm-ignores-term', [byBatch('1.4')]), [{ outcome: 'success', diag: '' }]);
  assert.equal(read('rm-again.condor_rm.exit'), '1\n');
  assert.deepEqual(await kill('rm-again', [byBatch('1.4')]), [
    { outcome: 'success', diag: 'condor job 1.4 was already marked for removal' },
  ]);

  // One call: removed, gone (finished), still removing, no such cluster, no such proc, another user's.
  assert.equal(read('rm-mix.condor_rm.exit'), '0\n');
  assert.equal(read('rm-mix.condor_rm.stdout'), 'Job 1.5 marked for removal\n');
  const mix = await kill('rm-mix', [
    byBatch('1.0'),
    byBatch('1.4'),
    byBatch('1.5'),
    worker(990, '99999.0'),
    worker(991, '1.77'),
    worker(992, '4.0'),
  ]);
  assert.deepEqual(mix, [
    { outcome: 'success', diag: 'condor job 1.0 already gone (not in the queue)' },
    { outcome: 'success', diag: 'condor job 1.4 was already marked for removal' },
    { outcome: 'success', diag: '' },
    { outcome: 'success', diag: 'condor job 99999.0 already gone (not in the queue)' },
    { outcome: 'success', diag: 'condor job 1.77 already gone (not in the queue)' },
    { outcome: 'permanentFailure', diag: 'HTCondorSweeper: condor_rm: permission denied to remove job 4.0' },
  ]);
  assert.deepEqual(
    [...parseCondorRm(`${read('monitor-held-timeout.condor_rm.stdout')}`)],
    [
      ['1.6', 'removed'],
      ['2.0', 'removed'],
      ['3.0', 'removed'],
    ],
  );

  // Not reached: no line for the job, so temporary, with condor_rm's own words.
  const unreached: Array<[string, string, string]> = [
    ['no-collector', `${SCHEDD},${SCHEDD}:19999`, 'condor_rm: (null)'],
    [
      'unknown-schedd',
      `nosuch@${SCHEDD},${SCHEDD}:19618`,
      `condor_rm: Can't find address for schedd nosuch@${SCHEDD}`,
    ],
    ['unknown-host', `nosuchschedd,${SCHEDD}:19618`, 'condor_rm: unknown host nosuchschedd'],
    ['schedd-off', LOCAL, `condor_rm: Can't find address for schedd ${SCHEDD}`],
    ['schedd-off-remote', REMOTE, `condor_rm: Can't find address for schedd ${SCHEDD}`],
    ['collector-off-remote', REMOTE, 'condor_rm: (null)'],
  ];
  for (const [label, host, line] of unreached) {
    const [r] = await kill(label, [byBatch('1.0', host)]);
    assert.equal(r.outcome, 'temporaryFailure', label);
    assert.equal(
      r.diag,
      `HTCondorSweeper: condor_rm printed no result for job 1.0: condor_rm exited with code 1: ${line}`,
    );
  }
  // A schedd that died with its ad in the collector: condor_rm says "No result found" itself.
  for (const [label, host] of [
    ['schedd-dead', LOCAL],
    ['schedd-dead-remote', REMOTE],
  ]) {
    assert.match(
      read(`${label}.condor_rm.stderr`),
      /^DCSchedd::actOnJobs:6001:Failed to connect to schedd\nNo result found for job 1\.0\n$/,
    );
    assert.deepEqual(await kill(label, [byBatch('1.0', host)]), [
      {
        outcome: 'temporaryFailure',
        diag: 'HTCondorSweeper: condor_rm: the schedd gave no result for job 1.0',
      },
    ]);
  }
  // Collector down, local schedd up: the finished job is simply not in the queue.
  assert.deepEqual(await kill('collector-off', [byBatch('1.0')]), [
    { outcome: 'success', diag: 'condor job 1.0 already gone (not in the queue)' },
  ]);
});
