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
 * Then a burst: B more workers (HARVESTER_BENCH_SLURM_BURST, default 200; 0 = skip) are killed all at
 * once, the way a PanDA KILL_WORKERS command or `workers kill --query` signals them
 * (KILL_SIGNAL_CONCURRENCY at a time). Each lifecycle runs its own kill activity; the plugin
 * activities batch them (activities/plugin.ts KILL_BATCH), so the bench counts the scancel calls
 * the burst made (from the plugin's timing runner) and how long until every job had ended.
 *
 * Standalone (own dev server on 7533, own DB): node --import tsx bench/killLatency.bench.ts
 */

import { chunkByLength } from '../src/plugins/common/batchName';
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import {
  KILL_SIGNAL_CONCURRENCY,
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
const B = Number(process.env.HARVESTER_BENCH_SLURM_BURST ?? 200);
/** Longest wait for the burst's jobs to be submitted, and then to end after their kills. */
const BURST_LIMIT_MS = 120_000;
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
    const burst = B > 0 ? await killBurst(stack, workflowIds) : [];
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
      ...burst,
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

type SlurmStack = Awaited<ReturnType<typeof startSlurmStack>>;

/** B workers submitted, then all killed at once: scancel calls made and time until every job ended. */
async function killBurst(stack: SlurmStack, workflowIds: string[]): Promise<BenchResult[]> {
  const workers = await stack.newPendingWorkers(B);
  const ids = new Set(workers.map((w) => w.workerID));
  const handles: Array<ReturnType<typeof stack.client.workflow.getHandle>> = [];
  await forEachLimited(workers, 10, async (w) => {
    const workflowId = workerWorkflowId(stack.harvesterID, stack.queueName, w.workerID);
    await stack.client.workflow.start(workerLifecycleWorkflow, {
      taskQueue: stack.taskQueue,
      workflowId,
      args: [{ worker: w, policy: stack.policy }],
    });
    workflowIds.push(workflowId);
    handles.push(stack.client.workflow.getHandle(workflowId));
  });
  // Submitted: every worker has its batch job (queued or running: a kill ends either).
  const deadline = Date.now() + BURST_LIMIT_MS;
  let batchIds: string[] = [];
  while (Date.now() < deadline) {
    const rows = await stack.db.query<{ worker_id: string; batch_id: string }>(
      `SELECT worker_id, batch_id FROM workers WHERE harvester_id = $1 AND batch_id IS NOT NULL AND status = 'submitted'`,
      [stack.harvesterID],
    );
    batchIds = rows.rows.filter((r) => ids.has(Number(r.worker_id))).map((r) => r.batch_id);
    if (batchIds.length === B) break;
    await sleep(500);
  }
  if (batchIds.length < B) throw new Error(`burst: only ${batchIds.length} of ${B} workers submitted`);
  await sleep(1000); // let the submissions' reports drain

  const startMs = nowMs();
  await forEachLimited(handles, KILL_SIGNAL_CONCURRENCY, (h) =>
    h.signal(killSignal, { reason: 'kill burst bench' }),
  );
  const signalledMs = nowMs();
  let left = batchIds;
  while (left.length > 0 && nowMs() - startMs < BURST_LIMIT_MS) {
    const states = await squeueStates(left);
    left = left.filter((id) => {
      const st = states.get(id);
      return st !== undefined && !ENDED.has(st);
    });
    if (left.length > 0) await sleep(200);
  }
  const endedMs = nowMs() - startMs;
  const calls = stack.log.of('scancel', startMs);
  const sizes = calls.map((c) => c.args.length).sort((a, b) => b - a);
  const chunks = chunkByLength(batchIds, 100_000, ' ').length;
  return [
    {
      name: `kill burst: scancel calls for ${B} workers killed at once`,
      value: calls.length,
      unit: 'calls',
      note:
        `${chunks} argv chunk(s); ids per call: ${sizes.join(', ')}; ` +
        `${B} signals sent in ${(signalledMs - startMs).toFixed(0)} ms (${KILL_SIGNAL_CONCURRENCY} at a time); ` +
        `scancel calls started ${calls.length ? `${(calls[0].startMs - startMs).toFixed(0)}–${(calls[calls.length - 1].startMs - startMs).toFixed(0)}` : '-'} ms after the first signal`,
    },
    {
      name: `kill burst: signals start → all ${B} jobs ended`,
      value: endedMs,
      unit: 'ms',
      target: '< 60000 ms',
      pass: left.length === 0 && endedMs < 60_000,
      note: left.length > 0 ? `${left.length} jobs not ended: ${left.slice(0, 10).join(', ')}` : undefined,
    },
  ];
}

if (require.main === module) runSlurmBenchAlone(runKillLatencyBench);
