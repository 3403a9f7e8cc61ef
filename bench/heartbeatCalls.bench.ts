/**
 * PanDA bulk calls per heartbeat period for 1,000 running workers.
 *
 * Harvester's propagator sends running workers' heartbeats in bulks of ≤ 100 per update_workers
 * call, so 1,000 workers cost about 10 calls per 30-minute period. Here each worker is its own
 * lifecycle workflow with its own heartbeat timer; the timers are aligned to a per-queue tick
 * (src/core/heartbeatSchedule.ts) and the central worker's report batcher (src/util/keyedBatcher.ts)
 * turns the reports that arrive together into one call. We count what the PanDA simulator receives.
 *
 * Set-up: the bench dev server, 1,000 lifecycles started directly (pending rows + workflow start, as
 * the queue's submitQueueWorkers activity does) on the dummy plugin, each signalled `running` the way the
 * queue monitor does; the heartbeat period is scaled down from 1800 s to 20 s (the tick, a tenth of
 * the period, scales with it) so several periods fit in a bounded run. The report batcher keeps its
 * production window (1.5 s) and the worker its production activity concurrency (SDK default 100).
 *
 * Standalone: node --import tsx bench/heartbeatCalls.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import { statusChangedSignal, workerWorkflowId } from '../src/workflows/workerMessages';
import { connectBenchDevServer, forEachLimited, sleep } from './support/devServer';
import type { BenchResult } from './support/env';
import { runAlone } from './support/env';
import { dummyQueueConfig, startBenchStack } from './support/stack';

const WORKERS = Number(process.env.HARVESTER_BENCH_HEARTBEAT_WORKERS || 1000);
const HEARTBEAT_SECONDS = 20;
const MEASURED_PERIODS = 3;
const TARGET_CALLS_PER_PERIOD = 10;
/** Real-time bound on getting all workers submitted and running before the measurement. */
const RAMP_LIMIT_MS = 150_000;
const UPDATE_WORKERS = 'harvester/update_workers';

export async function runHeartbeatCallsBench(): Promise<BenchResult[]> {
  const link = await connectBenchDevServer();
  const queueName = 'BENCH_HEARTBEAT';
  const stack = await startBenchStack({
    ...link,
    queueName,
    queueConfig: (scratch) =>
      dummyQueueConfig(queueName, scratch, {
        maxWorkers: WORKERS,
        temporal: { heartbeatIntervalSeconds: HEARTBEAT_SECONDS },
      }),
  });
  const started: number[] = [];
  const notes: string[] = [];
  try {
    const policy = await stack.policy();
    const workers = await stack.newPendingWorkers(WORKERS, policy);
    const t0 = performance.now();
    const rampDeadline = Date.now() + RAMP_LIMIT_MS;
    await forEachLimited(workers, 20, async (w) => {
      if (Date.now() > rampDeadline) return;
      await link.client.workflow.start(workerLifecycleWorkflow, {
        taskQueue: stack.taskQueue,
        workflowId: workerWorkflowId(stack.harvesterID, queueName, w.workerID),
        args: [{ worker: w, policy }],
      });
      started.push(w.workerID);
    });
    const startSeconds = (performance.now() - t0) / 1000;
    // What the queue monitor would send once the batch system shows the job running. Sent right
    // after the start: the lifecycle keeps it in its inbox until its submission is done, which
    // spares the bench a polling loop competing with the lifecycles for the 2 cores.
    const signalled = new Set<number>();
    const observedAt = new Date().toISOString();
    await forEachLimited(started, 20, async (id) => {
      if (Date.now() > rampDeadline) return;
      await link.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, queueName, id))
        .signal(statusChangedSignal, {
          status: 'running',
          observedAt,
        });
      signalled.add(id);
    });
    const signalSeconds = (performance.now() - t0) / 1000;
    // Wait until every running worker's change report went out, so the window holds heartbeats only.
    let running = 0;
    while (Date.now() < rampDeadline) {
      const res = await stack.db.query<{ n: string }>(
        `SELECT count(*) AS n FROM workers WHERE harvester_id = $1 AND status = 'running'`,
        [stack.harvesterID],
      );
      running = Number(res.rows[0].n);
      if (running >= signalled.size) break;
      if (process.env.HARVESTER_BENCH_DEBUG)
        console.log(`  ${running} running after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      await sleep(500);
    }
    const rampSeconds = (performance.now() - t0) / 1000;
    notes.push(
      `${started.length}/${WORKERS} lifecycles started in ${startSeconds.toFixed(0)} s, ${signalled.size} signalled running by ${signalSeconds.toFixed(0)} s, ${running} running in the DB after ${rampSeconds.toFixed(0)} s`,
    );
    // One period to settle (the last change reports, the first heartbeats after the ramp), then measure.
    await sleep(HEARTBEAT_SECONDS * 1000);
    const windowStart = Date.now();
    const callsBefore = stack.sim.control.callsTo(UPDATE_WORKERS).length;
    await sleep(MEASURED_PERIODS * HEARTBEAT_SECONDS * 1000);
    const calls = stack.sim.control.callsTo(UPDATE_WORKERS).slice(callsBefore);
    const windowSeconds = (Date.now() - windowStart) / 1000;
    const periods = windowSeconds / HEARTBEAT_SECONDS;
    const sizes = calls.map((c) => (Array.isArray(c.args.workers) ? c.args.workers.length : 0));
    const reports = sizes.reduce((a, b) => a + b, 0);
    const failed = calls.filter((c) => c.success === false || c.httpStatus !== 200).length;
    const callsPerPeriod = calls.length / periods;
    const reportsPerPeriod = reports / periods;
    const meanBatch = calls.length ? reports / calls.length : 0;
    const full = sizes.filter((n) => n >= 100).length;
    notes.push(
      `window ${windowSeconds.toFixed(0)} s = ${periods.toFixed(2)} periods of ${HEARTBEAT_SECONDS} s (1800 s scaled down); ` +
        `${calls.length} update_workers calls (${failed} failed), ${reports} worker reports, ${full} calls full (100); ` +
        `batch sizes ${sizes.length ? `min ${Math.min(...sizes)} / max ${Math.max(...sizes)}` : '-'}`,
    );
    const note = notes.join('; ');
    return [
      {
        name: `PanDA update_workers calls per heartbeat period, ${running} running workers`,
        value: callsPerPeriod,
        unit: 'calls/period',
        target: `≤ ${TARGET_CALLS_PER_PERIOD}`,
        pass: callsPerPeriod <= TARGET_CALLS_PER_PERIOD && running >= WORKERS,
        note,
      },
      {
        name: 'PanDA update_workers mean batch size (heartbeats)',
        value: meanBatch,
        unit: 'workers/call',
        note: 'production batch limit is 100 workers per call',
      },
      {
        name: 'heartbeat reports delivered per period',
        value: reportsPerPeriod,
        unit: 'reports/period',
        target: `≈ ${running} (every running worker once per period; jitter lengthens the mean period ~5 %)`,
        pass: reportsPerPeriod >= running * 0.85,
        note: 'fewer than the running workers means the server or worker fell behind the heartbeat cadence',
      },
    ];
  } finally {
    // Terminate what we started so the dev server is idle for the next bench.
    await forEachLimited(started, 20, async (id) => {
      await link.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, queueName, id))
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
    await link.close();
  }
}

if (require.main === module) runAlone(runHeartbeatCallsBench);
