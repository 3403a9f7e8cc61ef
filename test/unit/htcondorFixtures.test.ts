/**
 * Every HTCondor fixture (test/fixtures/htcondor, provenance in its README) through the parsers:
 * the values a user would see (job id, status, hold reason, exit code), and refusal of what a failed
 * query or a garbled reply prints.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import type { WorkSpec } from '../../src/core/specs';
import {
  adBatchId,
  condorJobId,
  condorRmOutcome,
  type JobAd,
  mapCondorJob,
  parseCondorJson,
  parseCondorRm,
  parseSubmitTerse,
} from '../../src/plugins/htcondor';

const FIXTURES = resolve(__dirname, '../fixtures/htcondor');
const read = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const NOW = 1756505000;
const opts = { heldTimeout: 3600, cancelUnknown: false, nowSeconds: NOW };

function worker(batchID: string, status: WorkSpec['status'] = 'submitted'): WorkSpec {
  return {
    workerID: 1,
    computingSite: 'CERN_GRID',
    harvesterID: 'cern_central_a',
    configID: '1',
    mapType: 'NoJob',
    status,
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    maxWalltime: 3600,
    batchID,
    creationTime: new Date(NOW * 1000).toISOString(),
  };
}

test('condor_q.json: every ad parses, with the ids, states and reasons a user sees', () => {
  const ads = parseCondorJson(read('condor_q.json'), 'condor_q');
  const byId = new Map(ads.map((ad) => [adBatchId(ad), ad]));
  assert.deepEqual(
    [...byId.keys()],
    ['241.0', '15.0', '3472942.81', '3472942.89', '4242.2', '4242.4', '4242.5', '4242.6', '4242.7', '4242.8'],
  );
  const map = (id: string, status: WorkSpec['status'] = 'submitted', now = NOW) =>
    mapCondorJob(worker(id, status), byId.get(id), { ...opts, nowSeconds: now });

  // Captured ad 241.0: running; node from LastRemoteHost "slot1_6@crane"; expressions, nested ads accepted.
  const running = map('241.0');
  assert.equal(running.result.status, 'running');
  assert.equal(running.result.nodeID, 'crane');
  assert.equal(running.result.startTime, new Date(1756503384 * 1000).toISOString());
  assert.equal(byId.get('241.0')?.MemoryUsage, '/Expr(((ResidentSetSize + 1023) / 1024))/');

  // Captured ad 15.0: idle after being held for spooling; HoldReason UNDEFINED prints as null.
  assert.equal(byId.get('15.0')?.HoldReason, null);
  assert.equal(map('15.0', 'running').result.status, 'idle');

  // Captured ad 3472942.81 (HTCondor 8.8.10, OSG glidein): running, released after an OnExitHold;
  // the node is the machine after the last "@" of RemoteHost "glidein_11052_156649344@CRUSH-...".
  const glidein = map('3472942.81', 'submitted');
  assert.equal(glidein.result.status, 'running');
  assert.equal(glidein.result.nodeID, 'CRUSH-OSG-C7-10-5-219-52');
  assert.equal(glidein.result.startTime, new Date(1616890494 * 1000).toISOString());
  assert.equal(glidein.result.diag, '');
  // Its LastRemoteHost has two "@" (slot@startd@machine): the machine is still what is shown.
  const { RemoteHost: _gone, ...lastOnly } = byId.get('3472942.81') as JobAd;
  assert.equal(
    mapCondorJob(worker('3472942.81'), lastOnly as JobAd, opts).result.nodeID,
    'notch009.int.chpc.utah.edu',
  );

  // Captured ad 3472942.89 (HTCondor 8.8.10): held by its OnExitHold policy (code 3). At the time
  // the schedd answered (its ServerTime) it had been held 2844 s: still queued, the reason shown.
  const onExitHold =
    "condor HoldReason: The job attribute OnExitHold expression '(ExitBySignal == true) || (ExitCode != 0)' evaluated to TRUE";
  const serverTime = byId.get('3472942.89')?.ServerTime as number;
  assert.equal(serverTime, 1617123487);
  const heldBriefly = map('3472942.89', 'running', serverTime);
  assert.deepEqual(
    [heldBriefly.result.status, heldBriefly.result.diag, heldBriefly.remove],
    ['idle', onExitHold, undefined],
  );
  assert.equal(heldBriefly.result.nodeID, 'CRUSH-OSG-C7-10-5-219-52', 'from LastRemoteHost');
  // Past heldTimeout it is removed.
  const heldLong = map('3472942.89', 'running', serverTime + 3600 - 2844 + 1);
  assert.equal(heldLong.result.status, 'cancelled');
  assert.equal(heldLong.remove, true);
  assert.equal(heldLong.result.diag, `${onExitHold}; removed: held for 3601 s > heldTimeout 3600 s`);

  // Source-derived ads (README): hold reasons and states the captures above do not cover.
  const held = map('4242.2');
  assert.equal(held.result.status, 'submitted');
  assert.match(
    held.result.diag,
    /^condor HoldReason: Error from slot1@TODDS480S: SHADOW at 127\.0\.0\.1 failed/,
  );
  assert.match(map('4242.4').result.diag, /Job not found; removed: hold reason is fatal/);
  assert.equal(map('4242.5', 'running').result.status, 'finished', 'LastJobStatus 4 wins over a lagging 1');
  assert.equal(map('4242.6').result.status, 'running', 'transferring output');
  assert.equal(map('4242.7', 'running').result.status, 'idle', 'suspended');
  const removing = map('4242.8', 'running');
  assert.equal(removing.result.status, 'cancelled');
  assert.equal(removing.result.diag, 'condor job removed: via condor_rm (by user harvester)');
});

test('condor_history.json: exit codes, signals and removal reasons', () => {
  const ads = parseCondorJson(read('condor_history.json'), 'condor_history');
  const byId = new Map(ads.map((ad) => [adBatchId(ad), ad]));
  const map = (id: string) => mapCondorJob(worker(id, 'running'), byId.get(id), opts).result;
  assert.deepEqual([map('4241.0').status, map('4241.0').nativeExitCode], ['finished', 0]);
  assert.deepEqual([map('4241.1').status, map('4241.1').nativeExitCode], ['failed', 1]);
  assert.equal(map('4241.1').diag, 'pilot exited with code 1');
  const removed = map('4241.2');
  assert.equal(removed.status, 'cancelled');
  assert.match(removed.diag, /^condor job removed: The job attribute PeriodicRemove expression/);
  assert.match(removed.diag, /; last held: Error from slot3@TODDS480S: FILETRANSFER:1:non-zero exit \(1\)/);
  assert.deepEqual([map('4241.3').status, map('4241.3').nativeExitCode], ['failed', 137]);
  assert.equal(map('4241.3').diag, 'pilot killed by signal 9');
  assert.equal(map('4241.4').status, 'finished', 'completed, then removed, stays completed');
});

test('empty listings: condor_q prints nothing, condor_history prints "[ ]"; both are zero jobs', () => {
  assert.deepEqual(parseCondorJson(read('condor_q-empty.json'), 'condor_q'), []);
  assert.deepEqual(parseCondorJson(read('condor_history-empty.json'), 'condor_history'), []);
});

test('failed queries are refused, never read as zero jobs', () => {
  // Even if a wrapper swallowed the exit code: the tool's failure lines make the call fail.
  assert.throws(
    () => parseCondorJson('', 'condor_q', read('condor_q-failed.err')),
    /condor_q query failed: -- Failed to fetch ads from: <192\.0\.2\.10:9618.*> : schedd01\.example\.org/,
  );
  assert.throws(
    () => parseCondorJson('', 'condor_q', read('condor_q-no-schedd.err')),
    /condor_q query failed: Error: Collector has no record of schedd\/submitter/,
  );
  assert.throws(
    () =>
      parseCondorJson(read('condor_history-failed.out'), 'condor_history', read('condor_history-failed.err')),
    /condor_history query failed: Unable to send history command to remote schedd;/,
  );
  // The half-printed listing alone (no stderr seen) is not JSON: refused too.
  assert.throws(() => parseCondorJson(read('condor_history-failed.out'), 'condor_history'), /not JSON/);
});

test('garbage and wrongly typed attributes are refused with what and where', () => {
  assert.throws(() => parseCondorJson('-- Schedd: x : <1.2.3.4>\nID OWNER', 'condor_q'), /not JSON/);
  assert.throws(() => parseCondorJson('[{"ProcId": 0}]', 'condor_q'), /ClusterId/);
  assert.throws(() => parseCondorJson('{"ClusterId":1}', 'condor_q'), /array/);
  assert.throws(
    () => parseCondorJson('[{"ClusterId":7,"ProcId":1,"JobStatus":"\\/Expr(1 + 1)\\/"}]', 'condor_history'),
    /condor_history output \(job 7\.1: JobStatus is an unevaluated expression, expected integer\)/,
  );
  assert.throws(
    () => parseCondorJson('[{"ClusterId":7,"ProcId":1,"HoldReason":12}]', 'condor_q'),
    /job 7\.1: HoldReason is number, expected string/,
  );
});

test('condor_submit: the -terse form is read; the chatty form (manual quick-start capture) refused', () => {
  assert.deepEqual(parseSubmitTerse(read('condor_submit-terse.out')), {
    clusterId: 5000,
    firstProc: 0,
    lastProc: 3,
  });
  assert.throws(() => parseSubmitTerse(read('condor_submit.out')), /expected one "C\.P - C\.P" line/);
});

test('condor_rm: each wording maps to success, already gone, permanent or temporary failure', () => {
  const lines = parseCondorRm(`${read('condor_rm.out')}\n${read('condor_rm.err')}`);
  const outcome = (id: string) => condorRmOutcome(id, lines.get(id), 'condor_rm exited with code 1');
  assert.deepEqual(outcome('4242.2'), { outcome: 'success', diag: '' });
  assert.equal(outcome('4242.8').outcome, 'success', 'already marked for removal');
  assert.match(outcome('4242.8').diag, /already marked for removal/);
  assert.equal(outcome('4240.0').outcome, 'success', 'not found: already gone');
  assert.equal(outcome('241.0').outcome, 'permanentFailure');
  assert.match(outcome('241.0').diag, /permission denied to remove job 241\.0/);
  assert.equal(outcome('4243.0').outcome, 'temporaryFailure', 'no result found');

  const noSchedd = parseCondorRm(read('condor_rm-no-schedd.err'));
  assert.equal(noSchedd.size, 0);
  const r = condorRmOutcome('1.0', noSchedd.get('1.0'), read('condor_rm-no-schedd.err').trim());
  assert.equal(r.outcome, 'temporaryFailure');
  assert.match(r.diag, /no result for job 1\.0: condor_rm: Can't find address for schedd schedd01/);
});

test('condorJobId: a bare cluster is proc 0 (as Harvester reads it); anything else refused', () => {
  assert.equal(condorJobId('4242.7'), '4242.7');
  assert.equal(condorJobId('4242'), '4242.0');
  assert.throws(() => condorJobId('4242.x'), /batchID/);
  assert.throws(() => condorJobId('0.1'), /batchID/);
});
