/**
 * The real PanDA client against the PanDA simulator over HTTP on 127.0.0.1. No Temporal, no DB.
 * Run: node --import tsx --test test/integration/panda-client.test.ts
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { inspect } from 'node:util';
import {
  createPandaClient,
  type JobUpdate,
  type PandaClientOptions,
  type PandaCommunicator,
  PandaError,
  type PandaErrorKind,
  type PandaLogger,
  TRANSPORT_STATUS_CODE,
} from '../../src/panda';
import { HOUR, ManualClock, MINUTE, type PandaSim, type SimOptions, startPandaSim } from '../panda-sim';

const HID = 'test-harvester';
const QUEUE = 'CERN-PROD_SIM';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.sim-secret-token-value.c2lnbmF0dXJl';
const ORIGIN = 'atlas:production';

let dir: string;
let tokenFile: string;
const sims: PandaSim[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'panda-client-test-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
});

after(async () => {
  await Promise.all(sims.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function sim(opts: SimOptions = {}): Promise<PandaSim> {
  const s = await startPandaSim({ tokens: [TOKEN], ...opts });
  sims.push(s);
  return s;
}

function client(s: PandaSim, extra: Partial<PandaClientOptions> = {}): PandaCommunicator {
  return createPandaClient({
    baseUrl: s.url,
    harvesterId: HID,
    auth: { tokenFile, origin: ORIGIN },
    timeoutMs: 5000,
    ...extra,
  });
}

/** Captures every log line the client writes, to prove no secret reaches a log. */
function captureLogger(): PandaLogger & { lines: string[] } {
  const lines: string[] = [];
  const write = (obj: Record<string, unknown>, msg: string) => {
    lines.push(`${msg} ${JSON.stringify(obj)}`);
  };
  return { lines, debug: write, warn: write };
}

async function expectPandaError(p: Promise<unknown>, kind: PandaErrorKind): Promise<PandaError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PandaError, `expected PandaError, got ${inspect(err)}`);
    assert.equal(err.kind, kind, `kind of: ${err.message}`);
    return err;
  }
  assert.fail(`expected a PandaError of kind ${kind}, but the call succeeded`);
}

function assertNoSecret(text: string): void {
  assert.ok(!text.includes(TOKEN), `token leaked: ${text}`);
  assert.ok(!text.includes('sim-secret-token-value'), `token part leaked: ${text}`);
  assert.ok(!/BEGIN [A-Z ]*PRIVATE KEY/.test(text), `key leaked: ${text}`);
}

const outputReport = (lfns: string[]) =>
  JSON.stringify(
    Object.fromEntries(
      lfns.map((lfn) => [
        lfn,
        { guid: `g-${lfn}`, fsize: 1234, adler32: '0a1b2c3d', surl: `root://se/${lfn}` },
      ]),
    ),
  );

test('acquire jobs and update them through to finished', async () => {
  const s = await sim();
  const [j1, j2] = s.control.addJobs(2, { computingSite: QUEUE, coreCount: 8 });
  s.control.addJob({ computingSite: QUEUE, currentPriority: 100 }); // lower priority, handed out last
  const c = client(s);

  const jobs = await c.acquireJobs({
    site_name: QUEUE,
    n_jobs: 2,
    node: 'node1',
    prod_source_label: 'managed',
  });
  assert.deepEqual(
    jobs.map((j) => j.PandaID),
    [j1.PandaID, j2.PandaID],
  );
  assert.equal(jobs[0].coreCount, 8);
  assert.equal(jobs[0].resource_type, 'MCORE');
  assert.equal(s.state.jobs.get(j1.PandaID)?.status, 'sent');
  assert.equal(s.calls.at(-1)?.args.scheduler_id, `harvester-${HID}`);

  const beat = (status: JobUpdate['job_status'], extra: Partial<JobUpdate> = {}) =>
    c.updateJobs(
      jobs.map((j) => ({
        job_id: j.PandaID,
        job_status: status,
        attempt_nr: j.attemptNr,
        site_name: QUEUE,
        ...extra,
      })),
    );

  for (const r of await beat('starting')) {
    assert.equal(r.success, true);
    assert.equal(r.statusCode, 0);
    assert.equal(r.command, null, 'the string "NULL" means no command');
    assert.equal(r.killRequested, false);
  }
  await beat('running', { batch_id: 'slurm.123', core_count: 8 });
  assert.equal(s.state.jobs.get(j1.PandaID)?.status, 'running');
  // No regression: a late "starting" after running is stored as running.
  await beat('starting');
  assert.equal(s.state.jobs.get(j1.PandaID)?.status, 'running');

  const final = await c.updateJobs(
    jobs.map((j) => ({
      job_id: j.PandaID,
      job_status: 'finished' as const,
      attempt_nr: j.attemptNr,
      job_output_report: outputReport(String(j.outFiles).split(',')),
      meta_data: JSON.stringify({ ok: true }),
    })),
  );
  assert.ok(final.every((r) => r.success && r.statusCode === 0));
  // The Adder (delay 0) has run before this status check: holding → finished.
  const status = await c.checkJobs([j1.PandaID, j2.PandaID, 1]);
  assert.deepEqual(
    status.map((x) => [x.status, x.killRequested]),
    [
      ['finished', false],
      ['finished', false],
      ['unknown', true],
    ],
  );
  // A repeated final heartbeat for an archived job is told to stop.
  const late = await beat('running');
  assert.ok(late.every((r) => r.killRequested));

  // Nothing left in the queue but the low-priority job, then nothing at all.
  assert.equal((await c.acquireJobs({ site_name: QUEUE, n_jobs: 5 })).length, 1);
  assert.deepEqual(await c.acquireJobs({ site_name: QUEUE }), []);
});

