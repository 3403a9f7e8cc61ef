/**
 * Slurm submit rate: the harvester against a site admin's sbatch loop, on the same one-node Slurm
 * (scripts/slurm-setup.sh) and the same trivial job script.
 *
 *   raw        N sequential `sbatch --parsable` calls from a loop (one process after the other,
 *              spawned the way the plugin spawns them) → jobs/s. Run before AND after the
 *              harvester phase; the baseline is their mean, both are reported.
 *   harvester  the product's own submission path: the real queue workflow (queueWorkflow, started
 *              as the instance workflow starts it) for a Slurm pull queue whose limits let ONE
 *              submitter cycle submit all N workers (nQueueLimitWorker = maxWorkers =
 *              maxNewWorkersPerCycle = N, and N activated jobs in the PanDA simulator). Its cycle is
 *              planSubmission → allocateWorkerIds → ONE central activity submitQueueWorkers:
 *              pending rows, ONE submit_workers call in process (the SlurmSubmitter runs sbatch
 *              nProcesses at a time), batch ids into the DB, then the lifecycles start past their
 *              submit.
 *              Timed from the moment the submitter cycle begins (planSubmission scheduled, from the
 *              queue's history) until the DB shows all N `submitted` with a batch id (polled every
 *              25 ms) → workers/s. The time from the workflow start (which includes the queue's
 *              first monitor cycle, run before the first submitter cycle) is reported too.
 *   ratio      harvester / raw, target ≥ 0.9.
 *
 * Each phase starts on an idle slurmctld: the previous phase's jobs are cancelled and waited out,
 * and its queue workflow is stopped and its lifecycles terminated. A warm-up round (a queue of its
 * own, 5 workers) runs first (workflow bundle loaded, DB pool open, JIT warm) so the phase
 * measures the rate, not the process start. The job script sleeps, so no job ends during a phase.
 *
 * Afterwards, the queue's history and the plugin's own command timestamps say where the time went:
 * plan, prepare, the bulk submit (and the sbatch calls inside it), the DB record and the starts.
 * A control phase runs the same queue on the dummy plugin (no Slurm): the Temporal/DB side alone.
 *
 * Standalone (own dev server on 7533, own DB): node --import tsx bench/slurmSubmitRate.bench.ts
 * N: HARVESTER_BENCH_SLURM_N (default 100). The submitter's nProcesses (an operator's setting in
 * the queue config; plugin default 8): HARVESTER_BENCH_SLURM_NPROCESSES.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { HarvesterInstance, HarvesterQueue } from '../src/core/searchAttributes';
import { runCommand } from '../src/plugins/exec';
import type { queueWorkflow } from '../src/workflows/queue';
import { type QueueWorkflowInput, queueWorkflowId, stopQueueSignal } from '../src/workflows/queueMessages';
import { workerWorkflowId } from '../src/workflows/workerMessages';
import {
  type ActivitySpan,
  type BenchResult,
  CONTROL_QUEUE,
  cancelJobsTagged,
  cpuMeter,
  ensureSlurm,
  forEachLimited,
  mean,
  nowMs,
  percentile,
  runSlurmBenchAlone,
  type SlurmBenchEnv,
  type SlurmStack,
  sleep,
  slurmBenchEnvFromProcess,
  startSlurmStack,
  type Timeline,
  timelineOf,
} from './support/slurmBench';

const N = Number(process.env.HARVESTER_BENCH_SLURM_N || 100);
const WARM_UP = 5;
const TARGET_RATIO = 0.9;
/** Bound on one harvester phase; whatever is submitted by then is reported. */
const PHASE_LIMIT_MS = 120_000;
const JOB_SCRIPT = '#!/bin/bash\nsleep 300\n';
/** The SlurmSubmitter's parallel sbatch calls; undefined = the plugin's default (8). */
const N_PROCESSES = process.env.HARVESTER_BENCH_SLURM_NPROCESSES
  ? Number(process.env.HARVESTER_BENCH_SLURM_NPROCESSES)
  : undefined;
const SLURM_QUEUE = 'BENCH_SLURM_SUBMIT';
const WARM_QUEUE = 'BENCH_SLURM_WARMUP';
/** The submitter cycle's activities, in order. */
const CYCLE_STEPS = ['planSubmission', 'allocateWorkerIds', 'submitQueueWorkers'];
/** The step that prepares, submits, records and starts the lifecycles (the Slurm queue is central). */
const SUBMIT_STEP = 'submitQueueWorkers';

