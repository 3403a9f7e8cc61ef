/**
 * Final-report latency on Slurm: from the moment a batch job ends to the moment the PanDA
 * simulator records the worker's final update_workers entry (issue 7's second benchmark).
 *
 * A real queue workflow (`queueWorkflow`, as bench/lifecycleThroughput.bench.ts starts it) runs a
 * Slurm queue on the one-node Slurm of scripts/slurm-setup.sh: its submitter cycle submits N
 * pilots in one bulk call (the queue is paused once N are started, so no more come), each job
 * sleeps 3 to 12 s (3 + workerID mod 10, so the ends spread over a whole monitor interval) and
 * ends; the queue's monitor cycle (one squeue for all live workers, the jobcomp file for the ones
 * squeue no longer lists) signals each lifecycle whose job ended, and the lifecycle sends the final
 * report at once. Pull mode (mapType NoJob): the final report is the worker's; there are no jobs.
 *
 * Per worker, three instants:
 *   t_end     Slurm's own EndTime of the job, from the jobcomp file (/var/log/slurm/jobcomp.log).
 *             Its resolution is 1 s (Slurm truncates to the second): the real end lies in
 *             [EndTime, EndTime + 1 s), so every number that starts at t_end reads 0–1 s high.
 *   t_signal  When the Temporal server recorded the `statusChanged` signal with the final status
 *             in the worker workflow's history: the monitor cycle that saw the end has acted.
 *   t_report  When the simulator recorded the worker's first update_workers entry with a final
 *             status (`at` of stack.sim.state.workerUpdates; the simulator runs on the real clock).
 *
 *   total      = t_report − t_end    (what PanDA waits for)
 *   cadence    = t_signal − t_end    (the monitor interval: up to one interval, jittered ×0.8–1.2 by
 *                                     the queue workflow, plus the cycle's own squeue/jobcomp work)
 *   processing = t_report − t_signal (workflow task, DB record, report batcher, HTTP to PanDA)
 *
 * The monitor interval is short here (MONITOR_SECONDS, default 10 s) to keep the bench short;
 * Harvester's default is 300 s, and there the total is bounded by that interval plus the
 * processing part this bench measures.
 *
 * Standalone (own dev server on 7533, own DB): node --import tsx bench/finalReportLatency.bench.ts
 *   HARVESTER_BENCH_FINAL_REPORT_N (default 30) workers,
 *   HARVESTER_BENCH_FINAL_REPORT_MONITOR_SECONDS (default 10) the queue's monitorIntervalSeconds.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { isFinalWorkerStatus, type WorkerStatus } from '../src/core/workerStatus';
import { parseJobComp } from '../src/plugins/slurm/parse';
import { queueWorkflow } from '../src/workflows/queue';
import {
  pauseUpdate,
  queueStateQuery,
  queueWorkflowId,
  stopQueueSignal,
} from '../src/workflows/queueMessages';
import { type WorkerStatusReport, workerWorkflowId } from '../src/workflows/workerMessages';
import {
  type BenchResult,
  cancelJobsTagged,
  cpuMeter,
  ensureSlurm,
  forEachLimited,
  percentile,
  runSlurmBenchAlone,
  type SlurmBenchEnv,
  sleep,
  slurmBenchEnvFromProcess,
  startSlurmStack,
} from './support/slurmBench';

const N = Number(process.env.HARVESTER_BENCH_FINAL_REPORT_N || 30);
const MONITOR_SECONDS = Number(process.env.HARVESTER_BENCH_FINAL_REPORT_MONITOR_SECONDS || 10);
const SUBMITTER_SECONDS = 5;
/**
 * Harvester's default monitor cadence: a worker is checked at most every checkInterval = 300 s
 * (harvester-spec §monitor; the agent's sleepTime is 600 s in the sample config).
 */