test('a finished report without fsize/checksum makes the Adder fail the job', async () => {
  const s = await sim();
  const job = s.control.addJob({ computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE });
  await c.updateJobs([{ job_id: job.PandaID, job_status: 'running' }]);
  await c.updateJobs([{ job_id: job.PandaID, job_status: 'finished', job_output_report: '{}' }]);
  const [st] = await c.checkJobs([job.PandaID]);
  assert.equal(st.status, 'failed');
});

test('250 job updates go out as 3 calls (100, 100, 50) in input order, each counted once', async () => {
  const s = await sim();
  const jobs = s.control.addJobs(250, { computingSite: QUEUE });
  const c = client(s, { gzipMinBytes: 1024 });
  const acquired = await c.acquireJobs({ site_name: QUEUE, n_jobs: 250 });
  assert.equal(acquired.length, 250);
  // Reverse the natural order so "in order" means input order, not PandaID order.
  const updates: JobUpdate[] = [...jobs].reverse().map((j) => ({ job_id: j.PandaID, job_status: 'running' }));

  const results = await c.updateJobs(updates);
  assert.deepEqual(
    results.map((r) => r.PandaID),
    updates.map((u) => u.job_id),
  );
  const bulkCalls = s.control.callsTo('pilot/update_jobs_bulk');
  assert.deepEqual(
    bulkCalls.map((call) => (call.args.job_list as unknown[]).length),
    [100, 100, 50],
  );
  assert.deepEqual(
    s.state.jobUpdates.map((u) => u.PandaID),
    updates.map((u) => u.job_id),
  );
  assert.equal(new Set(s.state.jobUpdates.map((u) => u.seq)).size, 250);
  assert.ok(bulkCalls.every((call) => call.args.harvester_id === HID));
  // 100 job dicts exceed the (lowered) gzip threshold: the body went compressed and the server took it.
  assert.ok(bulkCalls.some((call) => call.gzipped));

  // checkJobs splits the same way.
  const st = await c.checkJobs(updates.map((u) => u.job_id));
  assert.equal(st.length, 250);
  assert.equal(s.control.callsTo('job/get_status').length, 3);
});

test('a failing chunk stops the bulk and reports what went through', async () => {
  const s = await sim();
  const jobs = s.control.addJobs(250, { computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE, n_jobs: 250 });
  const updates: JobUpdate[] = jobs.map((j) => ({ job_id: j.PandaID, job_status: 'running' }));
  // First chunk goes through, the second fails, the third is never sent.
  s.control.injectFault('pilot/update_jobs_bulk', { kind: 'http500', skip: 1 });
  const err = await expectPandaError(c.updateJobs(updates), 'http');
  assert.equal(err.completedCount, 100);
  assert.equal(err.partialResults.length, 100);
  assert.equal(s.control.callsTo('pilot/update_jobs_bulk').length, 2);
  assert.equal(s.state.jobUpdates.length, 100);
  // The caller resends only the rest: every job is counted exactly once in the end.
  const rest = await c.updateJobs(updates.slice(err.completedCount));
  assert.equal(rest.length, 150);
  assert.deepEqual(
    s.state.jobUpdates.map((u) => u.PandaID),
    updates.map((u) => u.job_id),
  );
});

