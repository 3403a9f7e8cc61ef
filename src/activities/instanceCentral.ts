/**
 * Central activities of the instance workflow: keep one queue workflow per active queue of the
 * instance's config, and carry out PanDA's commands (Harvester's CommandManager).
 *
 * Commands are acknowledged to PanDA only after they took effect here. Harvester marks a command
 * processed when it reads it, so a crash between reading and acting loses it; here the command is
 * stored as `received`, then `applied`, then `acknowledged`, and each step is retried until done.
 */
import { statfs } from 'node:fs/promises';
import { availableParallelism, hostname, loadavg, totalmem } from 'node:os';
import { log } from '@temporalio/activity';
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { QueueConfigStore } from '../config/queueConfigStore';
import { HarvesterInstance, HarvesterQueue } from '../core/searchAttributes';
import type { WorkerStatus } from '../core/workerStatus';
import {
  insertCommands,
  listCommandsToAcknowledge,
  listPendingCommands,
  markCommandAcknowledged,
  markCommandApplied,
} from '../db/commands';
import {
  insertServiceMetrics,
  listServiceMetricsSince,
  purgeServiceMetrics,
  type QueueWorkerStats,
  recordWorkerStatsReport,
  workerStatsByQueue,
} from '../db/metrics';
import type { Db } from '../db/pool';
import { setNNewWorkers, upsertQueue } from '../db/queues';
import { type KillFilter, listLiveWorkers, markWorkersToKill } from '../db/workers';
import { createMonitorExporter, type TableExportResult } from '../monitoring/exportToCentral';
import type { PandaCommunicator } from '../panda/client';
import { forEachLimited } from '../util/concurrency';
import {
  adjustNowSignal,
  type QueueWorkflowSettings,
  queueWorkflowId,
  settingsSignal,
  stopQueueSignal,
} from '../workflows/queueMessages';
import { KILL_SIGNAL_CONCURRENCY, killSignal, workerWorkflowId } from '../workflows/workerMessages';

export interface InstanceCentralDeps {
  db: Db;
  client: Client;
  harvesterID: string;
  /** Where the queue workflows are started: the control task queue (core/taskQueues). */
  controlTaskQueue: string;
  configs: QueueConfigStore;
  panda?: PandaCommunicator;
  /** Central monitoring DB the workers/jobs tables are mirrored to; undefined = no export. */
  monitorDatabaseUrl?: string;
  /** Volume whose free space goes into the service metrics (the instance's data dir). */
  dataDir?: string;
}

export interface WorkerStatsReportResult {
  /** Set when nothing was sent to PanDA, with the reason. */
  skipped?: string;
  reported: string[];
  failures: string[];
  /** Queues left for the next cycle because this one ran out of time. */
  deferred: string[];
  metricsPushed: number;
  /** creation_time of the newest service metric PanDA accepted: where the next push starts. */
  metricsPushedUpTo?: string;
}

export interface MonitoringExportSummary {
  /** Set when no export ran, with the reason. */
  skipped?: string;
  rowsExported: number;
  workers?: TableExportResult;
  jobs?: TableExportResult;
}

/**
 * Harvester's explicit zero for a queue without workers (db_proxy.get_worker_stats_bulk): PanDA keeps
 * the last report per (instance, queue) for 4 h, so sending nothing would leave stale counts there.
 */
const ZERO_QUEUE_STATS: QueueWorkerStats = {
  managed: { SCORE: { running: 0, submitted: 0, finished: 0, to_submit: 0 } },
};

/** Per-call and per-cycle limits, well inside the activity's 2-minute start-to-close timeout. */
const STATS_CALL_TIMEOUT_MS = 20_000;
const STATS_CYCLE_BUDGET_MS = 75_000;
const STATS_CONCURRENCY = 4;
const METRICS_PUSH_MAX = 100;
const METRICS_KEEP_MS = 7 * 24 * 3600 * 1000; // Harvester keeps a week of service metrics

