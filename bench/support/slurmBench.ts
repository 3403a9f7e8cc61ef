/**
 * Shared pieces of the two Slurm benches (slurmSubmitRate, killLatency): the set-up when a bench
 * runs alone, a harvester stack whose Slurm plugins run their commands through a timing runner,
 * squeue/scancel helpers, and the clean-up that leaves no job behind.
 *
 * Why a stack of our own and not bench/support/stack.ts: that one builds the registry itself
 * (dummy plugins); here the Slurm plugins must be built with a runner that timestamps every
 * sbatch/squeue/scancel, so the benches can say where the time goes (Temporal vs Slurm).
 * The runner only observes: it calls the project's runCommand unchanged.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import pg from 'pg';
import { QueueConfigStore } from '../../src/config/queueConfigStore';
import type { WorkSpec } from '../../src/core/specs';
import { policyFromQueueConfig, type WorkerPolicy } from '../../src/core/workerPolicy';
import { migrate } from '../../src/db/migrate';
import { type Db, openDatabase } from '../../src/db/pool';
import { allocateWorkerIds, insertPendingWorkers } from '../../src/db/workers';
import { createLogger } from '../../src/observability/logger';
import { createPandaClient } from '../../src/panda';
import { createPluginRegistry } from '../../src/plugins';
import { chunkByLength } from '../../src/plugins/common/batchName';
import { type CommandRunner, runCommand } from '../../src/plugins/exec';
import type { PluginRegistry } from '../../src/plugins/registry';
import { createSlurmMonitor, createSlurmSubmitter, createSlurmSweeper } from '../../src/plugins/slurm';
import { createAllCentralActivities } from '../../src/worker/activities';
import {
  type DevServerOptions,
  defaultDevServerOptions,
  ensureDevServer,
  PROJECT_ROOT,
  stopDevServer,
} from '../../temporal/devServer';
import { type PandaSim, startPandaSim } from '../../test/panda-sim';
import type { BenchResult } from './env';
import { quietRuntime, workflowBundle } from './stack';

export { forEachLimited } from '../../src/util/concurrency';

export type { BenchResult };

/** What bench/run.ts hands a bench: where the Temporal server and the (fresh) database are. */
export interface SlurmBenchEnv {
  temporalAddress: string;
  databaseUrl: string;
  namespace?: string;
}

