/**
 * Kill latency on Slurm: from an operator's `kill` signal to the batch job leaving the running
 * states, as `temporal workflow signal --name kill --input '{"reason": ...}'` sends it.
 *
 * M worker lifecycles submit long jobs (sleep 600) to the one-node Slurm of scripts/slurm-setup.sh;
 * once squeue shows every job RUNNING (and each lifecycle has been told `running`, as the queue
 * monitor would), the workers are killed ONE AT A TIME: signal `kill`, then poll
 * `squeue -h -j <id>` every 50 ms until the job is gone or CANCELLED/COMPLETING. One at a time, so
 * each number is the latency of one kill on an otherwise quiet harvester, not a queue of them.
 *
 * Each kill is also split into its parts: signal → the plugin's scancel starts (Temporal: signal,
 * workflow task, killWorkers activity dispatch), scancel itself (from the plugin's timing runner),
 * and scancel's end → squeue shows the job ended (Slurm + our poll interval).
 *
 * Standalone (own dev server on 7533, own DB): node --import tsx bench/killLatency.bench.ts
 */
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import {
  killSignal,
  statusChangedSignal,
  statusQuery,
  workerWorkflowId,
} from '../src/workflows/workerMessages';
import {
  type BenchResult,
  cancelJobsTagged,
  ensureSlurm,
  forEachLimited,
  nowMs,
  percentile,
  runSlurmBenchAlone,
  type SlurmBenchEnv,
  sleep,
  slurmBenchEnvFromProcess,
  squeueStates,
  startSlurmStack,
} from './support/slurmBench';

const M = Number(process.env.HARVESTER_BENCH_SLURM_KILLS || 30);
const TARGET_P95_MS = 2000;
const POLL_MS = 50;
/** Longest wait for one job to end after its kill: past this it counts as not killed. */
const KILL_LIMIT_MS = 20_000;
/** Longest wait for all M jobs to be submitted and running. */
const RUNNING_LIMIT_MS = 120_000;
const JOB_SCRIPT = '#!/bin/bash\nsleep 600\n';
/** What "gone" means: no longer listed, or in a state where the job no longer runs the pilot. */
const ENDED = new Set([
  'CANCELLED',
  'COMPLETING',
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'NODE_FAIL',
  'PREEMPTED',
  'OUT_OF_MEMORY',
]);

interface Kill {
  workerID: number;
  batchID: string;
  signalMs: number;
  goneMs?: number;
  lastState?: string;
}