interface RawRun {
  seconds: number;
  perSecond: number;
  sbatchMs: number[];
}

/** A site admin's loop: one sbatch after the other, each waiting for the previous one. */
async function rawSbatchLoop(tag: string, run: number, dir: string, script: string): Promise<RawRun> {
  const sbatchMs: number[] = [];
  const t0 = nowMs();
  for (let i = 1; i <= N; i++) {
    const s = nowMs();
    await runCommand(
      'sbatch',
      [
        '--parsable',
        `--job-name=${tag}-raw${run}-${i}`,
        `--chdir=${dir}`,
        `--output=${join(dir, `raw-${run}-${i}.out`)}`,
        `--error=${join(dir, `raw-${run}-${i}.err`)}`,
        script,
      ],
      { timeoutMs: 60_000 },
    );
    sbatchMs.push(nowMs() - s);
  }
  const seconds = (nowMs() - t0) / 1000;
  return { seconds, perSecond: N / seconds, sbatchMs };
}

interface HarvesterRun {
  queueName: string;
  expected: number;
  submitted: number;
  /** Just before the client's start call. */
  t0: number;
  /** When the DB showed all `expected` workers submitted with a batch id (NaN: never, in time). */
  doneAt: number;
  /** The queue's history, read after the queue workflow was stopped. */
  timeline: Timeline;
  /** planSubmission scheduled: the submitter cycle's beginning (NaN if it never began). */
  cycleStart: number;
  /** Seconds from cycleStart (the measured ones) and from t0 to all recorded. */
  seconds: number;
  secondsFromStart: number;
  perSecond: number;
  workerIDs: number[];
  cpu: string;
  explanation: string;
}

/** Workers of one queue of this stack: how many are submitted with a batch id, and all their ids. */
async function countWorkers(
  stack: SlurmStack,
  queueName: string,
): Promise<{ submitted: number; ids: number[] }> {
  const r = await stack.db.query<{ worker_id: string; ok: boolean }>(
    `SELECT worker_id, (status = 'submitted' AND batch_id IS NOT NULL) AS ok
       FROM workers WHERE computing_site = $1 AND harvester_id = $2`,
    [queueName, stack.harvesterID],
  );
  return { submitted: r.rows.filter((x) => x.ok).length, ids: r.rows.map((x) => Number(x.worker_id)) };
}

/**
 * Starts the queue workflow as the instance workflow does, waits until the DB shows `expected`
 * workers submitted with a batch id, then stops the queue (stop signal; it completes once its
 * cycle is over) and reads its history.
 */
async function harvesterPhase(stack: SlurmStack, queueName: string, expected: number): Promise<HarvesterRun> {
  const q = stack.configs.queue(queueName);
  const input: QueueWorkflowInput = {
    harvesterID: stack.harvesterID,
    queueName,
    // On the bench stack's one worker (bench/support/stack.ts).
    controlTaskQueue: stack.taskQueue,
    settings: {
      submitterIntervalSeconds: q.temporal.submitterIntervalSeconds,
      monitorIntervalSeconds: q.temporal.monitorIntervalSeconds,
      maxConsecutiveMonitorFailures: q.temporal.maxConsecutiveMonitorFailures,
      autoResumeAfterMonitorRecovery: true,
    },
  };
  const meter = cpuMeter(stack.temporalAddress);
  const t0 = nowMs();
  const handle = await stack.client.workflow.start<typeof queueWorkflow>('queueWorkflow', {
    taskQueue: stack.taskQueue,
    workflowId: queueWorkflowId(stack.harvesterID, queueName),
    args: [input],
    typedSearchAttributes: [
      { key: HarvesterQueue, value: queueName },
      { key: HarvesterInstance, value: stack.harvesterID },
    ],
    staticSummary: `queue ${queueName} of bench instance ${stack.harvesterID}`,
  });
  const deadline = Date.now() + PHASE_LIMIT_MS;
  let submitted = 0;
  let doneAt = Number.NaN;
  while (Date.now() < deadline) {
    submitted = (await countWorkers(stack, queueName)).submitted;
    if (submitted >= expected) {
      doneAt = nowMs();
      break;
    }
    await sleep(25);
  }
  const end = Number.isNaN(doneAt) ? nowMs() : doneAt;
  const cpu = meter();
  // The stop is handled once the running cycle (its submitQueueWorkers) is over: the history is then complete.
  await handle.signal(stopQueueSignal, { reason: 'bench phase over' });
  const final = await Promise.race([
    handle.result().catch(() => undefined),
    sleep(60_000).then(() => undefined),
  ]);
  if (!final) await handle.terminate('bench phase over: did not stop in 60 s').catch(() => {});
  const history = await handle.fetchHistory();
  const timeline = timelineOf(history.events ?? []);
  const plan = timeline.activities.find((a) => a.name === 'planSubmission');
  const cycleStart = plan?.scheduledMs ?? Number.NaN;
  const seconds = (end - cycleStart) / 1000;
  const { ids } = await countWorkers(stack, queueName);
  return {
    queueName,
    expected,
    submitted,
    t0,
    doneAt,
    timeline,
    cycleStart,
    seconds,
    secondsFromStart: (end - t0) / 1000,
    perSecond: submitted / seconds,
    workerIDs: ids,
    cpu,
    explanation: final?.lastSubmitCycle?.explanation ?? '',
  };
}