test('tobekilled reaches the client in heartbeat replies (kill, set_command, attemptNr, batchID)', async () => {
  const s = await sim();
  const [a, b, d, e] = s.control.addJobs(4, { computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE, n_jobs: 4 });
  await c.updateJobs(
    [a, b, d, e].map((j) => ({ job_id: j.PandaID, job_status: 'running', batch_id: `sl.${j.PandaID}` })),
  );

  s.control.killJobs([a.PandaID]);
  s.control.setJobCommand(b.PandaID, 'debug,tobekilled');
  s.control.bumpAttemptNr(d.PandaID);
  const res = await c.updateJobs([
    { job_id: a.PandaID, job_status: 'running' },
    { job_id: b.PandaID, job_status: 'running' },
    { job_id: d.PandaID, job_status: 'running', attempt_nr: 1 },
    { job_id: e.PandaID, job_status: 'running', batch_id: 'other.batch' },
  ]);
  assert.deepEqual(
    res.map((r) => r.killRequested),
    [true, true, true, true],
  );
  assert.deepEqual(res[1].commands, ['debug', 'tobekilled']);
  const [st] = await c.checkJobs([a.PandaID]);
  assert.equal(st.command, 'tobekilled');
  assert.equal(st.killRequested, true);
});

test('per-job problems come back per job, not as a failed call', async () => {
  const s = await sim();
  const [a, b] = s.control.addJobs(2, { computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE, n_jobs: 2 });
  s.control.injectJobFault(b.PandaID, { statusCode: 30 });
  const res = await c.updateJobs([
    { job_id: a.PandaID, job_status: 'sent' as JobUpdate['job_status'] },
    { job_id: b.PandaID, job_status: 'running' },
    // An unknown key is refused for that job only (the HSF/harvester PR #288 bug).
    { job_id: a.PandaID, job_status: 'running', computing_element: 'ce1' } as unknown as JobUpdate,
  ]);
  assert.deepEqual(
    res.map((r) => [r.success, r.statusCode]),
    [
      [false, 50],
      [false, 30],
      [false, null],
    ],
  );
  assert.equal(res[0].message, 'Invalid job status: sent');
  assert.match(res[2].message, /^Argument error: got an unexpected keyword argument 'computing_element'/);
});

test('commands: acquire flips to retrieved, no redelivery, acknowledge', async () => {
  const s = await sim();
  const c = client(s);
  s.control.addCommand(HID, 'KILL_WORKERS', { status: ['submitted'], computingSite: [QUEUE] }, true);
  s.control.addCommand(HID, 'SYNC_WORKERS_KILL', [101, 102]);
  s.control.addCommand('someone-else', 'KILL_WORKERS', {});
  const cmds = await c.acquireCommands(20);
  assert.deepEqual(
    cmds.map((x) => x.command),
    ['KILL_WORKERS', 'SYNC_WORKERS_KILL'],
  );
  assert.deepEqual(cmds[1].params, [101, 102]);
  assert.equal(cmds[0].ack_requested, 1);
  assert.deepEqual(await c.acquireCommands(20), [], 'retrieved commands are never redelivered');
  await c.acknowledgeCommands(cmds.map((x) => x.command_id));
  assert.deepEqual(
    s.state.commands.filter((x) => x.harvester_id === HID).map((x) => x.status),
    ['acknowledged', 'acknowledged'],
  );
  // n_commands limits the bulk.
  for (const name of ['A', 'B', 'C']) s.control.addCommand(HID, name);
  assert.equal((await c.acquireCommands(2)).length, 2);
});

