/**
 * Sustained worker lifecycles per second on the dev server.
 *
 * N lifecycles (dummy plugin, keep hours 0 so each is swept and completes right after its final
 * report) are started directly, as the queue's startWorkers activity does, and driven
 * submitted → running → finished by statusChanged signals the way the queue monitor sends them: a
 * driver loop reads the DB every 250 ms (one bulk query, like one `squeue`) and signals the workers
 * whose state should move on. All real activities: PostgreSQL, dummy plugin, PanDA simulator over
 * HTTP, the report batcher with its production window (1.5 s).
 *
 * The rate is taken over the steady part: from the 10th to the 90th percentile of completion
 * times (swept_at, set by the last activity of each lifecycle), so start-up and the tail are out.
 *
 * Standalone: node --import tsx bench/lifecycleThroughput.bench.ts
 */
import { performance } from 'node:perf_hooks';
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import { statusChangedSignal, workerWorkflowId } from '../src/workflows/workerMessages';
import { connectBenchDevServer, forEachLimited, sleep } from './support/devServer';
import { type BenchResult, runAlone } from './support/env';
import { dummyQueueConfig, startBenchStack } from './support/stack';

const LIFECYCLES = Number(process.env.HARVESTER_BENCH_LIFECYCLES || 600);
const TARGET_PER_SECOND = 12;
/** Real-time bound on the whole run; what completed by then is reported. */
const RUN_LIMIT_MS = 240_000;
const DRIVER_PERIOD_MS = 250;

export async function runLifecycleThroughputBench(): Promise<BenchResult[]> {
  const link = await connectBenchDevServer();
  const queueName = 'BENCH_THROUGHPUT';
  const stack = await startBenchStack({
    databaseUrl: link.databaseUrl,
    client: link.client,
    connection: link.connection,
    namespace: link.namespace,
    queueName,
    queueConfig: (scratch) => dummyQueueConfig(queueName, scratch, { maxWorkers: LIFECYCLES }),
  });
  const started: number[] = [];
  const signalledRunning = new Set<number>();
  const signalledFinished = new Set<number>();
  let startErrors = 0;
  try {
    const policy = await stack.policy();
    const workers = await stack.newPendingWorkers(LIFECYCLES, policy);
    const deadline = Date.now() + RUN_LIMIT_MS;
    const t0 = performance.now();
    const t0Wall = Date.now();
    let startSeconds = 0;
    const starting = forEachLimited(workers, 20, async (w) => {
      if (Date.now() > deadline) return;
      try {
        await link.client.workflow.start(workerLifecycleWorkflow, {
          taskQueue: stack.taskQueue,
          workflowId: workerWorkflowId(stack.harvesterID, queueName, w.workerID),
          args: [{ worker: w, policy }],
        });
        started.push(w.workerID);
      } catch {
        startErrors++;
      }
    }).then(() => {
      startSeconds = (performance.now() - t0) / 1000;
    });

    const signal = (ids: number[], status: 'running' | 'finished', done: Set<number>) => {
      const observedAt = new Date().toISOString();
      return forEachLimited(ids, 20, async (id) => {
        await link.client.workflow
          .getHandle(workerWorkflowId(stack.harvesterID, queueName, id))
          .signal(
            statusChangedSignal,
            status === 'finished' ? { status, observedAt, nativeExitCode: 0 } : { status, observedAt },
          );
        done.add(id);
      });
    };

    let swept = 0;
    while (Date.now() < deadline) {
      // One bulk look at "the batch system" per cycle, as the queue monitor does.
      const res = await stack.db.query<{ worker_id: string; status: string; swept: boolean }>(
        `SELECT worker_id, status, swept_at IS NOT NULL AS swept FROM workers WHERE harvester_id = $1`,
        [stack.harvesterID],
      );
      const toRun: number[] = [];
      const toFinish: number[] = [];
      swept = 0;
      for (const r of res.rows) {
        const id = Number(r.worker_id);
        if (r.swept) swept++;
        if (r.status === 'submitted' && !signalledRunning.has(id)) toRun.push(id);
        if (r.status === 'running' && !signalledFinished.has(id)) toFinish.push(id);
      }
      if (swept >= LIFECYCLES) break;
      await Promise.all([
        signal(toRun, 'running', signalledRunning),
        signal(toFinish, 'finished', signalledFinished),
      ]);
      if (toRun.length + toFinish.length === 0) await sleep(DRIVER_PERIOD_MS);
    }
    await starting;
    const totalSeconds = (performance.now() - t0) / 1000;

    const done = await stack.db.query<{ t: Date }>(
      `SELECT swept_at AS t FROM workers WHERE harvester_id = $1 AND swept_at IS NOT NULL ORDER BY swept_at`,
      [stack.harvesterID],
    );
    const times = done.rows.map((r) => r.t.getTime());
    const completed = times.length;
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * (times.length - 1)))];
    const steadySpan = completed > 10 ? (at(0.9) - at(0.1)) / 1000 : Number.NaN;
    const steadyCount =
      completed > 10 ? Math.floor(0.9 * (completed - 1)) - Math.floor(0.1 * (completed - 1)) : 0;
    const steadyRate = steadySpan > 0 ? steadyCount / steadySpan : 0;
    const overallRate = completed > 0 ? completed / ((times[times.length - 1] - t0Wall) / 1000) : 0;
    const note =
      `${started.length}/${LIFECYCLES} started in ${startSeconds.toFixed(1)} s (${startErrors} start errors), ` +
      `${completed} completed (submitted → running → finished → swept) in ${totalSeconds.toFixed(1)} s; ` +
      `steady window p10→p90 = ${steadySpan.toFixed(1)} s for ${steadyCount} lifecycles; ` +
      `overall first start → last completion ${overallRate.toFixed(2)}/s; ` +
      `${stack.sim.control.callsTo('harvester/update_workers').length} update_workers calls`;
    return [
      {
        name: `sustained worker lifecycles per second (N=${LIFECYCLES}, dummy plugin, dev server)`,
        value: steadyRate,
        unit: 'lifecycles/s',
        target: `≥ ${TARGET_PER_SECOND}`,
        pass: steadyRate >= TARGET_PER_SECOND && completed === LIFECYCLES,
        note,
      },
      {
        name: 'worker lifecycles per second, overall (first start to last completion)',
        value: overallRate,
        unit: 'lifecycles/s',
      },
    ];
  } finally {
    // Anything still open after the time limit is terminated so the next bench starts on an idle server.
    const unfinished = started.filter((id) => !signalledFinished.has(id));
    await forEachLimited(unfinished, 20, async (id) => {
      await link.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, queueName, id))
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
    await link.close();
  }
}

if (require.main === module) runAlone(runLifecycleThroughputBench);
