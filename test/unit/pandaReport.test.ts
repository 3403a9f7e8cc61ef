import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  carriesFinalAttributes,
  jobReportAction,
  jobStatusBeforePanda,
  noHeartbeatStatuses,
  syncLevelFor,
  TRUE_PILOT_NO_HEARTBEAT,
  toPandaDatetime,
  toPandaJobStatus,
  toPandaWorkerReport,
} from '../../src/core/pandaReport';
import { makeWorker } from './support/workers';

test('times go to PanDA as datetime/YYYY-mm-dd HH:MM:SS.ffffff in UTC', () => {
  assert.equal(toPandaDatetime('2026-03-04T05:06:07.089Z'), 'datetime/2026-03-04 05:06:07.089000');
  assert.equal(toPandaDatetime('2026-03-04T05:06:07Z'), 'datetime/2026-03-04 05:06:07.000000');
  // microseconds from PostgreSQL survive, and offsets are converted to UTC
  assert.equal(toPandaDatetime('2026-03-04T07:06:07.123456+02:00'), 'datetime/2026-03-04 05:06:07.123456');
  assert.throws(() => toPandaDatetime('yesterday'), /not an ISO-8601 timestamp: "yesterday"/);
});

test('update_workers entry carries the Harvester fields and leaves out the missing ones', () => {
  const worker = makeWorker({
    workerID: 42,
    status: 'running',
    batchID: '1234',
    queueName: 'debug',
    nCore: 8,
    submitTime: '2026-01-01T01:00:00.000Z',
    startTime: '2026-01-01T01:05:00.000Z',
    nodeID: 'nid001',
    computingElement: 'ce1',
    submissionHost: 'login1',
    minRamCount: 2000,
    diagMessage: 'ok so far',
    pandaIDs: [7, 8],
    workAttributes: { stdOut: 'https://logs/42.out', batchLog: 'https://logs/42.log', other: 'x' },
  });
  const report = toPandaWorkerReport(worker, { harvesterHost: 'central1', syncLevel: 1 });
  assert.deepEqual(report, {
    workerID: 42,
    status: 'running',
    computingSite: 'TEST_PQ',
    batchID: '1234',
    queueName: 'debug',
    nCore: 8,
    nodeID: 'nid001',
    submitTime: 'datetime/2026-01-01 01:00:00.000000',
    startTime: 'datetime/2026-01-01 01:05:00.000000',
    jobType: 'managed',
    resourceType: 'SCORE',
    diagMessage: 'ok so far',
    nJobs: 2,
    computingElement: 'ce1',
    syncLevel: 1,
    submissionHost: 'login1',
    harvesterHost: 'central1',
    minRamCount: 2000,
    pandaid_list: [7, 8],
    stdOut: 'https://logs/42.out',
    batchLog: 'https://logs/42.log',
  });
  assert.equal('endTime' in report, false);
  assert.equal('errorCode' in report, false);
});

test('errorDiag replaces diagMessage only when errorCode is non-zero', () => {
  const failed = makeWorker({ status: 'failed', errorCode: 1236, diagMessage: 'exit 1' });
  assert.equal(
    toPandaWorkerReport({ ...failed, errorDiag: 'killed: heartbeat lost' }).diagMessage,
    'killed: heartbeat lost',
  );
  assert.equal(toPandaWorkerReport({ ...failed, errorCode: 0, errorDiag: 'ignored' }).diagMessage, 'exit 1');
  assert.equal(toPandaWorkerReport({ ...failed, errorDiag: '' }).diagMessage, 'exit 1');
  assert.equal(toPandaWorkerReport({ ...failed, errorDiag: 'x' }).errorCode, 1236);
});