/** The small set of host metrics Harvester's ServiceMonitor records (same names where they exist). */
async function sampleServiceMetrics(dataDir: string | undefined): Promise<Record<string, number>> {
  const rss = process.memoryUsage().rss;
  const load1 = loadavg()[0];
  const round = (x: number) => Math.round(x * 100) / 100;
  const m: Record<string, number> = {
    rss_mib: round(rss / 2 ** 20),
    memory_pc: round((rss / totalmem()) * 100),
    cpu_load_1m: round(load1),
    cpu_pc: round((load1 / availableParallelism()) * 100),
  };
  if (dataDir) {
    try {
      const fs = await statfs(dataDir);
      const total = fs.blocks * fs.bsize;
      m.volume_data_free_gib = round((fs.bavail * fs.bsize) / 2 ** 30);
      if (total > 0) m.volume_data_pc = round(((total - fs.bfree * fs.bsize) / total) * 100);
    } catch {
      // No data dir (external DB, nothing written yet): the other metrics are still worth sending.
    }
  }
  return m;
}

export interface QueueSyncResult {
  active: string[];
  started: string[];
  stopped: string[];
  errors: string[];
}

export interface CommandCycleResult {
  received: number;
  applied: number;
  acknowledged: number;
  failures: string[];
}

/** Command prefix → receiver, as Harvester routes them; commands without a receiver are dropped. */
function receiverOf(command: string): string | undefined {
  const name = command.split(':')[0];
  if (name === 'SET_N_WORKERS' || name === 'SET_N_WORKERS_JOBTYPE') return 'submitter';
  if (name === 'KILL_WORKERS' || name === 'SYNC_WORKERS_KILL') return 'sweeper';
  if (name === 'REPORT_WORKER_STATS') return 'propagator';
  return undefined;
}

function listParam(params: Record<string, unknown>, key: string): string[] | 'ALL' | undefined {
  const v = params[key];
  if (v === 'ALL') return 'ALL';
  if (Array.isArray(v)) return v.map(String);
  return undefined;
}