const HARVESTER_DEFAULT_MONITOR_SECONDS = 300;
/** The product's target: the final report goes out at once after the change is seen. */
const TARGET_PROCESSING_P95_MS = 5000;
const JOB_COMP_FILE = '/var/log/slurm/jobcomp.log';
const JOB_MIN_SECONDS = 3;
const JOB_SPREAD_SECONDS = 10;
/** `${workerID}` is the submitter's placeholder; `$((...))` is left to bash. */
const JOB_SCRIPT = `#!/bin/bash\nsleep $((${JOB_MIN_SECONDS} + \${workerID} % ${JOB_SPREAD_SECONDS}))\n`;
/** Longest wait for N workers to be started by the queue's submitter cycles. */
const START_LIMIT_MS = 120_000;
/** Longest wait, after all are started, for every worker to be reported final. */
const FINAL_LIMIT_MS = (JOB_MIN_SECONDS + JOB_SPREAD_SECONDS + 4 * MONITOR_SECONDS) * 1000 + 120_000;

interface Sample {
  workerID: number;
  batchID: string;
  status: string;
  endMs: number;
  signalMs: number;
  reportMs: number;
  /** The endTime the final report gave PanDA (epoch ms), if it carried one. */
  reportedEndMs?: number;
  /** Start of the monitor cycle's squeue call that preceded the signal. */
  squeueStartMs?: number;
}