test('a final job is reported as transferring while its outputs are staged out', () => {
  assert.equal(jobStatusBeforePanda({ status: 'finished', subStatus: 'to_transfer' }), 'transferring');
  assert.equal(jobStatusBeforePanda({ status: 'failed', subStatus: 'transferring' }), 'transferring');
  assert.equal(jobStatusBeforePanda({ status: 'finished', subStatus: 'staged' }), 'finished');
  assert.equal(
    jobStatusBeforePanda({ status: 'finished', subStatus: 'staged', allEventsDone: false }),
    'transferring',
  );
  // killed jobs have nothing to transfer
  assert.equal(jobStatusBeforePanda({ status: 'cancelled', subStatus: 'killed' }), 'cancelled');
  assert.equal(jobStatusBeforePanda({ status: 'running', subStatus: 'running' }), 'running');
  assert.deepEqual(toPandaJobStatus({ status: 'finished', subStatus: 'to_transfer' }), {
    jobStatus: 'transferring',
    jobSubStatus: 'to_transfer',
  });
});

test('cancelled and missed jobs are reported as failed with the reason in the sub-status', () => {
  assert.deepEqual(toPandaJobStatus({ status: 'cancelled', subStatus: 'killed' }), {
    jobStatus: 'failed',
    jobSubStatus: 'cancelled',
  });
  assert.deepEqual(toPandaJobStatus({ status: 'missed', subStatus: 'missed' }), {
    jobStatus: 'failed',
    jobSubStatus: 'missed',
  });
  assert.deepEqual(toPandaJobStatus({ status: 'missed', subStatus: 'missed', pilotClosed: true }), {
    jobStatus: 'failed',
    jobSubStatus: 'pilot_closed',
  });
  assert.deepEqual(toPandaJobStatus({ status: 'finished', subStatus: 'staged', pilotClosed: true }), {
    jobStatus: 'finished',
    jobSubStatus: 'staged',
  });
  assert.deepEqual(toPandaJobStatus({ status: 'starting', subStatus: 'submitted' }), {
    jobStatus: 'starting',
    jobSubStatus: 'submitted',
  });
});

test('only the real final report carries meta_data and the output report', () => {
  assert.equal(carriesFinalAttributes({ status: 'finished', subStatus: 'staged' }), true);
  assert.equal(carriesFinalAttributes({ status: 'finished', subStatus: 'to_transfer' }), false);
  assert.equal(carriesFinalAttributes({ status: 'running', subStatus: 'running' }), false);
});

test('truePilot with an empty noHeartbeat suppresses running,transferring,finished,failed', () => {
  const expected = new Set(TRUE_PILOT_NO_HEARTBEAT.split(','));
  assert.deepEqual(noHeartbeatStatuses('', true), expected);
  assert.deepEqual(noHeartbeatStatuses(undefined, true), expected);
  assert.deepEqual(noHeartbeatStatuses('running', true), new Set(['running']));
  assert.deepEqual(noHeartbeatStatuses('', false), new Set());
  assert.deepEqual(noHeartbeatStatuses('finished, failed', false), new Set(['finished', 'failed']));
});

test('suppressed running jobs are only checked, other suppressed ones skipped, missed always updated', () => {
  const suppressed = noHeartbeatStatuses('', true);
  assert.equal(jobReportAction({ status: 'running', subStatus: 'running' }, suppressed), 'check');
  assert.equal(jobReportAction({ status: 'finished', subStatus: 'staged' }, suppressed), 'skip');
  // transferring is suppressed too (a final job still staging out)
  assert.equal(jobReportAction({ status: 'failed', subStatus: 'to_transfer' }, suppressed), 'skip');
  assert.equal(jobReportAction({ status: 'starting', subStatus: 'submitted' }, suppressed), 'update');
  // cancelled is not in the list: Harvester compares the status before the failed mapping
  assert.equal(jobReportAction({ status: 'cancelled', subStatus: 'killed' }, suppressed), 'update');
  assert.equal(jobReportAction({ status: 'missed', subStatus: 'missed' }, new Set(['missed'])), 'update');
  assert.equal(jobReportAction({ status: 'running', subStatus: 'running' }, new Set()), 'update');
});

test('syncLevel is 1 for pull, true-pilot and no-finished-heartbeat queues', () => {
  assert.equal(syncLevelFor('NoJob', false, ''), 1);
  assert.equal(syncLevelFor('OneToOne', true, ''), 1);
  assert.equal(syncLevelFor('OneToOne', false, 'running,finished'), 1);
  assert.equal(syncLevelFor('OneToOne', false, 'running'), undefined);
});
