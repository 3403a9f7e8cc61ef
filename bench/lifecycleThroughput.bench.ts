/**
 * Sustained worker lifecycles per second, through the product's own path on the dev server.
 *
 * One real queue workflow on the dummy plugins does everything the way production does: its
 * submitter cycle (adjuster → worker rows → ONE bulk submit_workers call → lifecycles started past
 * their submit step), its monitor cycle (ONE checkWorkers call for all live workers → signals to the
 * changed ones), and each worker's lifecycle (report of every change to the PanDA simulator over
 * HTTP, final report, sweep, complete; keep hours 0). The dummy jobs start running 1 s after
 * submission and finish 3 s after it, so a lifecycle is submit → running → finished → swept.
 * The queue's limits are far above what the machine can do (so they never bind): the rate is set
 * by how fast the whole system moves workers through.
 *
 * Measured: lifecycles completed (swept_at set by each lifecycle's last activity) per second in a
 * fixed window after a warm-up, and the number of live workers at the end (bounded = sustained).
 *
 * Standalone: node --import tsx bench/lifecycleThroughput.bench.ts
 *   HARVESTER_BENCH_THROUGHPUT_SECONDS (default 90) sets the measured window.
 */
import { queueWorkflow } from '../src/workflows/queue';
import { queueStateQuery, queueWorkflowId, stopQueueSignal } from '../src/workflows/queueMessages';
import { workerWorkflowId } from '../src/workflows/workerMessages';
import { connectBenchDevServer, forEachLimited, sleep } from './support/devServer';
import { type BenchResult, runAlone } from './support/env';
import { dummyQueueConfig, startBenchStack } from './support/stack';

const TARGET_PER_SECOND = 12;
const WARM_UP_SECONDS = 30;
const WINDOW_SECONDS = Number(process.env.HARVESTER_BENCH_THROUGHPUT_SECONDS || 90);
const CYCLE_SECONDS = 2;

export async function runLifecycleThroughputBench(): Promise<BenchResult[]> {
  const link = await connectBenchDevServer();
  const queueName = 'BENCH_THROUGHPUT';
  const stack = await startBenchStack({
    ...link,
    queueName,
    queueConfig: (scratch) => {
      const config = dummyQueueConfig(queueName, scratch, {
        maxWorkers: 2000,
        submitter: { runAfterSeconds: 1, finishAfterSeconds: 3 },
        temporal: {
          submitterIntervalSeconds: CYCLE_SECONDS,
          monitorIntervalSeconds: CYCLE_SECONDS,
          sweeperIntervalSeconds: CYCLE_SECONDS,
        },
      });
      // Queued workers are capped far above what 2 s of the target rate needs (24).
      Object.assign(config[queueName] as Record<string, unknown>, {
        nQueueLimitWorker: 200,
        maxNewWorkersPerCycle: 200,
      });
      return config;
    },
  });
  // A pull queue asks for no more pilots than PanDA has activated jobs.
  stack.sim.control.addJobs(100_000, { computingSite: queueName });
  const queueId = queueWorkflowId(stack.harvesterID, queueName);
  const countSwept = async () =>
    Number(
      (
        await stack.db.query<{ n: string }>(
          'SELECT count(*) AS n FROM workers WHERE harvester_id = $1 AND swept_at IS NOT NULL',
          [stack.harvesterID],
        )
      ).rows[0].n,
    );
  try {
    const handle = await link.client.workflow.start(queueWorkflow, {
      taskQueue: stack.taskQueue,
      workflowId: queueId,
      args: [
        {
          harvesterID: stack.harvesterID,
          queueName,
          // On the bench stack's one worker (bench/support/stack.ts).
          controlTaskQueue: stack.taskQueue,
          settings: {
            submitterIntervalSeconds: CYCLE_SECONDS,
            monitorIntervalSeconds: CYCLE_SECONDS,
            maxConsecutiveMonitorFailures: 1000,
            autoResumeAfterMonitorRecovery: true,
          },
        },
      ],
    });
    process.stderr.write(`  throughput: warm-up ${WARM_UP_SECONDS} s, then a ${WINDOW_SECONDS} s window\n`);
    await sleep(WARM_UP_SECONDS * 1000);
    const t0 = Date.now();
    const swept0 = await countSwept();
    const state0 = await handle.query(queueStateQuery);
    const samples: number[] = [];
    while (Date.now() - t0 < WINDOW_SECONDS * 1000) {
      await sleep(10_000);
      const swept = await countSwept();
      samples.push(swept);
      process.stderr.write(
        `  throughput: ${((Date.now() - t0) / 1000).toFixed(0)} s, ${swept - swept0} lifecycles completed in the window\n`,
      );
    }
    const seconds = (Date.now() - t0) / 1000;
    const swept1 = await countSwept();
    const state1 = await handle.query(queueStateQuery);
    const live = await stack.db.query<{ status: string; n: string }>(
      `SELECT status, count(*) AS n FROM workers WHERE harvester_id = $1 AND swept_at IS NULL GROUP BY status`,
      [stack.harvesterID],
    );
    const liveByStatus = Object.fromEntries(live.rows.map((r) => [r.status, Number(r.n)]));
    const rate = (swept1 - swept0) / seconds;
    const started = state1.totals.workersStarted - state0.totals.workersStarted;
    const note =
      `${swept1 - swept0} lifecycles completed (submit → running → finished → final report → sweep) ` +
      `in ${seconds.toFixed(0)} s after a ${WARM_UP_SECONDS} s warm-up; ${started} started in the window ` +
      `(${(started / seconds).toFixed(2)}/s) by ${state1.totals.submitCycles - state0.totals.submitCycles} submitter ` +
      `cycles; live at the end: ${JSON.stringify(liveByStatus)}; ` +
      `${stack.sim.control.callsTo('harvester/update_workers').length} update_workers calls in all`;
    return [
      {
        name: 'sustained worker lifecycles per second (queue workflow, dummy plugin, dev server)',
        value: rate,
        unit: 'lifecycles/s',
        target: `≥ ${TARGET_PER_SECOND}`,
        pass: rate >= TARGET_PER_SECOND,
        note,
      },
    ];
  } finally {
    await link.client.workflow
      .getHandle(queueId)
      .signal(stopQueueSignal, { reason: 'bench over' })
      .catch(() => {});
    // Lifecycles still open are terminated so the next bench starts on an idle server.
    const open = await stack.db.query<{ worker_id: string }>(
      'SELECT worker_id FROM workers WHERE harvester_id = $1 AND swept_at IS NULL',
      [stack.harvesterID],
    );
    await forEachLimited(open.rows, 20, async (r) => {
      await link.client.workflow
        .getHandle(workerWorkflowId(stack.harvesterID, queueName, Number(r.worker_id)))
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
    await link.close();
  }
}

if (require.main === module) runAlone(runLifecycleThroughputBench);