const fmt = (xs: number[]) =>
  xs.length === 0
    ? 'n/a'
    : `p50 ${percentile(xs, 0.5).toFixed(0)} ms, p95 ${percentile(xs, 0.95).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

export async function runKillLatencyBench(
  env: SlurmBenchEnv = slurmBenchEnvFromProcess(),
): Promise<BenchResult[]> {
  ensureSlurm();
  const tag = `kill${Date.now().toString(36)}`;
  const stack = await startSlurmStack({
    env,
    tag,
    queueName: 'BENCH_SLURM_KILL',
    template: JOB_SCRIPT,
    // No kill retry during the bench: each kill must be measured on its first attempt.
    temporal: { sweeperIntervalSeconds: 3600 },
  });
  const workflowIds: string[] = [];
  try {
    const workers = await stack.newPendingWorkers(M);
    const handles = new Map<number, ReturnType<typeof stack.client.workflow.getHandle>>();
    await forEachLimited(workers, 10, async (w) => {
      const workflowId = workerWorkflowId(stack.harvesterID, stack.queueName, w.workerID);
      await stack.client.workflow.start(workerLifecycleWorkflow, {
        taskQueue: stack.taskQueue,
        workflowId,
        args: [{ worker: w, policy: stack.policy }],
      });
      workflowIds.push(workflowId);
      handles.set(w.workerID, stack.client.workflow.getHandle(workflowId));
    });

    // --- wait until every job runs -----------------------------------------------------------
    const deadline = Date.now() + RUNNING_LIMIT_MS;
    let batchIds = new Map<number, string>();
    let running = 0;
    while (Date.now() < deadline) {
      const rows = await stack.db.query<{ worker_id: string; batch_id: string | null }>(
        `SELECT worker_id, batch_id FROM workers WHERE harvester_id = $1 AND batch_id IS NOT NULL`,
        [stack.harvesterID],
      );
      batchIds = new Map(rows.rows.map((r) => [Number(r.worker_id), r.batch_id as string]));
      const states = await squeueStates([...batchIds.values()]);
      running = [...states.values()].filter((s) => s === 'RUNNING').length;
      if (batchIds.size === M && running === M) break;
      await sleep(500);
    }
    if (running < M)
      throw new Error(`only ${running} of ${M} Slurm jobs running after ${RUNNING_LIMIT_MS / 1000} s`);
    // What the queue monitor would do: tell each lifecycle its job runs.
    const observedAt = new Date().toISOString();
    await forEachLimited([...handles.values()], 10, (h) =>
      h.signal(statusChangedSignal, { status: 'running', observedAt }),
    );
    for (const h of handles.values()) {
      while ((await h.query(statusQuery)).worker.status !== 'running') await sleep(100);
    }
    await sleep(1000); // let the `running` reports drain so they do not share the first kills' time

    // --- kill one at a time ------------------------------------------------------------------
    const kills: Kill[] = [];
    for (const [workerID, batchID] of batchIds) {
      const handle = handles.get(workerID);
      if (!handle) continue;
      const k: Kill = { workerID, batchID, signalMs: nowMs() };
      kills.push(k);
      await handle.signal(killSignal, { reason: 'kill-latency bench' });
      const limit = k.signalMs + KILL_LIMIT_MS;
      while (nowMs() < limit) {
        const state = (await squeueStates([batchID])).get(batchID);
        k.lastState = state;
        if (state === undefined || ENDED.has(state)) {
          k.goneMs = nowMs();
          break;
        }
        await sleep(POLL_MS);
      }
    }

    // --- where the time went -----------------------------------------------------------------
    const scancels = stack.log.of('scancel');
    const killed = kills.filter((k) => k.goneMs !== undefined);
    const total = killed.map((k) => (k.goneMs as number) - k.signalMs);
    const toScancel: number[] = [];
    const scancelRun: number[] = [];
    const afterScancel: number[] = [];
    for (const k of killed) {
      const s = scancels.find((c) => c.args.includes(k.batchID) && c.startMs >= k.signalMs);
      if (!s) continue;
      toScancel.push(s.startMs - k.signalMs);
      scancelRun.push(s.endMs - s.startMs);
      afterScancel.push((k.goneMs as number) - s.endMs);
    }
    const p95 = percentile(total, 0.95);
    const failedKills = kills.length - killed.length;
    return [
      {
        name: `kill signal → Slurm job ended, p50 (M=${M}, one at a time)`,
        value: percentile(total, 0.5),
        unit: 'ms',
      },
      {
        name: 'kill signal → Slurm job ended, p95',
        value: p95,
        unit: 'ms',
        target: `< ${TARGET_P95_MS} ms`,
        pass: p95 < TARGET_P95_MS && failedKills === 0,
        note:
          `${killed.length}/${kills.length} jobs ended within ${KILL_LIMIT_MS / 1000} s` +
          (failedKills > 0
            ? ` (not ended: ${kills
                .filter((k) => k.goneMs === undefined)
                .map((k) => `${k.batchID}=${k.lastState}`)
                .join(', ')})`
            : '') +
          `; squeue polled every ${POLL_MS} ms, so each number is up to ~${POLL_MS} ms plus one squeue call late\n` +
          `  signal → scancel started (signal, workflow task, killWorkers activity dispatch): ${fmt(toScancel)}\n` +
          `  scancel itself: ${fmt(scancelRun)}\n` +
          `  scancel done → squeue shows the job ended: ${fmt(afterScancel)}`,
      },
      { name: 'kill: scancel command duration, p50', value: percentile(scancelRun, 0.5), unit: 'ms' },
      { name: 'kill: signal → scancel started, p95', value: percentile(toScancel, 0.95), unit: 'ms' },
    ];
  } finally {
    await cancelJobsTagged(tag).catch(() => 0);
    await forEachLimited(workflowIds, 20, async (id) => {
      await stack.client.workflow
        .getHandle(id)
        .terminate('bench over')
        .catch(() => {});
    });
    await stack.close();
  }
}

if (require.main === module) runSlurmBenchAlone(runKillLatencyBench);
