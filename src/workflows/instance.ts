/**
 * One workflow per harvester instance: keeps a queue workflow running for each active queue of
 * the instance's config (re-read every qconf interval, or at once on `reloadQueues`), fetches and
 * applies PanDA's commands, sends the instance heartbeat, worker statistics and service metrics to
 * PanDA, and mirrors the workers/jobs tables to the central monitoring DB when one is configured.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { InstanceCentralActivities } from '../activities/instanceCentral';
import { controlTaskQueueFor, MOVE_TO_CONTROL_TASK_QUEUE } from '../core/taskQueues';
import {
  type InstanceWorkflowInput,
  type InstanceWorkflowState,
  instanceStateQuery,
  reloadQueuesSignal,
} from './instanceMessages';

// No task queue named: the activities run on this workflow's, the control task queue, so a PanDA
// command cycle never waits behind the lifecycles' activities on the main one (core/taskQueues).
const central = proxyActivities<InstanceCentralActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});

// The periodic reports: the next cycle is their retry, so a failing one must not hold up the loop
// (commands, heartbeat) through a long retry series.
const periodic = proxyActivities<InstanceCentralActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 2 },
});
const monitorExport = proxyActivities<InstanceCentralActivities>({
  // Bounded by the exporter's rows-per-run limit and the central DB's statement timeout.
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '5 seconds', maximumAttempts: 2 },
});

/** Harvester's propagator sends worker stats and service metrics every 300 s (hard-coded there). */
const DEFAULT_WORKER_STATS_INTERVAL_S = 300;
const DEFAULT_MONITOR_EXPORT_INTERVAL_S = 300;

export async function instanceWorkflow(input: InstanceWorkflowInput): Promise<void> {
  const { harvesterID } = input;
  const controlTaskQueue = controlTaskQueueFor(input, workflowInfo().taskQueue);
  const nowIso = () => new Date(Date.now()).toISOString();
  const s: InstanceWorkflowState = input.state ?? {
    nextSyncAt: nowIso(),
    nextCommandsAt: nowIso(),
    nextHeartbeatAt: nowIso(),
    commandsApplied: 0,
  };
  let reload = false;
  setHandler(reloadQueuesSignal, () => {
    reload = true;
  });
  setHandler(instanceStateQuery, () => s);
  // Runs started by an older build have histories without these activities: replaying them must
  // not schedule new commands, so the cycles start with the next run (continue-as-new) of those.
  const reportsEnabled = patched('instance-worker-stats-and-monitor-export');
  const statsInterval = input.workerStatsIntervalSeconds ?? DEFAULT_WORKER_STATS_INTERVAL_S;
  const exportInterval = input.monitorExportIntervalSeconds ?? DEFAULT_MONITOR_EXPORT_INTERVAL_S;
  if (reportsEnabled) {
    // Harvester reports at the first propagator cycle after start, then every interval.
    s.nextWorkerStatsAt ??= nowIso();
    s.nextMonitorExportAt ??= nowIso();
  }

  const due = (iso: string) => Date.now() >= Date.parse(iso);
  const after = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

  for (;;) {
    const next = Math.min(
      Date.parse(s.nextSyncAt),
      Date.parse(s.nextCommandsAt),
      Date.parse(s.nextHeartbeatAt),
      s.nextWorkerStatsAt ? Date.parse(s.nextWorkerStatsAt) : Number.POSITIVE_INFINITY,
      s.nextMonitorExportAt ? Date.parse(s.nextMonitorExportAt) : Number.POSITIVE_INFINITY,
    );
    await condition(() => reload, Math.max(next - Date.now(), 1));
    if (reload || due(s.nextSyncAt)) {
      reload = false;
      try {
        s.lastSync = { ...(await central.syncQueues({ harvesterID })), at: nowIso() };
      } catch (err) {
        log.error('queue sync failed', { error: (err as Error).message });
      }
      s.nextSyncAt = after(input.queueSyncIntervalSeconds);
    }
    if (due(s.nextCommandsAt)) {
      try {
        const r = await central.processPandaCommands({ harvesterID });
        s.commandsApplied += r.applied;
        s.lastCommands = { ...r, at: nowIso() };
      } catch (err) {
        log.warn('PanDA command cycle failed; retried next cycle', { error: (err as Error).message });
      }
      s.nextCommandsAt = after(input.commandIntervalSeconds);
    }
    if (due(s.nextHeartbeatAt)) {
      await central.pandaInstanceHeartbeat({ harvesterID }).catch(() => false);
      s.nextHeartbeatAt = after(input.pandaHeartbeatIntervalSeconds);
    }
    if (s.nextWorkerStatsAt && due(s.nextWorkerStatsAt)) {
      try {
        const r = await periodic.reportWorkerStats({ harvesterID, metricsSince: s.metricsPushedUpTo });
        s.metricsPushedUpTo = r.metricsPushedUpTo;
        s.lastWorkerStats = { ...r, at: nowIso() };
      } catch (err) {
        log.warn('worker statistics cycle failed; retried next cycle', { error: (err as Error).message });
      }
      s.nextWorkerStatsAt = after(statsInterval);
    }
    if (s.nextMonitorExportAt && due(s.nextMonitorExportAt)) {
      try {
        const r = await monitorExport.exportMonitoringData({ harvesterID });
        s.monitorRowsExported = (s.monitorRowsExported ?? 0) + r.rowsExported;
        s.lastMonitorExport = { ...r, at: nowIso() };
      } catch (err) {
        log.warn('monitoring export failed; retried next cycle', { error: (err as Error).message });
      }
      s.nextMonitorExportAt = after(exportInterval);
    }
    const info = workflowInfo();
    // A run on the main task queue (started before the control queue existed) moves to the
    // control queue after this cycle; replaying its earlier cycles, patched() is false.
    const moving = info.taskQueue !== controlTaskQueue && patched(MOVE_TO_CONTROL_TASK_QUEUE);
    if (moving || info.continueAsNewSuggested) {
      await condition(allHandlersFinished);
      const next: InstanceWorkflowInput = { ...input, controlTaskQueue, state: s };
      if (moving) {
        log.info('moving to the control task queue', { from: info.taskQueue, to: controlTaskQueue });
        return await makeContinueAsNewFunc<typeof instanceWorkflow>({ taskQueue: controlTaskQueue })(next);
      }
      return await continueAsNew<typeof instanceWorkflow>(next);
    }
  }
}