export function createInstanceCentralActivities(deps: InstanceCentralDeps) {
  // One central pool per process, opened on the first export.
  const exporter = deps.monitorDatabaseUrl
    ? createMonitorExporter(deps.db, deps.monitorDatabaseUrl)
    : undefined;

  /**
   * Tells each marked worker's lifecycle to kill it, KILL_SIGNAL_CONCURRENCY at a time: the kills
   * of a big command reach the lifecycles within seconds, so their kill activities meet in a few
   * sweeper batches (activities/plugin.ts). Every worker is tried; a failure (Temporal away) fails
   * the command after that, and the command's next application signals the marked workers again
   * (markWorkersToKill alsoMarked; a repeated kill is ignored by a lifecycle that has one).
   */
  async function signalKills(workerIDs: number[], reason: string, source: 'panda_command'): Promise<number> {
    if (workerIDs.length === 0) return 0;
    const { rows } = await deps.db.query<{ worker_id: string; computing_site: string }>(
      'SELECT worker_id, computing_site FROM workers WHERE worker_id = ANY($1::bigint[])',
      [workerIDs],
    );
    let signalled = 0;
    const failed: string[] = [];
    await forEachLimited(rows, KILL_SIGNAL_CONCURRENCY, async (r) => {
      try {
        await deps.client.workflow
          .getHandle(workerWorkflowId(deps.harvesterID, r.computing_site, Number(r.worker_id)))
          .signal(killSignal, { reason, source });
        signalled++;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError))
          failed.push(`worker ${r.worker_id}: ${(err as Error).message}`);
      }
    });
    if (failed.length > 0)
      throw new Error(
        `kill signal failed for ${failed.length} of ${rows.length} workers (first: ${failed[0]})`,
      );
    return signalled;
  }

  async function applyCommand(command: string, params: unknown): Promise<unknown> {
    const [name, site] = command.split(':');
    switch (name) {
      case 'SET_N_WORKERS':
      case 'SET_N_WORKERS_JOBTYPE': {
        if (!site) throw new Error(`${command}: expected ${name}:<queue>`);
        const byJobType =
          name === 'SET_N_WORKERS'
            ? { managed: params as Record<string, number> }
            : (params as Record<string, Record<string, number>>);
        const known = await setNNewWorkers(deps.db, deps.harvesterID, site, byJobType);
        if (known) {
          await deps.client.workflow
            .getHandle(queueWorkflowId(deps.harvesterID, site))
            .signal(adjustNowSignal)
            .catch(() => {});
        }
        return { queue: site, known };
      }
      case 'KILL_WORKERS': {
        const p = (params ?? {}) as Record<string, unknown>;
        const status = listParam(p, 'status') ?? ['submitted'];
        const filter: KillFilter = {
          harvesterID: deps.harvesterID,
          status: status as WorkerStatus[] | 'ALL',
          computingSite: listParam(p, 'computingSite'),
          computingElement: listParam(p, 'computingElement'),
          submissionHost: listParam(p, 'submissionHost'),
        };
        // Harvester: a missing or empty list means "no-op", not "everything".
        const lists = [filter.computingSite, filter.computingElement, filter.submissionHost];
        if (lists.every((l) => l === undefined || (Array.isArray(l) && l.length === 0))) return { killed: 0 };
        const ids = await markWorkersToKill(deps.db, filter, 'PanDA KILL_WORKERS', { alsoMarked: true });
        return {
          killed: ids.length,
          signalled: await signalKills(ids, 'PanDA command KILL_WORKERS', 'panda_command'),
        };
      }
      case 'SYNC_WORKERS_KILL': {
        const ids = (Array.isArray(params) ? params : []).map(Number).filter(Number.isInteger);
        const marked = await markWorkersToKill(
          deps.db,
          { workerIDs: ids, harvesterID: deps.harvesterID },
          'PanDA SYNC_WORKERS_KILL',
          { alsoMarked: true },
        );
        return {
          killed: marked.length,
          signalled: await signalKills(marked, 'PanDA command SYNC_WORKERS_KILL', 'panda_command'),
        };
      }
      case 'REPORT_WORKER_STATS': {
        if (!deps.panda || !site) return { reported: false };
        const stats = await workerStatsByQueue(deps.db, deps.harvesterID);
        await deps.panda.reportWorkerStatistics(site, (stats[site] ?? {}) as never);
        return { reported: true };
      }
      default:
        throw new Error(`no receiver for command ${command}`);
    }
  }

  /** The settings last given to each queue workflow by this process (see syncQueues). */
  const sentSettings = new Map<string, string>();

  return {
    /** Starts a queue workflow for every active queue and stops the ones gone or offline. */
    async syncQueues(input: { harvesterID: string }): Promise<QueueSyncResult> {
      // The instance's queue config from PanDA, when one is configured and due (never throws:
      // a failure keeps the last good copy and shows up in the load errors).
      await deps.configs.refresh();
      const result = deps.configs.load();
      const errors = result.errors.map((e) => e.message);
      const active = result.queues.filter((q) => q.active);
      const started: string[] = [];
      for (const q of active) {
        await deps.configs.register(q);
        await upsertQueue(deps.db, {
          harvesterID: input.harvesterID,
          queueName: q.queueName,
          configID: q.configID,
          siteName: q.siteName,
        });
        const settings: QueueWorkflowSettings = {
          submitterIntervalSeconds: q.temporal.submitterIntervalSeconds,
          monitorIntervalSeconds: q.temporal.monitorIntervalSeconds,
          maxConsecutiveMonitorFailures: q.temporal.maxConsecutiveMonitorFailures,
          autoResumeAfterMonitorRecovery: q.temporal.autoResumeAfterMonitorRecovery,
        };
        const settingsKey = JSON.stringify(settings);
        try {
          await deps.client.workflow.start('queueWorkflow', {
            taskQueue: deps.controlTaskQueue,
            workflowId: queueWorkflowId(input.harvesterID, q.queueName),
            args: [
              {
                harvesterID: input.harvesterID,
                queueName: q.queueName,
                settings,
                controlTaskQueue: deps.controlTaskQueue,
              },
            ],
            typedSearchAttributes: [
              { key: HarvesterQueue, value: q.queueName },
              { key: HarvesterInstance, value: input.harvesterID },
            ],
            staticSummary: `queue ${q.queueName} of instance ${input.harvesterID}`,
          });
          started.push(q.queueName);
          sentSettings.set(q.queueName, settingsKey);
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          // A running queue learns changed settings (cycle lengths, failure threshold) by signal.
          // Sent once per process for each queue, then only on change: a signal is a history event.
          if (sentSettings.get(q.queueName) !== settingsKey) {
            await deps.client.workflow
              .getHandle(queueWorkflowId(input.harvesterID, q.queueName))
              .signal(settingsSignal, settings);
            sentSettings.set(q.queueName, settingsKey);
          }
        }
      }
      const activeNames = new Set(active.map((q) => q.queueName));
      const stopped: string[] = [];
      const { rows } = await deps.db.query<{ queue_name: string }>(
        'SELECT queue_name FROM queues WHERE harvester_id = $1',
        [input.harvesterID],
      );
      for (const { queue_name } of rows) {
        if (activeNames.has(queue_name)) continue;
        try {
          await deps.client.workflow
            .getHandle(queueWorkflowId(input.harvesterID, queue_name))
            .signal(stopQueueSignal, { reason: 'queue no longer active in the config' });
          stopped.push(queue_name);
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
      }
      if (errors.length > 0) log.warn('queue config has errors; those queues are not served', { errors });
      return { active: [...activeNames], started, stopped, errors };
    },

    /** One command-manager cycle: fetch, store, apply, acknowledge. Safe to retry at any point. */
    async processPandaCommands(input: { harvesterID: string }): Promise<CommandCycleResult> {
      const out: CommandCycleResult = { received: 0, applied: 0, acknowledged: 0, failures: [] };
      if (deps.panda) {
        const fetched = await deps.panda.acquireCommands(20);
        const routable = fetched.filter((c) => receiverOf(c.command) !== undefined);
        for (const c of fetched)
          if (!receiverOf(c.command))
            log.warn('PanDA command without receiver dropped', { command: c.command });
        await insertCommands(
          deps.db,
          input.harvesterID,
          routable.map((c) => ({
            commandID: c.command_id,
            command: c.command,
            receiver: receiverOf(c.command)!,
            params: c.params,
            ackRequested: Boolean(c.ack_requested),
            createdAt: c.creation_date,
          })),
        );
        out.received = routable.length;
      }
      for (const c of await listPendingCommands(deps.db, input.harvesterID)) {
        try {
          const result = await applyCommand(c.command, c.params);
          await markCommandApplied(deps.db, c.commandID, result);
          out.applied++;
        } catch (err) {
          out.failures.push(`${c.command} (${c.commandID}): ${(err as Error).message}`);
        }
      }
      const toAck = await listCommandsToAcknowledge(deps.db, input.harvesterID);
      if (toAck.length > 0 && deps.panda) {
        await deps.panda.acknowledgeCommands(toAck.map((c) => c.commandID));
      }
      out.acknowledged = (
        await markCommandAcknowledged(
          deps.db,
          toAck.map((c) => c.commandID),
        )
      ).length;
      return out;
    },

    /** Harvester's instance heartbeat to PanDA (every 10 min in the CommandManager). */
    async pandaInstanceHeartbeat(input: { harvesterID: string }): Promise<boolean> {
      if (!deps.panda) return false;
      try {
        await deps.panda.heartbeat();
        return true;
      } catch (err) {
        // The first heartbeat of a new instance is answered success:false by the real server.
        log.warn('PanDA instance heartbeat failed', {
          harvesterID: input.harvesterID,
          error: (err as Error).message,
        });
        return false;
      }
    },

    /**
     * Harvester's propagator every 300 s: worker statistics of every queue to PanDA (zero entry for
     * queues without workers), then a service-metrics sample pushed with the ones PanDA has not yet
     * accepted. A queue whose report fails is listed and retried next cycle rather than failing the
     * activity, which would resend every queue.
     */
    async reportWorkerStats(input: {
      harvesterID: string;
      metricsSince?: string;
    }): Promise<WorkerStatsReportResult> {
      const out: WorkerStatsReportResult = { reported: [], failures: [], deferred: [], metricsPushed: 0 };
      const now = new Date();
      // Recorded even without PanDA: the local table is what operators and the CLI can read.
      await insertServiceMetrics(deps.db, input.harvesterID, [
        { hostName: hostname(), metrics: await sampleServiceMetrics(deps.dataDir), creationTime: now },
      ]);
      await purgeServiceMetrics(deps.db, new Date(now.getTime() - METRICS_KEEP_MS));
      const panda = deps.panda;
      if (!panda) {
        out.skipped = 'PanDA is not configured';
        out.metricsPushedUpTo = input.metricsSince;
        return out;
      }

      const stats = await workerStatsByQueue(deps.db, input.harvesterID);
      const queues = Object.keys(stats).sort();
      const deadline = Date.now() + STATS_CYCLE_BUDGET_MS;
      let next = 0;
      const sender = async () => {
        for (;;) {
          const i = next++;
          if (i >= queues.length) return;
          const queue = queues[i];
          if (Date.now() > deadline) {
            out.deferred.push(queue);
            continue;
          }
          const qs = Object.keys(stats[queue]).length === 0 ? ZERO_QUEUE_STATS : stats[queue];
          try {
            await panda.reportWorkerStatistics(queue, qs, { timeoutMs: STATS_CALL_TIMEOUT_MS });
            await recordWorkerStatsReport(deps.db, input.harvesterID, queue, qs, new Date());
            out.reported.push(queue);
          } catch (err) {
            out.failures.push(`${queue}: ${(err as Error).message}`);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(STATS_CONCURRENCY, queues.length) }, sender));
      out.reported.sort();
      if (out.failures.length > 0)
        log.warn('worker statistics not accepted by PanDA', { failures: out.failures });

      // Without a previous push, one hour back is enough: older samples are history, not news.
      const since = input.metricsSince ?? new Date(now.getTime() - 3600_000).toISOString();
      const pending = (await listServiceMetricsSince(deps.db, input.harvesterID, since)).slice(
        -METRICS_PUSH_MAX,
      );
      out.metricsPushedUpTo = input.metricsSince;
      if (pending.length > 0) {
        try {
          await panda.updateServiceMetrics(
            pending.map((m) => ({ time: new Date(m.creationTime), host: m.hostName, metrics: m.metrics })),
            { timeoutMs: STATS_CALL_TIMEOUT_MS },
          );
          out.metricsPushed = pending.length;
          out.metricsPushedUpTo = pending[pending.length - 1].creationTime;
        } catch (err) {
          log.warn('service metrics not accepted by PanDA; sent again next cycle', {
            error: (err as Error).message,
          });
        }
      }
      return out;
    },

    /** One incremental export of the workers and jobs tables to the central monitoring DB. */
    async exportMonitoringData(input: { harvesterID: string }): Promise<MonitoringExportSummary> {
      if (!exporter) return { skipped: 'no monitoring database configured', rowsExported: 0 };
      const r = await exporter.run(input.harvesterID);
      if (!r) return { skipped: 'another export of this instance is running', rowsExported: 0 };
      return { rowsExported: r.rowsExported, workers: r.workers, jobs: r.jobs };
    },

    /** Live worker counts per queue, for the instance's status query and the CLI. */
    async liveWorkerCount(input: { harvesterID: string; queueName: string }): Promise<number> {
      return (await listLiveWorkers(deps.db, input.queueName, input.harvesterID)).length;
    },
  };
}

export type InstanceCentralActivities = ReturnType<typeof createInstanceCentralActivities>;