const fmt = (xs: readonly number[]) =>
  xs.length === 0
    ? 'n/a'
    : `min ${Math.min(...xs).toFixed(0)} ms, p50 ${percentile(xs, 0.5).toFixed(0)} ms, p95 ${percentile(xs, 0.95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

/** `datetime/2026-05-01 10:00:00.123456` (UTC, how the client sends datetimes) → epoch ms. */
function pandaDatetimeMs(value: unknown): number | undefined {
  const m = typeof value === 'string' ? /^datetime\/(\S+) (\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(value) : null;
  return m ? Date.parse(`${m[1]}T${m[2]}${m[3] ?? ''}Z`) : undefined;
}

/** The history event fields read here (structural: no proto package import needed). */
interface SignalEventLike {
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  workflowExecutionSignaledEventAttributes?: {
    signalName?: string | null;
    input?: { payloads?: Payload[] | null } | null;
  } | null;
}

function eventMs(e: SignalEventLike): number {
  const t = e.eventTime;
  return t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
}

/** Server time of the first statusChanged signal carrying a final status, if any. */
function finalSignalMs(events: readonly SignalEventLike[]): number | undefined {
  for (const e of events) {
    const attrs = e.workflowExecutionSignaledEventAttributes;
    if (attrs?.signalName !== 'statusChanged') continue;
    const payload = attrs.input?.payloads?.[0];
    if (!payload) continue;
    const report = defaultPayloadConverter.fromPayload<WorkerStatusReport>(payload);
    if (report.status && isFinalWorkerStatus(report.status)) return eventMs(e);
  }
  return undefined;
}

export async function runFinalReportLatencyBench(
  env: SlurmBenchEnv = slurmBenchEnvFromProcess(),
): Promise<BenchResult[]> {
  ensureSlurm();
  const loadAtStart = loadavg()[0];
  const tag = `frl${Date.now().toString(36)}`;
  const queueName = 'BENCH_SLURM_FINAL_REPORT';
  const cadences = {
    submitterIntervalSeconds: SUBMITTER_SECONDS,
    monitorIntervalSeconds: MONITOR_SECONDS,
  };
  const stack = await startSlurmStack({
    env,
    tag,
    queueName,
    template: JOB_SCRIPT,
    temporal: cadences,
    // All N in the first submitter cycle; no more live workers than N at any time.
    extras: { attributes: { maxWorkers: N, nQueueLimitWorker: N, maxNewWorkersPerCycle: N } },
  });
  // A pull queue asks for no more pilots than PanDA has activated jobs.
  stack.sim.control.addJobs(N, { computingSite: queueName });
  const queueId = queueWorkflowId(stack.harvesterID, queueName);
  const workerIdsOf = async () =>
    (
      await stack.db.query<{ worker_id: string }>('SELECT worker_id FROM workers WHERE harvester_id = $1', [
        stack.harvesterID,
      ])
    ).rows.map((r) => Number(r.worker_id));
  try {
    const handle = await stack.client.workflow.start(queueWorkflow, {
      taskQueue: stack.taskQueue,
      workflowId: queueId,
      args: [
        {
          harvesterID: stack.harvesterID,
          queueName,
          // On the bench stack's one worker (bench/support/stack.ts).
          controlTaskQueue: stack.taskQueue,
          settings: {
            ...cadences,
            maxConsecutiveMonitorFailures: 1000,
            autoResumeAfterMonitorRecovery: true,
          },
        },
      ],
    });
    const cpu = cpuMeter(stack.temporalAddress);

    // --- N workers started, then no more ----------------------------------------------------
    const startDeadline = Date.now() + START_LIMIT_MS;
    let started = 0;
    while (Date.now() < startDeadline) {
      started = (await handle.query(queueStateQuery)).totals.workersStarted;
      if (started >= N) break;
      await sleep(250);
    }
    // Paused, the queue still runs its monitor cycles (which this bench measures) but submits nothing.
    await handle.executeUpdate(pauseUpdate, { args: [{ reason: 'final-report bench: N workers started' }] });
    started = (await handle.query(queueStateQuery)).totals.workersStarted;
    if (started < N)
      throw new Error(`the queue started only ${started} of ${N} workers in ${START_LIMIT_MS / 1000} s`);
    const workerIDs = await workerIdsOf();
    process.stderr.write(
      `  final-report: ${workerIDs.length} workers started; jobs sleep ${JOB_MIN_SECONDS}–${JOB_MIN_SECONDS + JOB_SPREAD_SECONDS - 1} s; monitor every ${MONITOR_SECONDS} s\n`,
    );

    // --- wait until the simulator has every final report -------------------------------------
    const finalReportMs = new Map<number, { at: number; status: string; endTime: unknown }>();
    const finalDeadline = Date.now() + FINAL_LIMIT_MS;
    let seen = 0;
    while (Date.now() < finalDeadline) {
      for (; seen < stack.sim.state.workerUpdates.length; seen++) {
        const u = stack.sim.state.workerUpdates[seen];
        const id = Number(u.request.workerID);
        const status = String(u.request.status);
        if (u.harvesterId !== stack.harvesterID || finalReportMs.has(id)) continue;
        if (isFinalWorkerStatus(status as WorkerStatus))
          finalReportMs.set(id, { at: u.at, status, endTime: u.request.endTime });
      }
      if (workerIDs.every((id) => finalReportMs.has(id))) break;
      await sleep(500);
    }
    const cpuNote = cpu();
    const missing = workerIDs.filter((id) => !finalReportMs.has(id));

    // --- the three instants per worker -------------------------------------------------------
    const batchRows = await stack.db.query<{ worker_id: string; batch_id: string | null }>(
      'SELECT worker_id, batch_id FROM workers WHERE harvester_id = $1',
      [stack.harvesterID],
    );
    const batchOf = new Map(batchRows.rows.map((r) => [Number(r.worker_id), r.batch_id ?? '']));
    // The lifecycles write their final status at their last step; jobcomp is written by slurmctld
    // at the job's end, so every job that ended is in it by now.
    const jobComp = parseJobComp(readFileSync(JOB_COMP_FILE, 'utf8'));
    const monitorSqueues = stack.log.of('squeue').filter((c) => c.args.includes('-j'));
    const samples: Sample[] = [];
    const problems: string[] = [];
    await forEachLimited(workerIDs, 8, async (workerID) => {
      const report = finalReportMs.get(workerID);
      if (!report) return;
      const batchID = batchOf.get(workerID) ?? '';
      const endIso = jobComp.get(batchID)?.endTime;
      if (!endIso) {
        problems.push(`worker ${workerID}: job ${batchID || '(none)'} has no EndTime in ${JOB_COMP_FILE}`);
        return;
      }
      const history = await stack.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, queueName, workerID))
        .fetchHistory();
      const signalMs = finalSignalMs((history.events ?? []) as SignalEventLike[]);
      if (signalMs === undefined) {
        problems.push(`worker ${workerID}: no final statusChanged signal in its history`);
        return;
      }
      const before = monitorSqueues.filter((c) => c.startMs <= signalMs);
      samples.push({
        workerID,
        batchID,
        status: report.status,
        endMs: Date.parse(endIso),
        signalMs,
        reportMs: report.at,
        reportedEndMs: pandaDatetimeMs(report.endTime),
        squeueStartMs: before[before.length - 1]?.startMs,
      });
    });

    const total = samples.map((s) => s.reportMs - s.endMs);
    const cadence = samples.map((s) => s.signalMs - s.endMs);
    const processing = samples.map((s) => s.reportMs - s.signalMs);
    const reportedEndLag = samples
      .filter((s) => s.reportedEndMs !== undefined)
      .map((s) => (s.reportedEndMs as number) - s.endMs);
    const cycleToSignal = samples
      .filter((s) => s.squeueStartMs !== undefined)
      .map((s) => s.signalMs - (s.squeueStartMs as number));
    const byStatus: Record<string, number> = {};
    for (const s of samples) byStatus[s.status] = (byStatus[s.status] ?? 0) + 1;
    const cycles = new Set(samples.map((s) => s.squeueStartMs)).size;
    const processingP95 = percentile(processing, 0.95);
    const label = `N=${samples.length}, monitor every ${MONITOR_SECONDS} s`;
    const note =
      `${samples.length}/${workerIDs.length} workers measured (final statuses ${JSON.stringify(byStatus)}), ` +
      `their ends seen by ${cycles} monitor cycles; pull mode (NoJob), so the final report is the worker's ` +
      `update_workers entry; load average at start ${loadAtStart.toFixed(1)}, at end ${loadavg()[0].toFixed(1)}` +
      (missing.length > 0 ? `; NO final report from: ${missing.join(', ')}` : '') +
      (problems.length > 0 ? `; not measured: ${problems.join('; ')}` : '') +
      '\n' +
      `  job end (Slurm EndTime, 1 s resolution: reads 0–1 s high) → simulator record: ${fmt(total)}\n` +
      `  job end → final statusChanged signal (monitor cadence, ${MONITOR_SECONDS} s jittered ×0.8–1.2): ${fmt(cadence)}\n` +
      `  final statusChanged signal → simulator record (processing): ${fmt(processing)}\n` +
      `  monitor cycle's squeue start → signal (squeue, jobcomp read, DB write, signal): ${fmt(cycleToSignal)}\n` +
      `  endTime given to PanDA − Slurm EndTime (the lifecycle stamps the time it applied the final status, ` +
      `as Harvester's set_status does, not the batch job's own end): ${fmt(reportedEndLag)}\n` +
      `  The total is bounded by the monitor interval plus the processing part: with Harvester's default ` +
      `monitor interval of ${HARVESTER_DEFAULT_MONITOR_SECONDS} s it would be up to ~${(HARVESTER_DEFAULT_MONITOR_SECONDS * 1.2).toFixed(0)} s ` +
      `(the queue workflow jitters the interval ×0.8–1.2) plus the processing p95 measured here.\n` +
      `  ${cpuNote}`;
    return [
      {
        name: `final report: Slurm job end → simulator record, p50 (${label})`,
        value: percentile(total, 0.5),
        unit: 'ms',
      },
      {
        name: 'final report: Slurm job end → simulator record, p95',
        value: percentile(total, 0.95),
        unit: 'ms',
      },
      {
        name: 'final report: Slurm job end → simulator record, max',
        value: total.length ? Math.max(...total) : Number.NaN,
        unit: 'ms',
      },
      {
        name: 'final report: monitor cadence part (job end → statusChanged signal), p95',
        value: percentile(cadence, 0.95),
        unit: 'ms',
      },
      {
        name: 'final report: processing part (statusChanged signal → simulator record), p50',
        value: percentile(processing, 0.5),
        unit: 'ms',
      },
      {
        name: 'final report: processing part (statusChanged signal → simulator record), p95',
        value: processingP95,
        unit: 'ms',
        target: `< ${TARGET_PROCESSING_P95_MS} ms`,
        pass: processingP95 < TARGET_PROCESSING_P95_MS && missing.length === 0 && problems.length === 0,
        note,
      },
      {
        name: 'final report: processing part, max',
        value: processing.length ? Math.max(...processing) : Number.NaN,
        unit: 'ms',
      },
    ];
  } finally {
    await stack.client.workflow
      .getHandle(queueId)
      .signal(stopQueueSignal, { reason: 'bench over' })
      .catch(() => {});
    await cancelJobsTagged(tag).catch(() => 0);
    // Lifecycles still open (a bench that failed midway) are terminated: the next bench starts idle.
    const ids = await workerIdsOf().catch(() => [] as number[]);
    await forEachLimited(ids, 20, async (id) => {
      await stack.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, queueName, id))
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
  }
}

if (require.main === module) runSlurmBenchAlone(runFinalReportLatencyBench);
