/**
 * Push mode (mapType OneToOne) through the queue workflow, the dummy batch plugin, the shared-file
 * messenger and the PanDA simulator over HTTP: the submitter cycle fetches an activated job, binds
 * it to a new worker, writes the job description into the worker's access point, the "pilot"
 * (this test) leaves its final report there, and the job ends `finished` in PanDA with its output
 * report. A push queue with no activated jobs starts no workers: workers are made from jobs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { getJob, listJobsOfWorker } from '../../src/db/jobs';
import { listLiveWorkers } from '../../src/db/workers';
import {
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  queueWorkflowId,
} from '../../src/workflows/queueMessages';
import { workerWorkflowId } from '../../src/workflows/workerMessages';
import { accessPointUnder, dummyQueueConfig, HARVESTER_MODULES } from '../helpers/dummyQueue';
import { eventually, startTestStack, type TestStack } from '../helpers/stack';

const H = HARVESTER_MODULES;
/** Unique per run: worker workflow ids repeat across fresh test databases on a long-lived dev server. */
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`.toUpperCase();
const PUSH = `PUSH_${RUN}`;
const EMPTY = `PUSH_EMPTY_${RUN}`;
const MANY = `PUSH_M2O_${RUN}`;
const SHARED = `PUSH_O2M_${RUN}`;
const LATE = `PUSH_LATE_${RUN}`;
const FLAKY = `PUSH_FLAKY_${RUN}`;

function pushQueue(
  scratch: string,
  name: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...dummyQueueConfig(accessPointUnder(`${scratch}/${name}`), {
      mapType: 'OneToOne',
      prodSourceLabel: 'managed',
      nQueueLimitWorker: 3,
      maxWorkers: 3,
      // The worker runs after 1 s and ends after 8 s: time for the "pilot" to write its report.
      submitter: { runAfterSeconds: 1, finishAfterSeconds: 8 },
      temporal: {
        submitterIntervalSeconds: 1,
        monitorIntervalSeconds: 1,
        sweeperIntervalSeconds: 1,
        heartbeatIntervalSeconds: 3600,
        maxConsecutiveMonitorFailures: 3,
        keepFinished: 0,
        keepFailed: 0,
        keepCancelled: 0,
        keepMissed: 0,
      },
    }),
    // Sections given here replace the dummy ones whole.
    ...overrides,
  };
}

let stack: TestStack;

before(async () => {
  stack = await startTestStack({
    queueConfig: (scratch) => ({
      [PUSH]: pushQueue(scratch, PUSH),
      [EMPTY]: pushQueue(scratch, EMPTY),
      // Two jobs per worker, one worker.
      [MANY]: pushQueue(scratch, MANY, {
        mapType: 'ManyToOne',
        nQueueLimitWorker: 1,
        maxWorkers: 1,
        workerMaker: {
          module: `${H}workermaker.simple_worker_maker`,
          name: 'SimpleWorkerMaker',
          nJobsPerWorker: 2,
        },
      }),
      // One job, two workers that end when the test says (status.txt), not by themselves.
      [SHARED]: pushQueue(scratch, SHARED, {
        mapType: 'OneToMany',
        nQueueLimitWorker: 2,
        maxWorkers: 2,
        submitter: {
          module: `${H}submitter.dummy_submitter`,
          name: 'DummySubmitter',
          runAfterSeconds: 1,
          finishAfterSeconds: 3600,
        },
        workerMaker: {
          module: `${H}workermaker.simple_worker_maker`,
          name: 'SimpleWorkerMaker',
          nWorkersPerJob: 2,
        },
      }),
      // The batch system refuses every submission for now (Harvester's None).
      [FLAKY]: pushQueue(scratch, FLAKY, {
        nQueueLimitWorker: 1,
        maxWorkers: 1,
        submitter: {
          module: `${H}submitter.dummy_submitter`,
          name: 'DummySubmitter',
          submitOutcome: 'temporaryFailure',
        },
      }),
      // Late binding: the worker goes out without a job and gets one when its pilot asks.
      [LATE]: pushQueue(scratch, LATE, {
        useJobLateBinding: true,
        nQueueLimitWorker: 1,
        maxWorkers: 1,
        submitter: {
          module: `${H}submitter.dummy_submitter`,
          name: 'DummySubmitter',
          runAfterSeconds: 1,
          finishAfterSeconds: 3600,
        },
      }),
    }),
  });
  for (const q of [PUSH, EMPTY, MANY, SHARED, LATE, FLAKY]) stack.sim.control.addQueue(q);
});

after(async () => {
  for (const q of [PUSH, EMPTY, MANY, SHARED, LATE, FLAKY]) {
    await stack?.client.workflow
      .getHandle(queueWorkflowId(stack.harvesterID, q))
      .terminate('test over')
      .catch(() => {});
  }
  await stack?.close();
});

async function startQueue(queueName: string): Promise<WorkflowHandle> {
  const t = stack.configs.queue(queueName).temporal;
  const input: QueueWorkflowInput = {
    harvesterID: stack.harvesterID,
    queueName,
    controlTaskQueue: stack.controlTaskQueue,
    settings: {
      submitterIntervalSeconds: t.submitterIntervalSeconds,
      monitorIntervalSeconds: t.monitorIntervalSeconds,
      maxConsecutiveMonitorFailures: t.maxConsecutiveMonitorFailures,
      autoResumeAfterMonitorRecovery: true,
    },
  };
  return stack.client.workflow.start('queueWorkflow', {
    taskQueue: stack.controlTaskQueue,
    workflowId: queueWorkflowId(stack.harvesterID, queueName),
    args: [input],
  });
}

const workersOf = async (queueName: string) => listLiveWorkers(stack.db, queueName, stack.harvesterID);

/** Every worker row the queue ever had, swept ones included. */
async function workersEver(queueName: string): Promise<number> {
  const r = await stack.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM workers WHERE computing_site = $1 AND harvester_id = $2',
    [queueName, stack.harvesterID],
  );
  return r.rows[0].n;
}

test('a PanDA job is fetched, bound to a new worker, fed to the pilot and finished with its output report', async () => {
  // Every test file has its own simulator but all share one database: a PandaID of its own keeps
  // this job apart from the other files' jobs (real PandaIDs are unique).
  const simJob = stack.sim.control.addJob({
    PandaID: 9_000_000_000 + Math.floor(Math.random() * 1_000_000_000),
    computingSite: PUSH,
    prodSourceLabel: 'managed',
  });
  const pandaID = simJob.PandaID;
  assert.equal(stack.sim.state.jobs.get(pandaID)?.status, 'activated');
  const queue = await startQueue(PUSH);

  // activated → sent, bound to exactly one worker.
  const worker = await eventually('a worker bound to the job', async () => {
    const ws = await workersOf(PUSH);
    for (const w of ws) {
      const jobs = await listJobsOfWorker(stack.db, w.workerID);
      if (jobs.some((j) => j.PandaID === pandaID)) return w;
    }
    return undefined;
  });
  assert.equal(stack.sim.state.jobs.get(pandaID)?.status === 'activated', false, 'PanDA dispatched the job');

  // The job description is in the access point, where the pilot reads it.
  const dir = worker.accessPoint!;
  const specFile = join(dir, 'HPCJobs.json');
  await eventually('job description in the access point', async () => existsSync(specFile));
  const fed = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, Record<string, unknown>>;
  assert.equal(fed[String(pandaID)]?.PandaID, pandaID);
  assert.equal(typeof fed[String(pandaID)]?.jobPars, 'string', 'the job parameters PanDA gave');

  // The worker runs; the pilot writes its final report as a real one would.
  await eventually(
    'worker running',
    async () => (await workersOf(PUSH)).find((w) => w.workerID === worker.workerID)?.status === 'running',
  );
  const outFiles = String(fed[String(pandaID)].outFiles).split(',');
  writeFileSync(
    join(dir, 'worker_attributes.json'),
    JSON.stringify({ jobStatus: 'finished', pilotErrorCode: 0 }),
  );
  writeFileSync(
    join(dir, 'jobReport.json'),
    JSON.stringify({
      exitCode: 0,
      files: {
        output: [
          {
            subFiles: outFiles.map((lfn, i) => ({
              name: lfn,
              file_guid: `guid-${pandaID}-${i}`,
              file_size: 1000 + i,
              checksum: `ad:0a1b2c${i}d`,
            })),
          },
        ],
      },
    }),
  );

  // The worker finishes; PanDA's Adder finds every output and finishes the job.
  const finished = await eventually(
    'job final in PanDA',
    async () => {
      stack.sim.control.runDaemons(); // the Adder runs lazily, on requests
      const j = stack.sim.state.jobs.get(pandaID);
      return j?.status === 'finished' || j?.status === 'failed' ? j : undefined;
    },
    40000,
  ).catch(async (err) => {
    const w = (await workersOf(PUSH)).find((x) => x.workerID === worker.workerID);
    const updates = stack.sim.state.jobUpdates.filter((u) => Number(u.PandaID) === pandaID);
    throw new Error(
      `${(err as Error).message}; PanDA job ${stack.sim.state.jobs.get(pandaID)?.status}, worker ${w?.status}, ` +
        `job reports ${JSON.stringify(updates.map((u) => u.request.job_status))}`,
    );
  });
  assert.equal(
    finished.status,
    'finished',
    `job ${finished.status} in PanDA: ${finished.ddmErrorDiag ?? ''}`,
  );
  const simFinal = stack.sim.state.jobs.get(pandaID)!;
  assert.deepEqual(Object.keys(simFinal.outputReport ?? {}).sort(), [...outFiles].sort());
  assert.equal((simFinal.outputReport?.[outFiles[0]] as { fsize?: number } | undefined)?.fsize, 1000);
  assert.ok(simFinal.metaData?.includes('"exitCode":0'), 'the pilot job report went as meta_data');
  const reported = stack.sim.state.jobUpdates
    .filter((u) => Number(u.PandaID) === pandaID)
    .map((u) => String(u.request.job_status));
  assert.equal(reported.at(-1), 'finished', `reports: ${reported.join(',')}`);

  // The harvester DB: the pilot's attributes on the job, and the job closed (final report accepted).
  const row = await eventually('job closed in the DB', async () => {
    const j = await getJob(stack.db, pandaID);
    return j?.subStatus === 'done' ? j : undefined;
  });
  assert.equal(row.status, 'finished');
  assert.equal(row.jobAttributes.jobStatus, 'finished');

  // One job, one worker: no further workers without further jobs.
  const state = (await queue.query(queueStateQuery)) as QueueWorkflowState;
  assert.equal(state.totals.workersStarted, 1);
  assert.equal(await workersEver(PUSH), 1);
});

test('a push queue with no activated jobs starts no workers', async () => {
  const queue = await startQueue(EMPTY);
  // A cycle that planned: the queue runs and its counts are known (else nothing is even tried).
  const planned = (s: QueueWorkflowState) =>
    s.mode === 'running' && s.countsKnown && !s.lastSubmitCycle?.explanation.startsWith('no submission');
  const first = await eventually(
    'a submitter cycle that planned',
    async () => {
      const s = (await queue.query(queueStateQuery)) as QueueWorkflowState;
      return planned(s) ? s : undefined;
    },
    30000,
  );
  const s = await eventually(
    `three more submitter cycles after cycle ${first.totals.submitCycles}`,
    async () => {
      const st = (await queue.query(queueStateQuery)) as QueueWorkflowState;
      return st.totals.submitCycles >= first.totals.submitCycles + 3 && planned(st) ? st : undefined;
    },
    30000,
  );
  assert.equal(s.totals.workersStarted, 0);
  assert.equal(await workersEver(EMPTY), 0);
});

/** A PandaID of this file's own (every test file shares the database, and real PandaIDs are unique). */
const newPandaID = () => 9_000_000_000 + Math.floor(Math.random() * 1_000_000_000);

const jobReports = (pandaID: number) =>
  stack.sim.state.jobUpdates
    .filter((u) => Number(u.PandaID) === pandaID)
    .map((u) => String(u.request.job_status));

test('ManyToOne: one worker carries two jobs of one task; both get their final report when it ends', async () => {
  const a = stack.sim.control.addJob({
    PandaID: newPandaID(),
    computingSite: MANY,
    taskID: 77,
    coreCount: 2,
  });
  const b = stack.sim.control.addJob({
    PandaID: newPandaID(),
    computingSite: MANY,
    taskID: 77,
    coreCount: 2,
  });
  const queue = await startQueue(MANY);
  const worker = await eventually('a worker with both jobs', async () => {
    for (const w of await workersOf(MANY)) {
      const jobs = (await listJobsOfWorker(stack.db, w.workerID)).map((j) => j.PandaID).sort();
      if (jobs.length === 2) return { w, jobs };
    }
    return undefined;
  });
  assert.deepEqual(worker.jobs, [a.PandaID, b.PandaID].sort());
  assert.equal(worker.w.nCore, 4, 'the worker asks for the cores of both jobs');
  // Harvester's shared-file messenger gives each job of a ManyToOne worker its own directory.
  for (const pandaID of worker.jobs) {
    const specFile = join(worker.w.accessPoint!, String(pandaID), 'HPCJobs.json');
    await eventually(`job ${pandaID} description in its directory`, async () => existsSync(specFile));
    const fed = JSON.parse(readFileSync(specFile, 'utf8'));
    assert.equal(fed[String(pandaID)]?.PandaID, pandaID, 'the job description fed to the pilot');
  }

  // The worker ends after 8 s: both jobs get a final report, with that worker's pandaid_list.
  await eventually(
    'final reports for both jobs',
    async () => [a, b].every((j) => jobReports(j.PandaID).some((s) => s === 'finished' || s === 'failed')),
    40000,
  );
  const update = stack.sim.state.workerUpdates.find((u) => Number(u.request.workerID) === worker.w.workerID);
  assert.deepEqual(((update?.request.pandaid_list ?? []) as number[]).slice().sort(), worker.jobs);
  assert.equal(((await queue.query(queueStateQuery)) as QueueWorkflowState).totals.workersStarted, 1);
});

test('OneToMany: one job runs on two workers; it is final in PanDA only when both have ended, and reported once', async () => {
  const job = stack.sim.control.addJob({ PandaID: newPandaID(), computingSite: SHARED, coreCount: 8 });
  await startQueue(SHARED);
  const pair = await eventually('two workers bound to the one job', async () => {
    const ws = [];
    for (const w of await workersOf(SHARED)) {
      const jobs = await listJobsOfWorker(stack.db, w.workerID);
      if (jobs.some((j) => j.PandaID === job.PandaID)) ws.push(w);
    }
    return ws.length === 2 ? ws.sort((x, y) => x.workerID - y.workerID) : undefined;
  });
  assert.deepEqual(
    pair.map((w) => w.nCore),
    [4, 4],
    'each worker asks for its share of the cores',
  );
  await eventually('both running', async () => {
    const ws = await workersOf(SHARED);
    return ws.filter((w) => w.status === 'running').length === 2;
  });
  await eventually('the job reported running', async () => jobReports(job.PandaID).includes('running'));

  // The first worker ends: the job still runs on the second.
  writeFileSync(join(pair[0].accessPoint!, 'status.txt'), 'finished\n');
  await eventually('first worker finished and reported', async () =>
    stack.sim.state.workerUpdates.some(
      (u) => Number(u.request.workerID) === pair[0].workerID && u.request.status === 'finished',
    ),
  );
  await new Promise((r) => setTimeout(r, 2000));
  assert.ok(
    !jobReports(job.PandaID).some((s) => s === 'finished' || s === 'failed'),
    `no final job report while a worker still runs it: ${jobReports(job.PandaID).join(',')}`,
  );

  // The second ends: now the job is final, reported once.
  writeFileSync(join(pair[1].accessPoint!, 'status.txt'), 'finished\n');
  await eventually(
    'final job report',
    async () => jobReports(job.PandaID).some((s) => s === 'finished' || s === 'failed'),
    20000,
  );
  await new Promise((r) => setTimeout(r, 2000));
  const finals = jobReports(job.PandaID).filter((s) => s === 'finished' || s === 'failed');
  assert.equal(finals.length, 1, `final job reports: ${jobReports(job.PandaID).join(',')}`);
});

test('late binding: a worker goes out without a job, its pilot asks, it becomes ready, gets the job and runs it', async () => {
  const job = stack.sim.control.addJob({ PandaID: newPandaID(), computingSite: LATE });
  await startQueue(LATE);
  const worker = await eventually('a running worker without a job', async () => {
    const w = (await workersOf(LATE))[0];
    return w?.status === 'running' ? w : undefined;
  });
  assert.deepEqual(await listJobsOfWorker(stack.db, worker.workerID), [], 'no job before the pilot asks');
  assert.equal(stack.sim.state.jobs.get(job.PandaID)?.status, 'activated', 'the job still waits in PanDA');

  // The pilot asks for a job (Harvester's shared-file messenger: worker_requestjob.json).
  writeFileSync(join(worker.accessPoint!, 'worker_requestjob.json'), JSON.stringify({ nJobs: 1 }));
  // The monitor tells the lifecycle `ready` (the job may follow within the same second, and a
  // lifecycle that hears both at once reports only the latest, so the signal is what is checked).
  await eventually('the monitor signalled ready', async () => {
    const history = await stack.client.workflow
      .getHandle(workerWorkflowId(stack.harvesterID, LATE, worker.workerID))
      .fetchHistory();
    return (history.events ?? []).some((e) => {
      const a = e.workflowExecutionSignaledEventAttributes;
      const data = a?.input?.payloads?.[0]?.data;
      return (
        a?.signalName === 'statusChanged' &&
        data &&
        JSON.parse(Buffer.from(data).toString()).status === 'ready'
      );
    });
  });
  const specFile = join(worker.accessPoint!, 'HPCJobs.json');
  await eventually('the job written for the pilot', async () => existsSync(specFile), 30000);
  const fed = JSON.parse(readFileSync(specFile, 'utf8'));
  assert.equal(fed[String(job.PandaID)]?.PandaID, job.PandaID);
  assert.equal(
    existsSync(join(worker.accessPoint!, 'worker_requestjob.json')),
    false,
    'the request is answered',
  );
  await eventually('worker running with its job', async () => {
    const w = (await workersOf(LATE)).find((x) => x.workerID === worker.workerID);
    return w?.status === 'running' && w.pandaIDs.includes(job.PandaID);
  });
  await eventually('the job reported running', async () => jobReports(job.PandaID).includes('running'));

  // The worker ends: the job gets its final report, so the lifecycle knew its job.
  writeFileSync(join(worker.accessPoint!, 'status.txt'), 'finished\n');
  await eventually(
    'final job report',
    async () => jobReports(job.PandaID).some((s) => s === 'finished' || s === 'failed'),
    20000,
  );
});

test('a submission that fails for now releases its job: the worker is missed, the job waits for the next worker and is not failed in PanDA', async () => {
  const job = stack.sim.control.addJob({ PandaID: newPandaID(), computingSite: FLAKY });
  await startQueue(FLAKY);
  // Cycle after cycle a worker is made for the job, the submission fails, the job is released.
  const missed = await eventually('two missed workers', async () => {
    const { rows } = await stack.db.query<{ worker_id: string }>(
      `SELECT worker_id FROM workers WHERE computing_site = $1 AND harvester_id = $2 AND status = 'missed'`,
      [FLAKY, stack.harvesterID],
    );
    return rows.length >= 2 ? rows.map((r) => Number(r.worker_id)) : undefined;
  });
  for (const id of missed)
    assert.deepEqual(await listJobsOfWorker(stack.db, id), [], `missed worker ${id} keeps no job`);
  const row = await getJob(stack.db, job.PandaID);
  assert.equal(row?.status, 'starting', 'the job waits, fetched once');
  assert.equal(row?.subStatus, 'prepared');
  assert.ok(
    !jobReports(job.PandaID).some((s) => s === 'failed' || s === 'cancelled'),
    `the job was not failed in PanDA: ${jobReports(job.PandaID).join(',')}`,
  );
  assert.equal(stack.sim.state.jobs.get(job.PandaID)?.status, 'sent', 'PanDA dispatched it once');
});
