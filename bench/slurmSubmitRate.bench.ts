/**
 * Slurm submit rate: the harvester against a site admin's sbatch loop, on the same one-node Slurm
 * (scripts/slurm-setup.sh) and the same trivial job script.
 *
 *   raw        N sequential `sbatch --parsable` calls from a loop (one process after the other,
 *              spawned the way the plugin spawns them) → jobs/s. Run before AND after the
 *              harvester phase; the baseline is their mean, both are reported.
 *   harvester  N worker lifecycle workflows started directly (as the queue's startWorkers activity
 *              does: 20 starts in flight), timed from the first start until the DB shows all N
 *              `submitted` with a batch id (polled every 25 ms) → workers/s.
 *   ratio      harvester / raw, target ≥ 0.9.
 *
 * Each phase starts on an idle slurmctld: the previous phase's jobs are cancelled and waited out.
 * A warm-up of a few lifecycles runs first (workflow bundle loaded, DB pool open, JIT warm) so the
 * phase measures the rate, not the process start. The job script sleeps, so no job ends during a
 * phase (job completions would add slurmctld work to one phase and not the other).
 *
 * Afterwards, the plugins' own command timestamps and the workflows' histories say where the
 * harvester's time went: waiting for a worker slot, the idempotency squeue, sbatch, the DB write.
 *
 * Standalone (own dev server on 7533, own DB): node --import tsx bench/slurmSubmitRate.bench.ts
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../src/plugins/exec';
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import { workerWorkflowId } from '../src/workflows/workerMessages';
import {
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
const START_CONCURRENCY = 20;
const JOB_SCRIPT = '#!/bin/bash\nsleep 300\n';

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
  seconds: number;
  perSecond: number;
  submitted: number;
  startSeconds: number;
  workerIDs: number[];
  t0: number;
  queueName: string;
  cpu: string;
}

async function harvesterPhase(
  stack: SlurmStack,
  n: number,
  queueName = stack.queueName,
): Promise<HarvesterRun> {
  const policy = stack.policyOf(queueName);
  const workers = await stack.newPendingWorkers(n, queueName);
  const ids = workers.map((w) => w.workerID);
  const meter = cpuMeter(stack.temporalAddress);
  const t0 = nowMs();
  let startSeconds = Number.NaN;
  const starting = forEachLimited(workers, START_CONCURRENCY, async (w) => {
    await stack.client.workflow.start(workerLifecycleWorkflow, {
      taskQueue: stack.taskQueue,
      workflowId: workerWorkflowId(stack.harvesterID, queueName, w.workerID),
      args: [{ worker: w, policy }],
    });
  }).then(() => {
    startSeconds = (nowMs() - t0) / 1000;
  });
  const deadline = Date.now() + PHASE_LIMIT_MS;
  let submitted = 0;
  let doneAt = Number.NaN;
  while (Date.now() < deadline) {
    const r = await stack.db.query<{ n: string }>(
      `SELECT count(*) AS n FROM workers WHERE worker_id = ANY($1::bigint[]) AND status = 'submitted' AND batch_id IS NOT NULL`,
      [ids],
    );
    submitted = Number(r.rows[0].n);
    if (submitted >= n) {
      doneAt = nowMs();
      break;
    }
    await sleep(25);
  }
  const cpu = meter();
  await starting;
  const seconds = ((Number.isNaN(doneAt) ? nowMs() : doneAt) - t0) / 1000;
  return {
    seconds,
    perSecond: submitted / seconds,
    submitted,
    startSeconds,
    workerIDs: ids,
    t0,
    queueName,
    cpu,
  };
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

/** Where the harvester phase's time went, from the plugin command log and the workflow histories. */
async function explain(stack: SlurmStack, run: HarvesterRun): Promise<string> {
  const sbatch = stack.log.of('sbatch', run.t0);
  const squeue = stack.log.of('squeue', run.t0);
  const timelines: Timeline[] = [];
  await forEachLimited(run.workerIDs, 10, async (id) => {
    const h = await stack.client.workflow
      .getHandle(workerWorkflowId(stack.harvesterID, run.queueName, id))
      .fetchHistory();
    timelines.push(timelineOf(h.events ?? []));
  });
  const spans = (name: string) => timelines.flatMap((t) => t.activities.filter((a) => a.name === name));
  const wait = (name: string) =>
    spans(name)
      .filter((a) => a.startedMs !== undefined)
      .map((a) => (a.startedMs as number) - a.scheduledMs);
  const run_ = (name: string) =>
    spans(name)
      .filter((a) => a.startedMs !== undefined && a.completedMs !== undefined)
      .map((a) => (a.completedMs as number) - (a.startedMs as number));
  const first = timelines.map((t) => t.workflowTasks[0]).filter((w) => w?.startedMs !== undefined);
  const firstWftWait = first.map((w) => (w.startedMs as number) - w.scheduledMs);
  const firstWftRun = first
    .filter((w) => w.completedMs !== undefined)
    .map((w) => (w.completedMs as number) - (w.startedMs as number));
  const allWft = timelines.flatMap((t) => t.workflowTasks).filter((w) => w.startedMs !== undefined);
  const wftWait = allWft.map((w) => (w.startedMs as number) - w.scheduledMs);
  const submitToRecord = timelines
    .map((t) => {
      const s = t.activities.find((a) => a.name === 'submitWorker');
      const r = t.activities.find((a) => a.name === 'recordWorker');
      return s?.completedMs !== undefined && r?.completedMs !== undefined
        ? r.completedMs - s.completedMs
        : Number.NaN;
    })
    .filter((x) => !Number.isNaN(x));
  const sbatchSpanS =
    sbatch.length > 0
      ? (Math.max(...sbatch.map((s) => s.endMs)) - Math.min(...sbatch.map((s) => s.startMs))) / 1000
      : 0;
  const firstSbatch =
    sbatch.length > 0 ? (Math.min(...sbatch.map((s) => s.startMs)) - run.t0) / 1000 : Number.NaN;
  const lastSbatch =
    sbatch.length > 0 ? (Math.max(...sbatch.map((s) => s.endMs)) - run.t0) / 1000 : Number.NaN;
  // The control phase (dummy plugin) runs no Slurm command: its lines would only say "none".
  const slurmLines =
    sbatch.length === 0
      ? []
      : [
          `sbatch: ${sbatch.length} calls over ${sbatchSpanS.toFixed(2)} s (first began at +${firstSbatch.toFixed(2)} s, last ended at +${lastSbatch.toFixed(2)} s), ${maxInFlight(sbatch)} at most in flight, each ${stats(sbatch.map((s) => s.endMs - s.startMs))}`,
          `squeue (idempotency look-up before each sbatch): ${squeue.length} calls, ${maxInFlight(squeue)} at most in flight, each ${stats(squeue.map((s) => s.endMs - s.startMs))}`,
        ];
  return [
    `starts issued in ${run.startSeconds.toFixed(2)} s; all recorded at +${run.seconds.toFixed(2)} s`,
    ...slurmLines,
    `first workflow task: waited in the task queue ${stats(firstWftWait)}; took ${stats(firstWftRun)}`,
    `all ${allWft.length} workflow tasks: waited ${stats(wftWait)}`,
    run.cpu,
    `submitWorker: waited for a worker slot ${stats(wait('submitWorker'))}; ran ${stats(run_('submitWorker'))}`,
    `reportWorker (batched, 1.5 s window): waited ${stats(wait('reportWorker'))}; ran ${stats(run_('reportWorker'))}`,
    `submitWorker done → recordWorker done (WFT + DB write): ${stats(submitToRecord)}`,
  ].join('\n  ');
}

