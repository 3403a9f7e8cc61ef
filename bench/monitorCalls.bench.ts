/**
 * Batch status calls per monitor cycle, and the time one monitor cycle takes, for N = 10, 100 and
 * 1,000 live workers of one queue (issue 6: one bulk status query per queue and cycle, or one per
 * page of MONITOR_PAGE_SIZE workers in a larger queue).
 *
 * Set-up per N, on the bench dev server with the real queue workflow and the real central
 * activities: N worker rows are inserted directly in the DB and recorded as `submitted` with a batch
 * id (insertPendingWorkers + recordSubmission); no lifecycle workflows are started, as the monitor
 * cycle only reads the DB and the batch system. The dummy monitor finds no status file for any of
 * them and reports `submitted`, i.e. no change, so nothing is signalled. The queue workflow is
 * started as the instance workflow starts it (monitorIntervalSeconds 1, submitterIntervalSeconds
 * 3600, maxWorkers N so the adjuster submits nothing) and left to run CYCLES monitor cycles, then
 * stopped with its stop signal.
 *
 * Counted:
 *   - invocations of the monitor plugin's checkWorkers, by wrapping PluginRegistry.create for kind
 *     `monitor` (the bench stack builds its own registry, so the wrap sits on the prototype, for this
 *     bench's run only); a retried activity would show here as a second call;
 *   - the queue workflow's own totals (statusCalls, monitorCycles) from its final state.
 * Timed, from the queue workflow's history (server event times): one cycle = monitorQueue
 * scheduled → recordMonitorCycle completed (two activities and the workflow tasks between them);
 * the monitorQueue activity alone (it pages the DB, queries, diffs and signals) and the plugin call
 * itself (in-process, from the wrap) are given in the note. History bytes per cycle: bench/scale.
 *
 * The adjuster's cycle at 1,000 workers is measured by bench/adjuster.bench.ts.
 *
 * Standalone: node --import tsx bench/monitorCalls.bench.ts
 * Sizes: HARVESTER_BENCH_MONITOR_SIZES=10,100,1000 (default)
 */
import { performance } from 'node:perf_hooks';
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { recordSubmission } from '../src/db/workers';
import { PluginRegistry } from '../src/plugins/registry';
import type { Monitor, PluginContext, PluginKind, PluginKinds, PluginParams } from '../src/plugins/types';
import {
  MONITOR_PAGE_SIZE,
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  queueWorkflowId,
  stopQueueSignal,
} from '../src/workflows/queueMessages';
import { connectBenchDevServer, type DevServerLink, forEachLimited, sleep } from './support/devServer';
import { type BenchResult, benchEnvironment, runAlone } from './support/env';
import { timelineOf } from './support/slurmBench';
import { dummyQueueConfig, startBenchStack } from './support/stack';

const SIZES = (process.env.HARVESTER_BENCH_MONITOR_SIZES || '10,100,1000')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isInteger(n) && n > 0);
/** Monitor cycles per size. */
const CYCLES = 5;
const MONITOR_INTERVAL_SECONDS = 1;
/** Real-time bound on the cycles of one size; what ran by then is reported. */
const SIZE_LIMIT_MS = 120_000;

interface MonitorCall {
  queueName: string;
  workers: number;
  ms: number;
}

/**
 * Counts checkWorkers calls of every monitor plugin built while installed. The bench stack makes
 * its own registry, so the wrap is on PluginRegistry.prototype.create; restore() puts it back.
 */
function countMonitorCalls(): { calls: MonitorCall[]; restore(): void } {
  const proto = PluginRegistry.prototype;
  const original = proto.create;
  const calls: MonitorCall[] = [];
  function create<K extends PluginKind>(
    this: PluginRegistry,
    kind: K,
    params: PluginParams,
    ctx: PluginContext,
  ): PluginKinds[K] {
    const plugin = original.call(this, kind, params, ctx) as PluginKinds[K];
    if (kind !== 'monitor') return plugin;
    const monitor = plugin as PluginKinds['monitor'];
    const counted: Monitor = {
      async checkWorkers(workers) {
        const call: MonitorCall = { queueName: ctx.queueName, workers: workers.length, ms: Number.NaN };
        calls.push(call);
        const t0 = performance.now();
        try {
          return await monitor.checkWorkers(workers);
        } finally {
          call.ms = performance.now() - t0;
        }
      },
    };
    return counted as PluginKinds[K];
  }
  proto.create = create;
  return {
    calls,
    restore() {
      proto.create = original;
    },
  };
}

