/**
 * Memory of the central worker with many live workers: N lifecycles (default 20,000) that are
 * submitted and waiting for their next event, as a busy site's queued pilots are.
 *
 * Each lifecycle is started as the queue's submitQueueWorkers activity starts it after a bulk submission
 * (with its submission outcome, so no batch system is involved), records and reports `submitted`
 * (a local activity, batched to the PanDA simulator over HTTP) and then sleeps on its timers. The
 * worker keeps at most maxCachedWorkflows (2,000) of them in memory; the rest are evicted and cost
 * nothing until they wake, which is what makes the number of live workers independent of memory.
 *
 * Measured: the resident set (RSS) and V8 heap of this process, which holds the Temporal worker
 * (Rust core + the workflow isolates) AND the PanDA simulator, the client and the DB pool, so the
 * number is an upper bound for the worker alone. Taken after a forced GC where available
 * (node --expose-gc), before the first start and after the last lifecycle has reported.
 *
 * The lifecycles are left sleeping: the bench's dev server is discarded afterwards, and no worker
 * polls their task queue any more.
 *
 * Standalone: node --expose-gc --import tsx bench/liveWorkerMemory.bench.ts
 *   HARVESTER_BENCH_LIVE_WORKERS sets N.
 */
import { performance } from 'node:perf_hooks';
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import { workerWorkflowId } from '../src/workflows/workerMessages';
import { connectBenchDevServer, forEachLimited, sleep } from './support/devServer';
import { type BenchResult, runAlone } from './support/env';
import { dummyQueueConfig, startBenchStack } from './support/stack';

const N = Number(process.env.HARVESTER_BENCH_LIVE_WORKERS || 20_000);
const TARGET_MIB = 2048;
/** Real-time bound on starting and reporting; what got there is reported. */
const RUN_LIMIT_MS = 20 * 60_000;

const MiB = 1024 * 1024;

function memory(): { rss: number; heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / MiB, heap: m.heapUsed / MiB };
}

export async function runLiveWorkerMemoryBench(): Promise<BenchResult[]> {
  const link = await connectBenchDevServer();
  const queueName = 'BENCH_MEMORY';
  const stack = await startBenchStack({
    ...link,
    queueName,
    queueConfig: (scratch) => dummyQueueConfig(queueName, scratch, { maxWorkers: N }),
  });
  const deadline = Date.now() + RUN_LIMIT_MS;
  try {
    const policy = await stack.policy();
    const before = memory();
    const workers = await stack.newPendingWorkers(N, policy);
    const t0 = performance.now();
    let started = 0;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss / MiB);
    }, 1000);
    const progress = setInterval(() => {
      process.stderr.write(
        `  memory: ${started}/${N} lifecycles started, rss ${memory().rss.toFixed(0)} MiB\n`,
      );
    }, 30_000);
    try {
      await forEachLimited(workers, 50, async (w) => {
        if (Date.now() > deadline) return;
        await link.client.workflow.start(workerLifecycleWorkflow, {
          taskQueue: stack.taskQueue,
          workflowId: workerWorkflowId(stack.harvesterID, queueName, w.workerID),
          args: [
            {
              worker: w,
              policy,
              submission: {
                workerID: w.workerID,
                outcome: 'success',
                diag: '',
                batchID: `bench-${w.workerID}`,
                submittedAt: new Date().toISOString(),
              },
            },
          ],
        });
        started++;
      });
      // Every lifecycle has recorded its submission once the DB shows it; then they sleep.
      const submitted = async () =>
        Number(
          (
            await stack.db.query<{ n: string }>(
              `SELECT count(*) AS n FROM workers WHERE harvester_id = $1 AND status = 'submitted' AND reported_at IS NOT NULL`,
              [stack.harvesterID],
            )
          ).rows[0].n,
        );
      let reported = await submitted();
      while (reported < started && Date.now() < deadline) {
        await sleep(2000);
        reported = await submitted();
      }
      await sleep(5000); // the last batches settle
    } finally {
      clearInterval(sampler);
      clearInterval(progress);
    }
    const seconds = (performance.now() - t0) / 1000;
    const after = memory();
    const live = Number(
      (
        await stack.db.query<{ n: string }>(
          `SELECT count(*) AS n FROM workers WHERE harvester_id = $1 AND status = 'submitted'`,
          [stack.harvesterID],
        )
      ).rows[0].n,
    );
    const gcNote = (globalThis as { gc?: () => void }).gc
      ? 'after a forced GC'
      : 'no forced GC (run with --expose-gc)';
    return [
      {
        name: `central worker process memory with ${live} live workers (RSS, upper bound: includes the PanDA simulator and client)`,
        value: after.rss,
        unit: 'MiB',
        target: `< ${TARGET_MIB} MiB for 20,000`,
        pass: live >= 20_000 && after.rss < TARGET_MIB,
        note:
          `${started}/${N} started and ${live} submitted and reported in ${seconds.toFixed(0)} s ` +
          `(${(started / seconds).toFixed(1)} starts/s); RSS ${before.rss.toFixed(0)} MiB before, ` +
          `${after.rss.toFixed(0)} MiB after (${gcNote}), peak ${peakRss.toFixed(0)} MiB; ` +
          `V8 heap ${before.heap.toFixed(0)} → ${after.heap.toFixed(0)} MiB; workflow cache capped at 2,000`,
      },
      { name: 'peak RSS while the lifecycles started', value: peakRss, unit: 'MiB' },
    ];
  } finally {
    await stack.close();
    await link.close();
  }
}

if (require.main === module) runAlone(runLiveWorkerMemoryBench);