test('instance heartbeat: first call for a new id is rejected (server quirk), then ok; every call recorded', async () => {
  const s = await sim();
  const c = client(s);
  const data = {
    startTime: '2026-05-01 10:00:00',
    sw_version: '0.1.0',
    commands: [{ command: 'SET_N_WORKERS_JOBTYPE', computingSite: QUEUE, resourceType: 'MCORE' }],
  };
  const e = await expectPandaError(c.heartbeat(data), 'rejected');
  assert.equal(e.retryable, true);
  assert.equal(e.serverMessage, 'database error in the PanDA server');
  await c.heartbeat(data);
  await c.heartbeat();
  assert.equal(s.state.heartbeats.length, 3);
  assert.deepEqual(
    s.state.heartbeats.map((h) => h.success),
    [false, true, true],
  );
  assert.equal(s.state.commandLocks.length, 1);
  await c.checkPanda();
});

test('workers, statistics, metrics, dialogs, worker id, resource types', async () => {
  const s = await sim();
  const c = client(s);
  await expectPandaError(c.getCurrentWorkerId(), 'rejected'); // no workers yet: server says "database error"
  const ok = await c.updateWorkers([
    { workerID: 7, status: 'running', computingSite: QUEUE, batchID: '123', nCore: 8 },
    { workerID: 9, status: 'submitted', computingSite: QUEUE },
  ]);
  assert.deepEqual(ok, [true, true]);
  assert.equal(await c.getCurrentWorkerId(), 9);
  // A final status sticks for 3 h.
  await c.updateWorkers([{ workerID: 7, status: 'finished' }]);
  await c.updateWorkers([{ workerID: 7, status: 'running' }]);
  assert.equal(s.state.workers.get(`${HID}:7`)?.status, 'finished');

  await c.reportWorkerStatistics(QUEUE, { managed: { MCORE: { running: 1, submitted: 1 } } });
  const stats = await c.getWorkerStatistics();
  assert.deepEqual(stats[QUEUE][HID], { managed: { MCORE: { running: 1, submitted: 1 } } });
  await c.updateServiceMetrics([{ time: new Date(), host: 'h1', metrics: { cpu: 0.5 } }]);
  assert.equal(typeof (s.state.serviceMetrics[0].metrics[0] as unknown[])[2], 'string');
  await c.addDialogs([
    {
      diagID: 1,
      moduleName: 'test',
      identifier: 'x',
      creationTime: '2026-05-01 10:00:00.000000',
      messageLevel: 'WARNING',
      diagMessage: 'hello',
    },
  ]);
  assert.equal(s.state.dialogs.length, 1);
  assert.ok((await c.getResourceTypes()).some((r) => r.resource_name === 'MCORE'));
  s.control.addJob({ computingSite: QUEUE });
  assert.deepEqual(await c.getJobStatistics(), { [QUEUE]: { activated: 1 } });
});

test('event ranges: acquire, update, count', async () => {
  const s = await sim();
  const c = client(s);
  const job = s.control.addJob({ computingSite: QUEUE });
  s.control.addEventRanges(job.PandaID, [
    { eventRangeID: 'r1', startEvent: 0, lastEvent: 9, LFN: 'f', GUID: 'g', scope: 's' },
    { eventRangeID: 'r2', startEvent: 10, lastEvent: 19, LFN: 'f', GUID: 'g', scope: 's' },
  ]);
  assert.equal(await c.getAvailableEventRangeCount(job.PandaID, 17), 2);
  const ranges = await c.acquireEventRanges({ job_id: job.PandaID, jobset_id: 17, n_ranges: 1 });
  assert.deepEqual(
    ranges.map((r) => r.eventRangeID),
    ['r1'],
  );
  const reply = await c.updateEventRanges([
    { eventRanges: [{ eventRangeID: 'r1', eventStatus: 'finished' }] },
  ]);
  assert.deepEqual(reply.Returns, [true]);
  assert.equal(await c.getAvailableEventRangeCount(job.PandaID, 17), 1);
});