/**
 * The queue workflow's history: at N = 1,000 each cycle carries the worker list twice (list result,
 * checkWorkers input) and one history page outgrows gRPC's default 4 MiB receive limit, so this
 * reads it over a connection of its own with a larger one.
 */
async function fetchLargeHistory(workflowId: string, runId: string) {
  const env = benchEnvironment();
  const connection = await Connection.connect({
    address: env.temporalAddress,
    channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 },
  });
  try {
    const client = new Client({ connection, namespace: env.namespace });
    return await client.workflow.getHandle(workflowId, runId).fetchHistory();
  } finally {
    await connection.close();
  }
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (ms: number) => (Number.isFinite(ms) ? ms.toFixed(ms >= 100 ? 0 : 1) : 'n/a');

async function measureSize(link: DevServerLink, n: number, calls: MonitorCall[]): Promise<BenchResult[]> {
  const queueName = `BENCH_MONITOR_${n}`;
  const stack = await startBenchStack({
    ...link,
    queueName,
    queueConfig: (scratch) =>
      dummyQueueConfig(queueName, scratch, {
        maxWorkers: n,
        temporal: { monitorIntervalSeconds: MONITOR_INTERVAL_SECONDS, submitterIntervalSeconds: 3600 },
      }),
  });
  let handle: WorkflowHandleWithFirstExecutionRunId | undefined;
  try {
    // N live workers in the DB: pending rows, then submitted with a batch id, as the submitter would leave them.
    const policy = await stack.policy();
    const workers = await stack.newPendingWorkers(n, policy);
    const submitTime = new Date().toISOString();
    await forEachLimited(workers, 10, async (w) => {
      const r = await recordSubmission(stack.db, w.workerID, {
        status: 'submitted',
        batchID: `bench-${w.workerID}`,
        submitTime,
      });
      if (!r.changed) throw new Error(`worker ${w.workerID} was not recorded as submitted`);
    });

    const input: QueueWorkflowInput = {
      harvesterID: stack.harvesterID,
      queueName,
      // On the bench stack's one worker (bench/support/stack.ts).
      controlTaskQueue: stack.taskQueue,
      settings: {
        submitterIntervalSeconds: 3600,
        monitorIntervalSeconds: MONITOR_INTERVAL_SECONDS,
        maxConsecutiveMonitorFailures: 3,
        autoResumeAfterMonitorRecovery: true,
      },
    };
    const callsBefore = calls.length;
    handle = await link.client.workflow.start('queueWorkflow', {
      taskQueue: stack.taskQueue,
      workflowId: queueWorkflowId(stack.harvesterID, queueName),
      args: [input],
    });
    // monitorCycles counts cycles begun: CYCLES + 1 begun means CYCLES finished.
    const deadline = Date.now() + SIZE_LIMIT_MS;
    for (;;) {
      const s = await handle.query(queueStateQuery);
      if (s.totals.monitorCycles > CYCLES || Date.now() > deadline) break;
      await sleep(200);
    }
    // The stop signal is read between cycles: the one under way finishes, so every cycle counted is whole.
    await handle.signal(stopQueueSignal, { reason: 'bench over' });
    const final = (await handle.result()) as QueueWorkflowState;
    const ours = calls.slice(callsBefore).filter((c) => c.queueName === queueName);
    const history = await fetchLargeHistory(handle.workflowId, handle.firstExecutionRunId);

    // One cycle: from its monitorQueue being scheduled to its recordMonitorCycle completing. The
    // status query runs inside monitorQueue now, timed by the plugin wrap alone.
    const spans = timelineOf(history.events ?? []).activities;
    const cycleMs: number[] = [];
    const checkActivityMs: number[] = [];
    let cycleStart: number | undefined;
    for (const a of spans) {
      if (a.name === 'monitorQueue') cycleStart = a.scheduledMs;
      if (a.name === 'monitorQueue' && a.completedMs !== undefined)
        checkActivityMs.push(a.completedMs - a.scheduledMs);
      if (a.name === 'recordMonitorCycle' && cycleStart !== undefined && a.completedMs !== undefined) {
        cycleMs.push(a.completedMs - cycleStart);
        cycleStart = undefined;
      }
    }

    // At large N the history outgrows the server's continue-as-new suggestion within a few cycles;
    // the totals carry over (final state), the timings are the first run's cycles.
    const latestRunId = (await link.client.workflow.getHandle(handle.workflowId).describe()).runId;
    const continuedAsNew = latestRunId !== handle.firstExecutionRunId;
    let firstRunHistoryBytes = 0;
    for (const e of history.events ?? []) {
      const size = e.workflowTaskStartedEventAttributes?.historySizeBytes;
      if (size != null) firstRunHistoryBytes = Number(size);
    }

    const cycles = final.totals.monitorCycles;
    // One status call per page of MONITOR_PAGE_SIZE workers (the bound of one command line).
    const pages = Math.ceil(n / MONITOR_PAGE_SIZE);
    const perCycle = cycles > 0 ? ours.length / cycles : Number.NaN;
    const workersPerCall = [...new Set(ours.map((c) => c.workers))].join('/');
    const note =
      `${cycles} monitor cycles over ${n} submitted workers: checkWorkers invoked ${ours.length} times ` +
      `(${workersPerCall || '-'} workers per call); queue totals statusCalls ${final.totals.statusCalls}, ` +
      `monitorCycles ${cycles}, signalsSent ${final.totals.signalsSent}, workersStarted ${final.totals.workersStarted}` +
      (final.lastMonitorError ? `; last monitor error: ${final.lastMonitorError}` : '');
    const timingNote =
      `${cycleMs.length} cycles timed from the queue history (monitorQueue scheduled → recordMonitorCycle completed): ` +
      `median ${fmt(median(cycleMs))} ms, min ${fmt(Math.min(...cycleMs))}, max ${fmt(Math.max(...cycleMs))}; ` +
      `monitorQueue activity median ${fmt(median(checkActivityMs))} ms, ` +
      `plugin call itself median ${fmt(median(ours.map((c) => c.ms)))} ms; ` +
      `first run's history ${(firstRunHistoryBytes / 2 ** 20).toFixed(2)} MiB, ` +
      (continuedAsNew ? 'continued as new during the run (later cycles not timed)' : 'no continue-as-new');
    return [
      {
        name: `monitor: batch status calls per cycle (N=${n} live workers, one queue, dummy monitor)`,
        value: perCycle,
        unit: 'calls/cycle',
        target: `= ${pages} (one per page of ${MONITOR_PAGE_SIZE})`,
        pass:
          cycles >= CYCLES &&
          ours.length === cycles * pages &&
          final.totals.statusCalls === cycles * pages &&
          final.countsKnown,
        note,
      },
      {
        name: `monitor: one cycle's duration (N=${n} live workers, median)`,
        value: median(cycleMs),
        unit: 'ms/cycle',
        note: timingNote,
      },
    ];
  } finally {
    if (handle) await handle.terminate('bench over').catch(() => {});
    await stack.close();
  }
}

export async function runMonitorCallsBench(): Promise<BenchResult[]> {
  const link = await connectBenchDevServer();
  const counter = countMonitorCalls();
  const results: BenchResult[] = [];
  try {
    for (const n of SIZES) results.push(...(await measureSize(link, n, counter.calls)));
  } finally {
    counter.restore();
    await link.close();
  }
  return results;
}

if (require.main === module) runAlone(runMonitorCallsBench);