/** Same variables bench/support/env.ts exports for benches run inside bench/run.ts. */
export function slurmBenchEnvFromProcess(): SlurmBenchEnv {
  const temporalAddress = process.env.HARVESTER_BENCH_TEMPORAL_ADDRESS;
  const databaseUrl = process.env.HARVESTER_BENCH_DATABASE_URL;
  if (!temporalAddress || !databaseUrl) {
    throw new Error(
      'HARVESTER_BENCH_TEMPORAL_ADDRESS / HARVESTER_BENCH_DATABASE_URL are not set: pass env, run through `npm run bench`, or run the bench file alone',
    );
  }
  return { temporalAddress, databaseUrl };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Wall-clock milliseconds with sub-millisecond resolution (comparable with Temporal's event times). */
export const nowMs = () => performance.timeOrigin + performance.now();

export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: with 30 samples p95 is the 29th value, a measured one rather than an interpolation.
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export const mean = (values: readonly number[]) =>
  values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;

// ---- Slurm ---------------------------------------------------------------------------------

/** scripts/slurm-setup.sh is idempotent; a bench that cannot get Slurm fails with its output. */
export function ensureSlurm(): void {
  const r = spawnSync('bash', [join(PROJECT_ROOT, 'scripts', 'slurm-setup.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (r.status !== 0)
    throw new Error(`scripts/slurm-setup.sh failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** States in which a job still holds (or is about to hold) a slot. */
const LIVE_STATES = 'PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED,REQUEUED,RESIZING';

/** Job id → state for the jobs whose name contains `tag`, in the live states. */
export async function liveJobsTagged(tag: string): Promise<Map<string, string>> {
  const res = await runCommand('squeue', ['-h', '-t', LIVE_STATES, '-o', '%i|%T|%j'], { timeoutMs: 30_000 });
  const out = new Map<string, string>();
  for (const line of res.stdout.split('\n')) {
    const [id, state, ...name] = line.split('|');
    if (id && name.join('|').includes(tag)) out.set(id.trim(), state.trim());
  }
  return out;
}

/**
 * Cancels every job whose name contains `tag` and waits (bounded) until none is live any more, so
 * the next phase measures an idle slurmctld. `scancel --name` takes ONE name, not a list, so the
 * ids are looked up by name first and cancelled by id.
 */
export async function cancelJobsTagged(tag: string, waitMs = 30_000): Promise<number> {
  const live = await liveJobsTagged(tag);
  for (const chunk of chunkByLength([...live.keys()], 100_000, ' ')) {
    await runCommand('scancel', chunk, { timeoutMs: 30_000, okExitCodes: [0, 1] });
  }
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline && (await liveJobsTagged(tag)).size > 0) await sleep(250);
  return live.size;
}

/** One squeue call for some job ids: id → state; an id squeue does not list is absent. */
export async function squeueStates(ids: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  // Exit code 1 is "Invalid job id" when the only id asked for has been purged: absent, not an error.
  const res = await runCommand('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T'], {
    timeoutMs: 30_000,
    okExitCodes: [0, 1],
  });
  for (const line of res.stdout.split('\n')) {
    const [id, state] = line.split('|');
    if (id && state) out.set(id.trim(), state.trim());
  }
  return out;
}

// ---- timed command runner ------------------------------------------------------------------

export interface TimedCommand {
  command: string;
  args: readonly string[];
  startMs: number;
  endMs: number;
  ok: boolean;
}

/** Records when each Slurm command of the plugins started and ended. */
export class SlurmCommandLog {
  readonly entries: TimedCommand[] = [];
  readonly runner: CommandRunner = async (command, args, options) => {
    const startMs = nowMs();
    try {
      const r = await runCommand(command, args, options);
      this.entries.push({ command, args: [...args], startMs, endMs: nowMs(), ok: true });
      return r;
    } catch (err) {
      this.entries.push({ command, args: [...args], startMs, endMs: nowMs(), ok: false });
      throw err;
    }
  };

  of(command: string, sinceMs = 0): TimedCommand[] {
    return this.entries.filter((e) => e.command === command && e.startMs >= sinceMs);
  }
}

/** Module name the bench registers its timed Slurm plugins under (the normal `slurm` stays as it is). */
export const BENCH_SLURM_MODULE = 'bench_slurm';

function benchRegistry(log: SlurmCommandLog): PluginRegistry {
  const registry = createPluginRegistry();
  const deps = { run: log.runner };
  registry.register('submitter', BENCH_SLURM_MODULE, 'SlurmSubmitter', (p, c) =>
    createSlurmSubmitter(p, c, deps),
  );
  registry.register('monitor', BENCH_SLURM_MODULE, 'SlurmMonitor', (p, c) => createSlurmMonitor(p, c, deps));
  registry.register('sweeper', BENCH_SLURM_MODULE, 'SlurmSweeper', (p, c) => createSlurmSweeper(p, c, deps));
  return registry;
}

const H = 'pandaharvester.harvester';

/**
 * A Slurm queue whose plugin activities run on the central worker (no edge task queue), and a
 * control queue `CONTROL_QUEUE` on the dummy plugins with the same settings: the same lifecycles
 * without Slurm show what the Temporal/DB side alone costs on this machine.
 */
export const CONTROL_QUEUE = 'BENCH_DUMMY_CONTROL';

/** Optional additions to the bench's queue config (all absent: the config killLatency uses). */
export interface SlurmQueueExtras {
  /** More Slurm queues with the same settings as the main one (e.g. a warm-up queue of its own). */
  moreSlurmQueues?: readonly string[];
  /** Top-level queue attributes for every queue (limits: maxWorkers, nQueueLimitWorker, ...). */
  attributes?: Record<string, unknown>;
  /** More SlurmSubmitter parameters (e.g. nProcesses). */
  slurmSubmitter?: Record<string, unknown>;
}

export function slurmQueueConfig(
  queueName: string,
  scratch: string,
  template: string,
  temporal: Record<string, unknown> = {},
  extras: SlurmQueueExtras = {},
): Record<string, unknown> {
  const section = (plugins: Record<string, unknown>) => ({
    queueStatus: 'online',
    mapType: 'NoJob',
    maxWorkers: 1000,
    ...extras.attributes,
    ...plugins,
    workerMaker: { module: `${H}workermaker.simple_worker_maker`, name: 'SimpleWorkerMaker' },
    messenger: {
      module: `${H}messenger.shared_file_messenger`,
      name: 'SharedFileMessenger',
      accessPoint: `${scratch}/\${workerID}`,
    },
    preparator: { module: `${H}preparator.dummy_preparator`, name: 'DummyPreparator' },
    stager: { module: `${H}stager.dummy_stager`, name: 'DummyStager' },
    temporal: { keepFinished: 0, keepFailed: 0, keepCancelled: 0, keepMissed: 0, ...temporal },
  });
  const slurmSection = () =>
    section({
      submitter: {
        module: BENCH_SLURM_MODULE,
        name: 'SlurmSubmitter',
        template,
        jobCompLoc: '/var/log/slurm/jobcomp.log',
        ...extras.slurmSubmitter,
      },
      monitor: { module: BENCH_SLURM_MODULE, name: 'SlurmMonitor', jobCompLoc: '/var/log/slurm/jobcomp.log' },
      sweeper: { module: BENCH_SLURM_MODULE, name: 'SlurmSweeper' },
    });
  return {
    [queueName]: slurmSection(),
    ...Object.fromEntries((extras.moreSlurmQueues ?? []).map((name) => [name, slurmSection()])),
    [CONTROL_QUEUE]: section({
      submitter: { module: `${H}submitter.dummy_submitter`, name: 'DummySubmitter' },
      monitor: { module: `${H}monitor.dummy_monitor`, name: 'DummyMonitor' },
      sweeper: { module: `${H}sweeper.dummy_sweeper`, name: 'DummySweeper' },
    }),
  };
}

export interface SlurmStack {
  client: Client;
  temporalAddress: string;
  db: Db;
  sim: PandaSim;
  /** The bench's queue config (all queues of the stack). */
  configs: QueueConfigStore;
  harvesterID: string;
  taskQueue: string;
  queueName: string;
  scratch: string;
  log: SlurmCommandLog;
  /** The Slurm queue's policy. */
  policy: WorkerPolicy;
  policyOf(queueName: string): WorkerPolicy;
  /** Pending worker rows, as the queue's submitQueueWorkers activity inserts them (default: the Slurm queue). */
  newPendingWorkers(n: number, queueName?: string): Promise<WorkSpec[]>;
  close(): Promise<void>;
}

/**
 * DB (migrated) + PanDA simulator + one Temporal worker with every workflow and the real central
 * activities, tuned as src/worker/centralWorker.ts tunes the production worker (only
 * maxCachedWorkflows set; concurrency at the SDK defaults).
 */
export async function startSlurmStack(o: {
  env: SlurmBenchEnv;
  tag: string;
  queueName: string;
  template: string;
  temporal?: Record<string, unknown>;
  extras?: SlurmQueueExtras;
}): Promise<SlurmStack> {
  quietRuntime();
  const namespace = o.env.namespace ?? 'default';
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    cleanups.length = 0;
  };
  try {
    const db = await openDatabase(o.env.databaseUrl);
    cleanups.push(() => db.end());
    await migrate(db);
    // The tag is in every batch job name (harvester-<harvesterID>-<workerID>): clean-up finds them by it.
    const harvesterID = o.tag;
    const taskQueue = `${o.tag}-tq`;
    const scratch = mkdtempSync(join(tmpdir(), `${o.tag}-`));
    cleanups.push(async () => rmSync(scratch, { recursive: true, force: true }));
    const sim = await startPandaSim({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => sim.close());
    const panda = createPandaClient({ baseUrl: sim.url, harvesterId: harvesterID, timeoutMs: 30_000 });
    const log = new SlurmCommandLog();
    const registry = benchRegistry(log);
    const configs = new QueueConfigStore(
      {
        inline: slurmQueueConfig(o.queueName, scratch, o.template, o.temporal, o.extras),
        name: 'bench-slurm-queueconfig.json',
      },
      { db, harvesterID, registry },
    );
    const clientConnection = await Connection.connect({ address: o.env.temporalAddress });
    cleanups.push(() => clientConnection.close());
    const client = new Client({ connection: clientConnection, namespace });
    const connection = await NativeConnection.connect({ address: o.env.temporalAddress });
    cleanups.push(() => connection.close());
    const activities = createAllCentralActivities({
      db,
      client,
      log: createLogger({ level: 'silent' }),
      harvesterID,
      centralTaskQueue: taskQueue,
      // One worker serves both (see bench/support/stack.ts).
      controlTaskQueue: taskQueue,
      configs,
      registry,
      panda,
      // undefined: the production report window (1.5 s), which is part of what is measured.
    });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      activities,
      workflowBundle: await workflowBundle(),
      maxCachedWorkflows: 2000,
      shutdownGraceTime: '2 seconds',
      // For investigating where time goes (e.g. '{"nonStickyToStickyPollRatio":1}'); unset = production tuning.
      ...(process.env.HARVESTER_BENCH_SLURM_WORKER_TUNING
        ? (JSON.parse(process.env.HARVESTER_BENCH_SLURM_WORKER_TUNING) as Partial<WorkerOptions>)
        : {}),
    });
    const workerRun = worker.run();
    cleanups.push(async () => {
      worker.shutdown();
      await workerRun.catch(() => {});
    });
    const policies = new Map<string, WorkerPolicy>();
    for (const name of [o.queueName, ...(o.extras?.moreSlurmQueues ?? []), CONTROL_QUEUE]) {
      const q = configs.queue(name);
      await configs.register(q);
      policies.set(name, policyFromQueueConfig(q, harvesterID, taskQueue));
    }
    const policyOf = (name: string): WorkerPolicy => {
      const p = policies.get(name);
      if (!p) throw new Error(`no queue ${name} in the bench config`);
      return p;
    };
    const policy = policyOf(o.queueName);
    return {
      client,
      temporalAddress: o.env.temporalAddress,
      db,
      sim,
      configs,
      harvesterID,
      taskQueue,
      queueName: o.queueName,
      scratch,
      log,
      policy,
      policyOf,
      async newPendingWorkers(n, queueName = o.queueName) {
        const qp = policyOf(queueName);
        const ids = await allocateWorkerIds(db, n);
        const now = new Date().toISOString();
        const workers: WorkSpec[] = ids.map((workerID) => ({
          workerID,
          computingSite: queueName,
          harvesterID,
          configID: qp.configID,
          mapType: qp.mapType,
          status: 'pending',
          resourceType: 'SCORE',
          jobType: 'managed',
          nCore: 1,
          maxWalltime: 3600,
          creationTime: now,
          accessPoint: join(scratch, String(workerID)),
        }));
        await insertPendingWorkers(db, workers);
        return workers;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

// ---- running alone -------------------------------------------------------------------------

/**
 * Own dev server (7533/8533, so neither `npm start`, `npm test` nor `npm run bench` is disturbed)
 * and own database, dropped at the end.
 */
export async function setUpStandaloneSlurmBench(): Promise<{
  env: SlurmBenchEnv;
  teardown(): Promise<void>;
}> {
  const outDir = join(PROJECT_ROOT, 'bench-output');
  mkdirSync(outDir, { recursive: true });
  const serverOpts: DevServerOptions = {
    ...defaultDevServerOptions(),
    port: 7533,
    uiPort: 8533,
    dbFile: join(outDir, `temporal-slurm-${process.pid}.db`),
    namespace: 'default',
    stateDir: outDir,
  };
  const cleanups: Array<() => Promise<unknown>> = [];
  const teardown = async () => {
    for (const c of cleanups.reverse())
      await c().catch((err: Error) => console.error(`teardown: ${err.message}`));
    cleanups.length = 0;
  };
  try {
    const server = await ensureDevServer(serverOpts);
    cleanups.push(async () => {
      if (server.startedHere) await stopDevServer(serverOpts);
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${serverOpts.dbFile}${suffix}`, { force: true });
    });
    const serverUrl =
      process.env.HARVESTER_BENCH_DATABASE_SERVER || 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `harvester_slurmbench_${Date.now().toString(36)}_${process.pid}`;
    const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    });
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return { env: { temporalAddress: server.address, databaseUrl: url.toString() }, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

function formatResult(r: BenchResult): string {
  const digits = Math.abs(r.value) >= 100 ? 0 : Math.abs(r.value) >= 1 ? 2 : 4;
  const verdict = r.pass === undefined ? '' : r.pass ? ' PASS' : ' FAIL';
  return `${r.name}: ${r.value.toFixed(digits)} ${r.unit}${r.target ? ` (target ${r.target})` : ''}${verdict}`;
}

/** For `node --import tsx bench/<slurm bench>.ts`: own set-up, print the results, tear down. */
export function runSlurmBenchAlone(bench: (env: SlurmBenchEnv) => Promise<BenchResult[]>): void {
  (async () => {
    const setup = await setUpStandaloneSlurmBench();
    try {
      for (const r of await bench(setup.env)) {
        console.log(formatResult(r));
        if (r.note) console.log(`  ${r.note}`);
      }
    } finally {
      await setup.teardown();
    }
  })().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

// ---- workflow history timelines --------------------------------------------------------------

/** The history event fields the timeline reads (structural, so no proto package import is needed). */
interface HistoryEventLike {
  eventId?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  workflowExecutionStartedEventAttributes?: unknown;
  workflowExecutionSignaledEventAttributes?: { signalName?: string | null } | null;
  workflowTaskScheduledEventAttributes?: unknown;
  workflowTaskStartedEventAttributes?: unknown;
  workflowTaskCompletedEventAttributes?: unknown;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
}

export interface ActivitySpan {
  name: string;
  scheduledMs: number;
  startedMs?: number;
  completedMs?: number;
}

export interface Timeline {
  startedMs: number;
  signals: Array<{ name: string; ms: number }>;
  workflowTasks: Array<{ scheduledMs: number; startedMs?: number; completedMs?: number }>;
  activities: ActivitySpan[];
}

function eventMs(e: HistoryEventLike): number {
  const t = e.eventTime;
  return t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : Number.NaN;
}

/**
 * Reads one workflow's history into when each activity was scheduled, picked up and finished. An
 * activity task that waits between scheduled and started waited for a free worker slot (or a poll).
 */
export function timelineOf(events: readonly HistoryEventLike[]): Timeline {
  const tl: Timeline = { startedMs: Number.NaN, signals: [], workflowTasks: [], activities: [] };
  const byScheduledId = new Map<string, ActivitySpan>();
  for (const e of events) {
    const ms = eventMs(e);
    if (e.workflowExecutionStartedEventAttributes) tl.startedMs = ms;
    if (e.workflowExecutionSignaledEventAttributes)
      tl.signals.push({ name: e.workflowExecutionSignaledEventAttributes.signalName ?? '', ms });
    const lastWft = tl.workflowTasks[tl.workflowTasks.length - 1];
    if (e.workflowTaskScheduledEventAttributes) tl.workflowTasks.push({ scheduledMs: ms });
    if (e.workflowTaskStartedEventAttributes && lastWft) lastWft.startedMs = ms;
    if (e.workflowTaskCompletedEventAttributes && lastWft) lastWft.completedMs = ms;
    if (e.activityTaskScheduledEventAttributes) {
      const span: ActivitySpan = {
        name: e.activityTaskScheduledEventAttributes.activityType?.name ?? '',
        scheduledMs: ms,
      };
      byScheduledId.set(String(e.eventId), span);
      tl.activities.push(span);
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const span = byScheduledId.get(String(started.scheduledEventId));
      if (span) span.startedMs = ms;
    }
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) {
      const span = byScheduledId.get(String(completed.scheduledEventId));
      if (span) span.completedMs = ms;
    }
  }
  return tl;
}

// ---- CPU accounting ------------------------------------------------------------------------

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * CPU seconds of a process from /proc: its own (utime+stime) or, with `children`, that of the
 * children it has reaped (cutime+cstime: here the sbatch/squeue/scancel processes the plugins ran).
 * undefined once the process is gone.
 */
function procCpuSeconds(pid: number, children = false): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return children
      ? (Number(f[13]) + Number(f[14])) / CLOCK_TICKS
      : (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

function pidsMatching(args: string[]): number[] {
  const r = spawnSync('pgrep', args, { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n').filter(Boolean).map(Number);
}

/**
 * CPU used during a phase by this process (Temporal worker + activities), the Temporal dev server
 * at `temporalAddress`, slurmctld, and all PostgreSQL back-ends (shared with whatever else runs).
 */
export function cpuMeter(temporalAddress: string): () => string {
  const port = temporalAddress.split(':').pop() ?? '';
  const groups: Array<{ name: string; pids: number[]; children?: boolean }> = [
    { name: 'bench process (Temporal worker, activities)', pids: [process.pid] },
    { name: 'its child commands (sbatch, squeue, ...)', pids: [process.pid], children: true },
    { name: 'temporal server', pids: pidsMatching(['-f', `temporal server start-dev .*--port ${port} `]) },
    { name: 'slurmctld', pids: pidsMatching(['-x', 'slurmctld']) },
    { name: 'munged', pids: pidsMatching(['-x', 'munged']) },
    { name: 'postgres (all)', pids: pidsMatching(['-x', 'postgres']) },
  ];
  const read = (g: (typeof groups)[number]) => g.pids.map((p) => procCpuSeconds(p, g.children));
  const before = groups.map(read);
  const t0 = nowMs();
  return () => {
    const secs = (nowMs() - t0) / 1000;
    const parts = groups.map((g, i) => {
      const after = read(g);
      // Only processes alive at both ends count: a back-end that exited took its CPU time with it.
      let used = 0;
      after.forEach((a, j) => {
        const b = before[i][j];
        if (a !== undefined && b !== undefined) used += a - b;
      });
      return `${g.name} ${(used / secs).toFixed(2)}`;
    });
    return `CPU (cores busy on average over ${secs.toFixed(1)} s, ${cpus().length} cores): ${parts.join(', ')}; load average ${loadavg()[0].toFixed(1)}`;
  };
}