test('every fault kind gives the right typed error, and the client keeps working', async () => {
  const s = await sim();
  const log = captureLogger();
  const c = client(s, { timeoutMs: 300, logger: log });
  const cases: [Parameters<PandaSim['control']['injectFault']>[1], PandaErrorKind][] = [
    [{ kind: 'http500' }, 'http'],
    [{ kind: 'http500', status: 503 }, 'http'],
    [{ kind: 'http403' }, 'auth'],
    [{ kind: 'slow', delayMs: 1500 }, 'timeout'],
    [{ kind: 'reset' }, 'transport'],
    [{ kind: 'malformed' }, 'malformed'],
    [{ kind: 'rejected' }, 'rejected'],
    [{ kind: 'rejected', message: 'TimeOut' }, 'rejected'],
  ];
  for (const [fault, kind] of cases) {
    s.control.injectFault('harvester/acquire_commands', fault);
    const err = await expectPandaError(c.acquireCommands(), kind);
    assert.equal(err.endpoint, 'harvester/acquire_commands');
    if (kind === 'rejected') assert.notEqual(err.statusCode, TRANSPORT_STATUS_CODE);
    else assert.equal(err.statusCode, TRANSPORT_STATUS_CODE, `${kind} maps to Harvester's 999`);
    assert.equal(err.retryable, kind !== 'auth', `${kind} retryable`);
    assertNoSecret(`${err.message} ${JSON.stringify(err)} ${inspect(err)}`);
    // The very next call works: no stuck state, no crash.
    assert.deepEqual(await c.acquireCommands(), []);
  }
  // A fault on one endpoint does not touch others.
  s.control.injectFault('job/get_status', { kind: 'http500' }, 2);
  await c.checkPanda();
  await expectPandaError(c.checkJobs([1]), 'http');
  await expectPandaError(c.checkJobs([1]), 'http');
  assert.equal((await c.checkJobs([1]))[0].status, 'unknown');
  assertNoSecret(log.lines.join('\n'));
  assert.ok(log.lines.length > 0);
});

test('malformed replies are rejected, not taken for success', async () => {
  const s = await sim({ gzipResponses: true });
  const c = client(s);
  s.control.injectFault('pilot/update_jobs_bulk', { kind: 'malformed' });
  const job = s.control.addJob({ computingSite: QUEUE });
  await c.acquireJobs({ site_name: QUEUE }); // gzip reply decoded transparently
  const err = await expectPandaError(
    c.updateJobs([{ job_id: job.PandaID, job_status: 'running' }]),
    'malformed',
  );
  assert.match(err.message, /not JSON/);
  // A method that does not exist on the server is a 403 "forbidden" → http, not auth.
  const raw = await fetch(`${s.url}/harvester/no_such_method`);
  assert.equal(raw.status, 403);
  assert.equal(await raw.text(), 'ERROR : method no_such_method is forbidden');
});