export async function runSlurmSubmitRateBench(
  env: SlurmBenchEnv = slurmBenchEnvFromProcess(),
): Promise<BenchResult[]> {
  ensureSlurm();
  const tag = `sbrate${Date.now().toString(36)}`;
  const stack = await startSlurmStack({ env, tag, queueName: 'BENCH_SLURM_SUBMIT', template: JOB_SCRIPT });
  const started: HarvesterRun[] = [];
  try {
    const script = join(stack.scratch, 'raw-job.sh');
    writeFileSync(script, JOB_SCRIPT, { mode: 0o755 });

    // Warm-up: one small harvester round, then an idle Slurm again.
    const warm = await harvesterPhase(stack, WARM_UP);
    started.push(warm);
    await cancelJobsTagged(tag);

    const raw1 = await rawSbatchLoop(tag, 1, stack.scratch, script);
    await cancelJobsTagged(tag);

    const h = await harvesterPhase(stack, N);
    started.push(h);
    const why = await explain(stack, h);
    await cancelJobsTagged(tag);

    const load = { harvester: loadavg()[0] };
    // Control: the same lifecycles on the dummy plugin, no Slurm: the Temporal/DB side alone.
    const control = await harvesterPhase(stack, N, CONTROL_QUEUE);
    started.push(control);
    const controlWhy = await explain(stack, control);

    const raw2 = await rawSbatchLoop(tag, 2, stack.scratch, script);
    const rawRate = mean([raw1.perSecond, raw2.perSecond]);
    const ratio = h.submitted === N ? h.perSecond / rawRate : 0;
    const allRaw = [...raw1.sbatchMs, ...raw2.sbatchMs];
    return [
      {
        name: `raw sbatch loop (N=${N}, sequential)`,
        value: rawRate,
        unit: 'jobs/s',
        note: `before: ${raw1.perSecond.toFixed(1)} jobs/s (${raw1.seconds.toFixed(2)} s), after: ${raw2.perSecond.toFixed(1)} jobs/s (${raw2.seconds.toFixed(2)} s); one sbatch ${stats(allRaw)}`,
      },
      {
        name: `harvester Slurm submission (N=${N} lifecycles → batch id recorded)`,
        value: h.perSecond,
        unit: 'workers/s',
        note: `${h.submitted}/${N} submitted in ${h.seconds.toFixed(2)} s (1-min load average ${load.harvester.toFixed(1)} on ${cpus().length} CPUs)\n  ${why}`,
      },
      {
        name: `control: same lifecycles on the dummy plugin (N=${N}, no Slurm)`,
        value: control.perSecond,
        unit: 'workers/s',
        note: `${control.submitted}/${N} submitted in ${control.seconds.toFixed(2)} s\n  ${controlWhy}`,
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
    // The lifecycles would otherwise sit until their heartbeat timers: end them so the server is idle.
    const lifecycles = started.flatMap((r) =>
      r.workerIDs.map((id) => workerWorkflowId(stack.harvesterID, r.queueName, id)),
    );
    await forEachLimited(lifecycles, 20, async (workflowId) => {
      await stack.client.workflow
        .getHandle(workflowId)
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
  }
}

if (require.main === module) runSlurmBenchAlone(runSlurmSubmitRateBench);