/** Ends one phase's lifecycles (they would sit until their heartbeat timers) so the server is idle. */
async function terminateLifecycles(stack: SlurmStack, run: HarvesterRun): Promise<void> {
  await forEachLimited(run.workerIDs, 20, async (id) => {
    await stack.client.workflow
      .getHandle(workerWorkflowId(stack.harvesterID, run.queueName, id))
      .terminate('bench phase over')
      .catch(() => {});
  });
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
const stats = (xs: number[]) =>
  xs.length === 0
    ? 'n/a'
    : `p50 ${fmt(percentile(xs, 0.5))}, p95 ${fmt(percentile(xs, 0.95))}, max ${fmt(Math.max(...xs))}`;

/** Most commands of one kind running at the same moment. */
function maxInFlight(spans: Array<{ startMs: number; endMs: number }>): number {
  const edges = spans.flatMap((s) => [
    { t: s.startMs, d: 1 },
    { t: s.endMs, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  let best = 0;
  for (const e of edges) {
    cur += e.d;
    best = Math.max(best, cur);
  }
  return best;
}

/** The parts of the measured time, in ms, for the summary line (sums to the measured time). */
interface Breakdown {
  waited: number;
  ran: Record<string, number>;
  between: number;
}

/** Where the harvester phase's time went, from the queue's history and the plugin command log. */
function explain(stack: SlurmStack, run: HarvesterRun): string {
  const tl = run.timeline;
  const at = (ms: number | undefined) => {
    if (ms === undefined || Number.isNaN(ms)) return '?';
    const d = (ms - run.cycleStart) / 1000;
    return `${d < 0 ? '−' : '+'}${Math.abs(d).toFixed(3)} s`;
  };
  const ranMs = (a: ActivitySpan) =>
    a.startedMs !== undefined && a.completedMs !== undefined ? fmt(a.completedMs - a.startedMs) : '?';
  const since = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? '?' : fmt(b - a);
  // The cycle's steps: the first of each name at or after the cycle's start.
  const steps = CYCLE_STEPS.map((name) =>
    tl.activities.find((a) => a.name === name && a.scheduledMs >= run.cycleStart),
  ).filter((a): a is ActivitySpan => a !== undefined);
  const beforeCycle = tl.activities.filter((a) => a.scheduledMs < run.cycleStart);
  const lastBefore = beforeCycle[beforeCycle.length - 1];
  const lines: string[] = [
    `queue workflow (not timed): client start call at ${at(run.t0)}, first workflow task started ${at(tl.workflowTasks[0]?.startedMs)}; then the first monitor cycle: ${beforeCycle.map((a) => `${a.name} scheduled ${at(a.scheduledMs)}, ran ${ranMs(a)}`).join('; ') || 'nothing'}; ${since(lastBefore?.completedMs, run.cycleStart)} from its end to planSubmission scheduled; workflow tasks before the cycle scheduled at ${
      tl.workflowTasks
        .filter((w) => w.scheduledMs < run.cycleStart)
        .map((w) => at(w.scheduledMs))
        .join(', ') || 'none'
    } (the queue's loop first waits on condition() with a timeout of max(due − now, 1 ms): a server timer)`,
    `adjuster: ${run.explanation || '?'}`,
  ];
  const bd: Breakdown = { waited: 0, ran: {}, between: 0 };
  let prevEnd: number | undefined;
  for (const a of steps) {
    if (prevEnd !== undefined) bd.between += a.scheduledMs - prevEnd;
    const wait = a.startedMs !== undefined ? a.startedMs - a.scheduledMs : Number.NaN;
    const ran =
      a.startedMs !== undefined && a.completedMs !== undefined ? a.completedMs - a.startedMs : Number.NaN;
    if (!Number.isNaN(wait)) bd.waited += wait;
    if (!Number.isNaN(ran)) bd.ran[a.name] = ran;
    lines.push(
      `${a.name}: scheduled ${at(a.scheduledMs)}, waited for a slot ${Number.isNaN(wait) ? '?' : fmt(wait)}, ran ${Number.isNaN(ran) ? '?' : fmt(ran)} (until ${at(a.completedMs)})`,
    );
    prevEnd = a.completedMs;
  }
  lines.push(`between the steps (workflow task round trips): ${fmt(bd.between)} in all`);
  const submit = steps.find((a) => a.name === SUBMIT_STEP);
  const sbatch = stack.log.of('sbatch', run.t0);
  const squeue = stack.log.of('squeue', run.t0);
  if (sbatch.length > 0) {
    const first = Math.min(...sbatch.map((s) => s.startMs));
    const last = Math.max(...sbatch.map((s) => s.endMs));
    const each = sbatch.map((s) => s.endMs - s.startMs);
    const inFlight = maxInFlight(sbatch);
    lines.push(
      `sbatch (inside ${SUBMIT_STEP}): ${sbatch.length} calls from ${at(first)} to ${at(last)} (${((last - first) / 1000).toFixed(2)} s, ${(sbatch.length / ((last - first) / 1000)).toFixed(1)} calls/s), ${inFlight} at most in flight, each ${stats(each)}; ${SUBMIT_STEP} started → first sbatch ${since(submit?.startedMs, first)} (the pending rows first), last sbatch → ${SUBMIT_STEP} completed ${since(last, submit?.completedMs)} (the DB records and the lifecycle starts)`,
      `squeue during the phase: ${squeue.length} calls`,
    );
  }
  lines.push(
    `${SUBMIT_STEP}: started ${at(submit?.startedMs)}; all ${run.expected} recorded in the DB (seen by the 25 ms poll) ${since(submit?.startedMs, run.doneAt)} later, at ${at(run.doneAt)}; the lifecycle starts after that ended at ${at(submit?.completedMs)}`,
  );
  // The measured interval, split: planSubmission … submitQueueWorkers started (+ its part up to all recorded).
  const recordPart =
    submit?.startedMs !== undefined && !Number.isNaN(run.doneAt) ? run.doneAt - submit.startedMs : 0;
  const parts = [
    ...Object.entries(bd.ran)
      .filter(([name]) => name !== SUBMIT_STEP)
      .map(([name, ms]) => `${name} ${fmt(ms)}`),
    `${SUBMIT_STEP} up to all recorded ${fmt(recordPart)}`,
    `waiting for activity slots ${fmt(bd.waited)}`,
    `workflow tasks between steps ${fmt(bd.between)}`,
  ];
  lines.push(`measured ${fmt(run.seconds * 1000)} = ${parts.join(' + ')} (± the 25 ms poll)`, run.cpu);
  return lines.join('\n  ');
}

/** The rate counted up to submitQueueWorkers' end: every lifecycle started too, not only recorded. */
function lifecyclesRate(run: HarvesterRun): string {
  const start = run.timeline.activities.find(
    (a) => a.name === SUBMIT_STEP && a.scheduledMs >= run.cycleStart,
  );
  if (start?.completedMs === undefined) return 'lifecycle starts did not finish';
  const s = (start.completedMs - run.cycleStart) / 1000;
  return `${(run.submitted / s).toFixed(1)} workers/s, ${s.toFixed(2)} s, counted until all lifecycles were started`;
}

export async function runSlurmSubmitRateBench(
  env: SlurmBenchEnv = slurmBenchEnvFromProcess(),
): Promise<BenchResult[]> {
  ensureSlurm();
  const tag = `sbrate${Date.now().toString(36)}`;
  const limits = { maxWorkers: N, nQueueLimitWorker: N, maxNewWorkersPerCycle: N };
  const stack = await startSlurmStack({
    env,
    tag,
    queueName: SLURM_QUEUE,
    template: JOB_SCRIPT,
    extras: {
      moreSlurmQueues: [WARM_QUEUE],
      attributes: limits,
      slurmSubmitter: N_PROCESSES === undefined ? {} : { nProcesses: N_PROCESSES },
    },
  });
  try {
    // A pull queue submits no more pilots than PanDA has activated jobs: N for the measured queues,
    // WARM_UP for the warm-up queue (which so submits WARM_UP workers under the same limits).
    stack.sim.control.addJobs(N, { computingSite: SLURM_QUEUE });
    stack.sim.control.addJobs(N, { computingSite: CONTROL_QUEUE });
    stack.sim.control.addJobs(WARM_UP, { computingSite: WARM_QUEUE });
    const script = join(stack.scratch, 'raw-job.sh');
    writeFileSync(script, JOB_SCRIPT, { mode: 0o755 });

    // Warm-up: one small queue round, then an idle Slurm and Temporal again.
    const warm = await harvesterPhase(stack, WARM_QUEUE, WARM_UP);
    await terminateLifecycles(stack, warm);
    await cancelJobsTagged(tag);

    const raw1 = await rawSbatchLoop(tag, 1, stack.scratch, script);
    await cancelJobsTagged(tag);

    const h = await harvesterPhase(stack, SLURM_QUEUE, N);
    const why = explain(stack, h);
    const load = loadavg()[0];
    await terminateLifecycles(stack, h);
    await cancelJobsTagged(tag);

    // Control: the same queue on the dummy plugin, no Slurm: the Temporal/DB side alone.
    const control = await harvesterPhase(stack, CONTROL_QUEUE, N);
    const controlWhy = explain(stack, control);
    await terminateLifecycles(stack, control);

    const raw2 = await rawSbatchLoop(tag, 2, stack.scratch, script);
    const rawRate = mean([raw1.perSecond, raw2.perSecond]);
    const ratio = h.submitted === N ? h.perSecond / rawRate : 0;
    const allRaw = [...raw1.sbatchMs, ...raw2.sbatchMs];
    const nProcesses = N_PROCESSES === undefined ? 'plugin default 8' : `${N_PROCESSES}, set by the bench`;
    return [
      {
        name: `raw sbatch loop (N=${N}, sequential)`,
        value: rawRate,
        unit: 'jobs/s',
        note: `before: ${raw1.perSecond.toFixed(1)} jobs/s (${raw1.seconds.toFixed(2)} s), after: ${raw2.perSecond.toFixed(1)} jobs/s (${raw2.seconds.toFixed(2)} s); one sbatch ${stats(allRaw)}`,
      },
      {
        name: `harvester Slurm submission (queue workflow, one cycle of N=${N} → batch ids recorded; nProcesses ${nProcesses})`,
        value: h.perSecond,
        unit: 'workers/s',
        note: `${h.submitted}/${N} submitted in ${h.seconds.toFixed(2)} s from the cycle's start (${lifecyclesRate(h)}; ${(h.submitted / h.secondsFromStart).toFixed(1)} workers/s, ${h.secondsFromStart.toFixed(2)} s, from the workflow start call; 1-min load average ${load.toFixed(1)} on ${cpus().length} CPUs)\n  ${why}`,
      },
      {
        name: `control: the same queue on the dummy plugin (N=${N}, no Slurm)`,
        value: control.perSecond,
        unit: 'workers/s',
        note: `${control.submitted}/${N} submitted in ${control.seconds.toFixed(2)} s from the cycle's start\n  ${controlWhy}`,
      },
      {
        name: 'harvester / raw sbatch submit rate',
        value: ratio,
        unit: 'ratio',
        target: `≥ ${TARGET_RATIO}`,
        pass: ratio >= TARGET_RATIO,
      },
    ];
  } finally {
    await cancelJobsTagged(tag).catch(() => 0);
    // Whatever a failed phase left: its queue workflow and every lifecycle this instance started.
    for (const name of [WARM_QUEUE, SLURM_QUEUE, CONTROL_QUEUE]) {
      await stack.client.workflow
        .getHandle(queueWorkflowId(stack.harvesterID, name))
        .terminate('bench over')
        .catch(() => {});
    }
    const left = await stack.db
      .query<{ worker_id: string; computing_site: string }>(
        'SELECT worker_id, computing_site FROM workers WHERE harvester_id = $1',
        [stack.harvesterID],
      )
      .then((r) => r.rows)
      .catch(() => []);
    await forEachLimited(left, 20, async (w) => {
      await stack.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, w.computing_site, Number(w.worker_id)))
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
  }
}

if (require.main === module) runSlurmBenchAlone(runSlurmSubmitRateBench);