test('strict argument checking with the real error texts', async () => {
  const s = await sim();
  const c = client(s);
  const e1 = await expectPandaError(
    c.acquireJobs({ site_name: QUEUE, n_jobs: '5' as unknown as number }),
    'rejected',
  );
  assert.equal(e1.serverMessage, "Type error: 'n_jobs' must be of type int, got str.");
  const e2 = await expectPandaError(
    c.acquireJobs({ site_name: QUEUE, resourceType: 'MCORE' } as unknown as { site_name: string }),
    'rejected',
  );
  assert.equal(
    e2.serverMessage,
    "Argument error: acquire_jobs() got an unexpected keyword argument 'resourceType'",
  );
  assert.equal(e2.retryable, false);
  const res = await fetch(`${s.url}/pilot/acquire_jobs`, {
    method: 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, origin: ORIGIN, accept: 'application/json' },
  });
  assert.deepEqual(await res.json(), { success: false, message: 'expecting POST, received GET', data: null });
  const missing = await fetch(`${s.url}/harvester/acquire_commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, origin: ORIGIN, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(
    ((await missing.json()) as { message: string }).message,
    "Argument error: acquire_commands() missing 2 required positional arguments: 'harvester_id' and 'n_commands'",
  );
  const bad = await fetch(`${s.url}/harvester/acquire_commands`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, origin: ORIGIN, 'content-type': 'application/json' },
    body: '{"harvester_id": ',
  });
  assert.equal(bad.status, 500);
});

test('auth failures are clear errors and never show the token', async () => {
  const s = await sim();
  const wrongFile = join(dir, 'wrong-token');
  await writeFile(wrongFile, 'this-is-a-wrong-secret-token');
  const log = captureLogger();
  const wrong = createPandaClient({
    baseUrl: s.url,
    harvesterId: HID,
    auth: { tokenFile: wrongFile, origin: ORIGIN },
    logger: log,
  });
  const e1 = await expectPandaError(wrong.acquireCommands(), 'auth');
  assert.equal(e1.httpStatus, 403);
  assert.match(e1.message, /Token authentication failed/);
  assert.ok(!`${e1.message}${JSON.stringify(e1)}${inspect(e1)}`.includes('this-is-a-wrong-secret-token'));

  // No credentials at all: the server answers with the envelope, still an auth error.
  const anon = createPandaClient({ baseUrl: s.url, harvesterId: HID });
  const e2 = await expectPandaError(anon.acquireCommands(), 'auth');
  assert.equal(e2.serverMessage, 'SSL secure connection is required');
  await anon.checkPanda(); // is_alive needs no auth

  // A token without the production role.
  const s2 = await sim({ tokens: { [TOKEN]: { dn: '/CN=user', production: false } } });
  const e3 = await expectPandaError(client(s2).acquireCommands(), 'auth');
  assert.equal(e3.serverMessage, 'production or pilot role required');
  const e4 = await expectPandaError(client(s2).acquireJobs({ site_name: QUEUE }), 'auth');
  assert.match(e4.message, /no production\/pilot role/);

  // Missing token file: names the path, not a content.
  const gone = createPandaClient({
    baseUrl: s.url,
    harvesterId: HID,
    auth: { tokenFile: join(dir, 'nope') },
  });
  const e5 = await expectPandaError(gone.acquireCommands(), 'auth');
  assert.match(e5.message, /cannot read token file .*nope \(ENOENT\)/);

  // Even a server that echoes the token back does not get it into an error message.
  s.control.injectFault('harvester/acquire_commands', {
    kind: 'rejected',
    message: `bad request from Bearer ${TOKEN}; token=${TOKEN}`,
  });
  const e6 = await expectPandaError(client(s, { logger: log }).acquireCommands(), 'rejected');
  assertNoSecret(`${e6.message} ${e6.serverMessage} ${JSON.stringify(e6)} ${inspect(e6)}`);
  assertNoSecret(log.lines.join('\n'));
});

test('the token file is re-read when it changes', async () => {
  const rotating = join(dir, 'rotating-token');
  await writeFile(rotating, 'first-token-abcdef');
  const s = await sim({ tokens: ['first-token-abcdef', 'second-token-abcdef'] });
  const c = createPandaClient({
    baseUrl: s.url,
    harvesterId: HID,
    auth: { tokenFile: rotating, origin: ORIGIN },
  });
  await c.acquireCommands();
  await writeFile(rotating, 'second-token-abcdef-plus'); // different size → re-read
  await expectPandaError(c.acquireCommands(), 'auth');
  await writeFile(rotating, 'second-token-abcdef');
  await c.acquireCommands();
});

test('lost heartbeat: a running job without updates for 2 h fails at the next Watcher pass', async () => {
  const clock = new ManualClock();
  const s = await sim({ clock });
  const [job, kept] = s.control.addJobs(2, { computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE, n_jobs: 2 });
  await c.updateJobs([job, kept].map((j) => ({ job_id: j.PandaID, job_status: 'running' })));

  // Keep one job alive with a heartbeat every 30 min; let the other one go silent.
  for (let i = 0; i < 4; i++) {
    s.control.advance(30 * MINUTE);
    await c.updateJobs([{ job_id: kept.PandaID, job_status: 'running' }]);
  }
  // 2 h passed: the silent job is at the limit, not beyond it.
  assert.equal(s.state.jobs.get(job.PandaID)?.status, 'running');
  // Beyond 2 h, but the Watcher only looks every 40 min.
  s.control.advance(30 * MINUTE);
  await c.updateJobs([{ job_id: kept.PandaID, job_status: 'running' }]);
  s.control.advance(45 * MINUTE);
  const [st, stKept] = await c.checkJobs([job.PandaID, kept.PandaID]);
  assert.equal(st.status, 'failed');
  assert.equal(stKept.status, 'running');
  const failed = s.state.jobs.get(job.PandaID);
  assert.equal(failed?.jobDispatcherErrorCode, 100);
  assert.match(failed?.jobDispatcherErrorDiag ?? '', /^lost heartbeat : 2026-05-01 10:00:00$/);
  // A late heartbeat is told to stop; an hour later the job is unknown to get_status.
  const [late] = await c.updateJobs([{ job_id: job.PandaID, job_status: 'running' }]);
  assert.equal(late.killRequested, true);
  s.control.advance(HOUR + MINUTE);
  assert.equal((await c.checkJobs([job.PandaID]))[0].status, 'unknown');
  assert.equal(
    s.state.jobUpdates.filter((u) => u.PandaID === kept.PandaID).length,
    1 + 4 + 1,
    'each heartbeat counted exactly once',
  );
});

test('a sent job that never reports fails after 30 min (code 102)', async () => {
  const clock = new ManualClock();
  const s = await sim({ clock, timers: { watcherPeriodMs: 0 } });
  const job = s.control.addJob({ computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE });
  s.control.advance(31 * MINUTE);
  assert.equal(s.state.jobs.get(job.PandaID)?.jobDispatcherErrorCode, 102);
});

test('stuck pilot: pilot finished an hour ago, harvester still says running → SYNC_WORKERS_KILL', async () => {
  const clock = new ManualClock();
  const s = await sim({ clock, timers: { watcherPeriodMs: 0 } });
  const c = client(s);
  await c.updateWorkers([
    { workerID: 41, status: 'running', computingSite: QUEUE },
    { workerID: 42, status: 'running', computingSite: QUEUE },
  ]);
  s.control.setPilotStatus(HID, 41, 'started');
  s.control.setPilotStatus(HID, 41, 'finished');
  s.control.advance(30 * MINUTE);
  assert.deepEqual(await c.acquireCommands(), []);
  s.control.advance(31 * MINUTE);
  const cmds = await c.acquireCommands();
  assert.deepEqual(
    cmds.map((x) => [x.command, x.params]),
    [['SYNC_WORKERS_KILL', [41]]],
  );
  // Re-checked at most every 30 min, so no immediate duplicate.
  s.control.advance(MINUTE);
  assert.deepEqual(await c.acquireCommands(), []);
});

test('worker final with syncLevel=1 fails its running jobs', async () => {
  const s = await sim();
  const job = s.control.addJob({ computingSite: QUEUE });
  const c = client(s);
  await c.acquireJobs({ site_name: QUEUE });
  await c.updateJobs([{ job_id: job.PandaID, job_status: 'running' }]);
  await c.updateWorkers([
    { workerID: 1, status: 'failed', syncLevel: 1, pandaid_list: [job.PandaID], errorCode: 5 },
  ]);
  const [st] = await c.checkJobs([job.PandaID]);
  assert.equal(st.status, 'failed');
  assert.equal(s.state.jobs.get(job.PandaID)?.taskBufferErrorCode, 300);
});

test('caller abort and per-call timeout', async () => {
  const s = await sim();
  const c = client(s);
  s.control.injectFault('harvester/acquire_commands', { kind: 'slow', delayMs: 1000 }, 2);
  const e1 = await expectPandaError(c.acquireCommands(20, { timeoutMs: 100 }), 'timeout');
  assert.match(e1.message, /no reply within 100 ms/);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const e2 = await expectPandaError(c.acquireCommands(20, { signal: ac.signal }), 'transport');
  assert.equal(e2.causeCode, 'ABORT_ERR');
  // Connection refused is a transport error with Harvester's 999.
  const dead = createPandaClient({ baseUrl: 'http://127.0.0.1:1/api/v1', harvesterId: HID, timeoutMs: 2000 });
  const e3 = await expectPandaError(dead.checkPanda(), 'transport');
  assert.equal(e3.statusCode, 999);
  assert.equal(e3.causeCode, 'ECONNREFUSED');
});

test('operator controls over HTTP and the simulator as a process', async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/panda-sim/main.ts', '--port', '0', '--token', TOKEN],
    {
      cwd: join(__dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`sim exited ${code}`)));
      // unref: a pending start-up guard must not keep the test process alive.
      setTimeout(() => reject(new Error('sim did not start')), 15_000).unref();
    });
    const root = url.replace(/\/api\/v1$/, '');
    const post = (name: string, body: unknown) =>
      fetch(`${root}/sim/${name}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
    const added = (await post('add_job', { computingSite: QUEUE })) as { result: { PandaID: number } };
    await post('add_command', { harvester_id: HID, command: 'REPORT_WORKER_STATS', params: null });
    await post('set_instance_config', { harvester_id: HID, config: { queues: [QUEUE] } });
    const c = createPandaClient({ baseUrl: url, harvesterId: HID, auth: { tokenFile, origin: ORIGIN } });
    const jobs = await c.acquireJobs({ site_name: QUEUE });
    assert.equal(jobs[0].PandaID, added.result.PandaID);
    assert.equal((await c.acquireCommands())[0].command, 'REPORT_WORKER_STATS');
    const cfg = (await fetch(`${root}/sim/instance_config?harvester_id=${HID}`).then((r) => r.json())) as {
      result: unknown;
    };
    assert.deepEqual(cfg.result, { queues: [QUEUE] });
    await post('inject_fault', { endpoint: 'harvester/acquire_commands', fault: { kind: 'http500' } });
    await expectPandaError(c.acquireCommands(), 'http');
    const state = (await fetch(`${root}/sim/state`).then((r) => r.json())) as { result: { jobs: unknown[] } };
    assert.equal(state.result.jobs.length, 1);
  } finally {
    child.kill('SIGTERM');
  }
});

/** CA, server cert for 127.0.0.1 and a client "proxy" (cert+key in one file), made with openssl. */
async function makePki(): Promise<
  { ca: string; serverKey: string; serverCert: string; proxy: string } | undefined
> {
  const openssl = (args: string[]) => spawnSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  if (openssl(['version']).status !== 0) return undefined;
  const steps: string[][] = [
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=sim-ca',
    ],
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ],
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'client.key',
      '-out',
      'client.csr',
      '-subj',
      '/CN=harvester-sim',
    ],
    [
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.pem',
      '-days',
      '2',
    ],
  ];
  for (const args of steps) if (openssl(args).status !== 0) return undefined;
  await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const srv = openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
  if (srv.status !== 0) return undefined;
  const proxy = join(dir, 'x509up');
  await writeFile(
    proxy,
    Buffer.concat([await readFile(join(dir, 'client.pem')), await readFile(join(dir, 'client.key'))]),
  );
  return {
    ca: join(dir, 'ca.pem'),
    serverKey: join(dir, 'server.key'),
    serverCert: join(dir, 'server.pem'),
    proxy,
  };
}

test('x509: client certificate over TLS with a CA file; failures do not leak the key', async (t) => {
  const pki = await makePki();
  if (!pki) {
    t.skip('openssl not available');
    return;
  }
  const s = await sim({
    tokens: undefined,
    tls: {
      key: await readFile(pki.serverKey),
      cert: await readFile(pki.serverCert),
      ca: await readFile(pki.ca),
      requestCert: true,
    },
  });
  assert.match(s.url, /^https:/);
  const c = createPandaClient({
    baseUrl: s.url,
    harvesterId: HID,
    auth: { certFile: pki.proxy, caFile: pki.ca },
  });
  s.control.addCommand(HID, 'REPORT_WORKER_STATS');
  assert.equal((await c.acquireCommands())[0].command, 'REPORT_WORKER_STATS');
  assert.equal(s.calls.at(-1)?.authenticated, true);

  // Without a client certificate the secure endpoint refuses.
  const noCert = createPandaClient({ baseUrl: s.url, harvesterId: HID, auth: { caFile: pki.ca } });
  const e1 = await expectPandaError(noCert.acquireCommands(), 'auth');
  assert.equal(e1.serverMessage, 'SSL secure connection is required');

  // Without the CA the server certificate is not trusted: a transport error (999).
  const noCa = createPandaClient({ baseUrl: s.url, harvesterId: HID, auth: { certFile: pki.proxy } });
  const e2 = await expectPandaError(noCa.checkPanda(), 'transport');
  assert.equal(e2.statusCode, TRANSPORT_STATUS_CODE);

  // A key that does not match the certificate: the error names no key material.
  const mismatched = join(dir, 'mismatched-proxy');
  await writeFile(
    mismatched,
    Buffer.concat([await readFile(join(dir, 'client.pem')), await readFile(pki.serverKey)]),
  );
  const bad = createPandaClient({
    baseUrl: s.url,
    harvesterId: HID,
    auth: { certFile: mismatched, caFile: pki.ca },
  });
  const e3 = await expectPandaError(bad.checkPanda(), 'transport');
  const keyText = (await readFile(pki.serverKey, 'utf8')).split('\n')[1];
  for (const text of [e3.message, JSON.stringify(e3), inspect(e3)]) {
    assertNoSecret(text);
    assert.ok(!text.includes(keyText));
  }
});
