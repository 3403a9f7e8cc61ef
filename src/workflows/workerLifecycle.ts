/**
 * One worker's whole life as one workflow (Harvester's submitter, monitor, propagator and sweeper
 * steps for that worker):
 *
 *   submitted (normally by the queue's bulk submit; else its own plugin activity) → record →
 *   wait for a status change, a kill or the next timer →
 *   on a change: record in the DB and report to PanDA at once → every heartbeat interval: report →
 *   on a final status: final report at once → keep for keepFinished/Failed/Cancelled/Missed hours →
 *   sweep (retried every sweeper interval until done) → complete.
 *
 * A kill (operator, PanDA, a stuck rule) is retried every sweeper interval until the monitor reports
 * the worker final. A worker whose status cannot be told (the monitor says so, or has been silent
 * past checkTimeout) is killed, and if no final status follows within a sweeper interval it is
 * ended here as cancelled, FAILEDBYSERVER, as Harvester's monitor does (core/stuckRules).
 *
 * The workflow never polls the batch system: the queue's monitor loop makes one bulk status call
 * per cycle and signals only the workers whose status changed, so this history grows with state
 * changes and heartbeats, not with polls. Reports to PanDA go through a sequential in-workflow
 * queue so they arrive in order even across a PanDA outage, while kills keep working meanwhile.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CentralLifecycleActivities } from '../activities/lifecycleCentral';
import type { PilotJobAttributes, ReportKind, SubmissionOutcome } from '../activities/lifecycleTypes';
import type { PluginActivities } from '../activities/plugin';
import { nextHeartbeatAt } from '../core/heartbeatSchedule';
import { validTime } from '../core/monitorDiff';
import {
  HarvesterBatchId,
  HarvesterKillReason,
  HarvesterQueue,
  HarvesterWorkerStatus,
} from '../core/searchAttributes';
import type { WorkSpec } from '../core/specs';
import {
  applyMonitorSilence,
  detectStuck,
  type GiveUpVerdict,
  giveUpDeadline,
  giveUpUnknownWorker,
  KILL_REASONS,
  type UnknownWorkerInput,
} from '../core/stuckRules';
import { applyWorkerStatus, timestampsForStatus } from '../core/transitions';
import { isFinalWorkerStatus, type WorkerStatus } from '../core/workerStatus';
import {
  type KillRequest,
  type KillSource,
  killSignal,
  killUpdate,
  statusChangedSignal,
  statusQuery,
  type WorkerLifecycleInput,
  type WorkerLifecycleState,
  type WorkerStatusReport,
} from './workerMessages';

const KILL_SOURCES: readonly KillSource[] = KILL_REASONS;

/** Error type a plugin activity throws for Harvester's False (permanent failure): never retried. */
const PERMANENT_PLUGIN_FAILURE = 'PermanentPluginFailure';

/*
 * The central activities (harvester DB, PanDA) are LOCAL activities: they run in this worker's
 * process, beside the workflow, and leave one marker in the history instead of a task round trip
 * through the server (scheduled, started, completed, and the workflow task after it). That halves
 * the server's work per lifecycle (the dev server and a small cluster are bound by it) and the
 * history per heartbeat. They stay short: the report batcher holds a call at most 5 s, and a
 * PanDA outage is retried with growing backoff that the SDK turns into timers past a minute.
 * Plugin activities stay normal activities: they may run on an edge node's task queue.
 */
const central = proxyLocalActivities<CentralLifecycleActivities>({
  startToCloseTimeout: '1 minute',
  // DB writes: wait out a database restart rather than lose the record.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

const panda = proxyLocalActivities<CentralLifecycleActivities>({
  // Harvester's pandacon timeout is 180 s; a bulk call shares the window with its batch mates.
  startToCloseTimeout: '4 minutes',
  // Reports are retried until PanDA takes them: a heartbeat is never dropped, only delayed.
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
  // Waits between retries longer than this are timers, not a held workflow task: while PanDA is
  // down, the worker's workflow-task slots stay free for the queues and for kills.
  localRetryThreshold: '10 seconds',
});

/**
 * The safety check's DB question (how long the queue's monitor has been silent) is worth a few
 * tries, not a blocked worker: a failed check is skipped and asked again a safety interval later.
 */
const safetyCheck = proxyLocalActivities<CentralLifecycleActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** The message of an activity failure: the activity's own error, not "Activity task failed". */
function failureMessage(err: unknown): string {
  return (err as { cause?: Error }).cause?.message ?? (err as Error).message;
}

function validateKillRequest(k: unknown): asserts k is KillRequest {
  if (typeof k !== 'object' || k === null) throw new Error('kill: expected an object like {"reason": "why"}');
  const r = k as Record<string, unknown>;
  if (typeof r.reason !== 'string' || r.reason.trim() === '') {
    throw new Error('kill: field "reason" must be a non-empty string, e.g. {"reason": "stuck pilot"}');
  }
  if (r.reason.length > 500) throw new Error('kill: field "reason" is longer than 500 characters');
  if (r.source !== undefined && !KILL_SOURCES.includes(r.source as KillSource)) {
    throw new Error(
      `kill: field "source" must be one of ${KILL_SOURCES.join(', ')} (got ${JSON.stringify(r.source)})`,
    );
  }
}

function initialState(worker: WorkSpec): WorkerLifecycleState {
  return {
    worker: { ...worker, status: 'pending' },
    phase: 'submitting',
    lastCheckedAt: new Date(Date.now()).toISOString(),
    monitorCheckedAt: new Date(Date.now()).toISOString(),
    statusUnknown: false,
    heartbeatsSent: 0,
    reportsSent: 0,
    pendingReports: 0,
  };
}

export async function workerLifecycleWorkflow(input: WorkerLifecycleInput): Promise<WorkerLifecycleState> {
  const { policy } = input;
  const s: WorkerLifecycleState = input.state ?? initialState(input.worker);
  const workerLabel = `worker ${policy.queueName}/${s.worker.workerID}`;

  const plugin = proxyActivities<PluginActivities>({
    taskQueue: policy.pluginTaskQueue,
    startToCloseTimeout: '5 minutes',
    // Plugin activities heartbeat while they run: a dead edge process is noticed in seconds.
    heartbeatTimeout: '20 seconds',
    retry: {
      initialInterval: '10 seconds',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      maximumAttempts: 5,
      nonRetryableErrorTypes: [PERMANENT_PLUGIN_FAILURE],
    },
  });
  const pluginCall = {
    params: policy.submitter,
    harvesterID: policy.harvesterID,
    queueName: policy.queueName,
  };

  // ---- messages -------------------------------------------------------------------------------
  const inbox: WorkerStatusReport[] = [];
  // A kill carried over continue-as-new before its first attempt is still due (the loop below does
  // not continue as new with one due, but the state alone must say what is pending).
  let killAttemptDue = s.kill !== undefined && s.kill.attempts === 0;

  function requestKill(k: KillRequest): void {
    if (isFinalWorkerStatus(s.worker.status)) return;
    if (s.kill) return; // first reason wins, like Harvester's killTime (set only when NULL)
    s.kill = {
      reason: k.reason,
      source: k.source ?? 'operator',
      requestedAt: new Date(Date.now()).toISOString(),
      attempts: 0,
    };
    killAttemptDue = true;
    log.info('kill requested', { workerID: s.worker.workerID, reason: k.reason, source: s.kill.source });
  }

  setHandler(statusChangedSignal, (report) => {
    inbox.push(report);
  });
  setHandler(killSignal, (k) => {
    try {
      validateKillRequest(k);
    } catch (err) {
      // A signal cannot be refused; a malformed one is logged and dropped, never half-applied.
      log.warn('malformed kill signal ignored', { error: (err as Error).message });
      return;
    }
    requestKill(k);
  });
  setHandler(
    killUpdate,
    (k) => {
      requestKill(k);
      return { accepted: true, status: s.worker.status };
    },
    {
      validator: (k) => {
        validateKillRequest(k);
        if (isFinalWorkerStatus(s.worker.status)) {
          throw new Error(`${workerLabel} is already ${s.worker.status}: nothing to kill`);
        }
      },
    },
  );
  setHandler(statusQuery, () => ({
    ...s,
    queueName: policy.queueName,
    workflowHistoryLength: workflowInfo().historyLength,
  }));

  // ---- reports to PanDA: sequential, in order, retried until delivered -------------------------
  type RecordEvent = 'submitted' | 'missed' | 'status';
  const reportQueue: Array<{
    kind: ReportKind;
    worker: WorkSpec;
    dueAt?: string;
    record?: RecordEvent;
    jobAttributes?: PilotJobAttributes;
  }> = [];
  let reporterRunning = false;

  function enqueueReport(
    kind: ReportKind,
    dueAt?: string,
    record?: RecordEvent,
    jobAttributes?: PilotJobAttributes,
  ): void {
    reportQueue.push({ kind, worker: { ...s.worker }, dueAt, record, jobAttributes });
    s.pendingReports = reportQueue.length;
    if (!reporterRunning) void runReporter();
  }

  async function runReporter(): Promise<void> {
    reporterRunning = true;
    try {
      while (reportQueue.length > 0) {
        const next = reportQueue[0];
        const result = await panda.reportWorker({
          worker: next.worker,
          kind: next.kind,
          dueAt: next.dueAt,
          record: next.record,
          jobAttributes: next.jobAttributes,
          policy: {
            truePilot: policy.truePilot,
            noHeartbeat: policy.noHeartbeat,
            mapType: policy.mapType,
            queueName: policy.queueName,
            harvesterID: policy.harvesterID,
          },
        });
        reportQueue.shift();
        s.pendingReports = reportQueue.length;
        s.reportsSent++;
        if (next.kind === 'heartbeat') s.heartbeatsSent++;
        if (result.killRequested) requestKill({ reason: result.detail, source: 'panda_tobekilled' });
        noteMonitorSilence(result.monitorSilentSeconds);
      }
    } finally {
      reporterRunning = false;
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------
  function nowIso(): string {
    return new Date(Date.now()).toISOString();
  }

  /**
   * How long the queue's monitor has been silent: each report brings it, and the safety check asks
   * between reports (core/stuckRules applyMonitorSilence decides what it means for this worker).
   */
  function noteMonitorSilence(silentSeconds: number | undefined): void {
    s.monitorCheckedAt = nowIso();
    const next = applyMonitorSilence(
      { statusUnknown: s.statusUnknown, monitorSilent: s.monitorSilent, lastCheckedAt: s.lastCheckedAt },
      silentSeconds,
      new Date(Date.now()),
      policy.stuck.checkTimeoutSeconds,
    );
    s.statusUnknown = next.statusUnknown;
    s.monitorSilent = next.monitorSilent;
    s.lastCheckedAt = next.lastCheckedAt;
  }

  /** The safety timer's check: due when no report asked for safetyCheckSeconds (see nextWakeMs). */
  function safetyCheckDueAt(): number | undefined {
    if (!(policy.stuck.checkTimeoutSeconds > 0)) return undefined;
    return Date.parse(s.monitorCheckedAt ?? s.lastCheckedAt) + policy.safetyCheckSeconds * 1000;
  }

  async function checkMonitorSilence(): Promise<void> {
    try {
      const r = await safetyCheck.monitorSilence({ queueName: policy.queueName });
      noteMonitorSilence(r.monitorSilentSeconds);
    } catch (err) {
      // Asked again a safety interval later; the reports meanwhile bring the same answer.
      s.monitorCheckedAt = nowIso();
      log.warn('safety check of the queue monitor failed', {
        workerID: s.worker.workerID,
        queueName: policy.queueName,
        error: failureMessage(err),
      });
    }
  }

  function unknownWorker(): UnknownWorkerInput {
    return {
      status: s.worker.status,
      statusUnknown: s.statusUnknown,
      lastCheckedAt: s.lastCheckedAt,
      kill: s.kill,
    };
  }

  const giveUpLimits = {
    checkTimeoutSeconds: policy.stuck.checkTimeoutSeconds,
    sweeperIntervalSeconds: policy.sweeperIntervalSeconds,
  };

  /**
   * Harvester's monitor ends a worker it could not check for checkTimeout as cancelled,
   * FAILEDBYSERVER: the kill was asked for and had its sweeper interval, and nothing says the worker
   * ended. Reported to PanDA as final like any end; the keep/sweep path follows.
   */
  async function giveUp(verdict: GiveUpVerdict): Promise<void> {
    log.warn('worker given up: status unknown and the kill not confirmed', {
      workerID: s.worker.workerID,
      queueName: policy.queueName,
      detail: verdict.detail,
    });
    await setStatus(verdict.status, { diagMessage: verdict.detail, errorCode: verdict.errorCode });
  }

  function publish(): void {
    upsertSearchAttributes([
      { key: HarvesterWorkerStatus, value: s.worker.status },
      ...(s.worker.batchID ? [{ key: HarvesterBatchId, value: s.worker.batchID }] : []),
      ...(s.kill ? [{ key: HarvesterKillReason, value: s.kill.source }] : []),
    ]);
    upsertMemo({ queue: policy.queueName, batchID: s.worker.batchID ?? null, status: s.worker.status });
  }

  function scheduleHeartbeat(fromMs: number): void {
    s.nextHeartbeatAt = new Date(
      nextHeartbeatAt({
        fromMs,
        intervalSeconds: policy.heartbeatIntervalSeconds,
        workerID: s.worker.workerID,
        queueName: policy.queueName,
      }),
    ).toISOString();
  }

  /** Push mode: the worker carries PanDA jobs and a messenger to read the pilot's reports from. */
  const hasPushJobs = (): boolean =>
    policy.mapType !== 'NoJob' && policy.messenger !== undefined && (s.worker.pandaIDs?.length ?? 0) > 0;

  /**
   * Push mode, once per worker at its final status (never per poll): what the pilot reported
   * (jobStatus, metaData, output files). A report that cannot be read must not hold up the final
   * report: the jobs are then reported from the worker's status alone, as Harvester does.
   */
  async function readPilotReports(): Promise<PilotJobAttributes | undefined> {
    try {
      return await plugin.getWorkAttributes({ ...pluginCall, params: policy.messenger!, worker: s.worker });
    } catch (err) {
      log.warn('pilot reports not readable; jobs reported from the worker status', {
        workerID: s.worker.workerID,
        error: (err as Error).message,
      });
      return undefined;
    }
  }

  async function setStatus(
    status: WorkerStatus,
    fields: Partial<WorkSpec>,
    batchTimes: { startTime?: string; endTime?: string } = {},
  ): Promise<boolean> {
    const decision = applyWorkerStatus(s.worker.status, status);
    if (!decision.changed) return false;
    const stamps = timestampsForStatus(s.worker, decision.status, new Date(Date.now()));
    // When the batch system says when the job started or ended, that is what PanDA hears (the
    // monitor notices a cycle later); a job seen only after it ended still gets its start time.
    const started = validTime(batchTimes.startTime);
    const ended = validTime(batchTimes.endTime);
    if (stamps.startTime && started) stamps.startTime = started;
    if (stamps.endTime && ended) stamps.endTime = ended;
    if (stamps.endTime && !s.worker.startTime && started) stamps.startTime = started;
    s.worker = { ...s.worker, ...fields, ...stamps, status: decision.status };
    publish();
    const final = isFinalWorkerStatus(decision.status);
    const jobAttributes = final && hasPushJobs() ? await readPilotReports() : undefined;
    enqueueReport(final ? 'final' : 'change', undefined, 'status', jobAttributes);
    return true;
  }

  async function attemptKill(): Promise<void> {
    const kill = s.kill!;
    kill.attempts++;
    kill.lastAttemptAt = nowIso();
    try {
      const [result] = await plugin.killWorkers({
        ...pluginCall,
        params: policy.sweeper,
        workers: [s.worker],
      });
      kill.lastResult = result.outcome === 'success' ? 'kill sent' : `kill failed: ${result.diag}`;
    } catch (err) {
      kill.lastResult = `kill failed: ${(err as Error).message}`;
    }
    if (kill.attempts === 1) {
      await central.recordWorker({
        worker: s.worker,
        event: 'kill-requested',
        killReason: `${kill.source}: ${kill.reason}`,
      });
      publish();
    }
  }

  /** The newest conclusive report of this wake-up; older ones in the same batch are superseded. */
  let lastConclusive: WorkerStatusReport | undefined;

  function applyReportToFlags(report: WorkerStatusReport): void {
    // Late binding: the jobs given to the worker, whether or not its status changes with them.
    if (report.pandaIDs && report.pandaIDs.length > 0)
      s.worker = { ...s.worker, pandaIDs: [...report.pandaIDs] };
    // The queue's monitor found the pilot's heartbeat file too old (messenger worker_heartbeat).
    if (report.lostHeartbeat) requestKill({ reason: report.lostHeartbeat, source: 'lost_heartbeat' });
    if (report.status === null) {
      s.statusUnknown = true;
      s.monitorSilent = false;
      return;
    }
    s.statusUnknown = false;
    s.monitorSilent = false;
    // Workflow time, not the monitor host's clock: every deadline here is measured in one clock.
    s.lastCheckedAt = nowIso();
    const held = (report.nativeStatus ?? '').toLowerCase() === 'held';
    if (held && !s.heldSince) s.heldSince = nowIso();
    if (!held) s.heldSince = undefined;
    lastConclusive = report;
  }

  /**
   * The next moment something is due without news: a heartbeat, the safety check of the monitor,
   * a kill retry, giving the worker up, or a stuck deadline.
   */
  function nextWakeMs(): number {
    const times: number[] = [];
    if (s.nextHeartbeatAt) times.push(Date.parse(s.nextHeartbeatAt));
    // Heartbeats ask the monitor's silence too, but may be rarer than checkTimeout: the safety
    // timer runs beside them (a heartbeat resets it), so a dead monitor is noticed in time.
    const safetyAt = safetyCheckDueAt();
    if (safetyAt !== undefined) times.push(safetyAt);
    if (s.kill?.lastAttemptAt)
      times.push(Date.parse(s.kill.lastAttemptAt) + policy.sweeperIntervalSeconds * 1000);
    const giveUpAt = giveUpDeadline(unknownWorker(), giveUpLimits);
    if (giveUpAt !== null) times.push(giveUpAt);
    if (!s.kill) {
      const limits = policy.stuck;
      if (s.statusUnknown && limits.checkTimeoutSeconds > 0) {
        times.push(Date.parse(s.lastCheckedAt) + limits.checkTimeoutSeconds * 1000 + 1000);
      }
      if (s.heldSince && limits.heldTimeoutSeconds > 0) {
        times.push(Date.parse(s.heldSince) + limits.heldTimeoutSeconds * 1000 + 1000);
      }
      if (s.worker.status === 'submitted' && s.worker.submitTime && limits.workerQueueTimeLimitSeconds > 0) {
        times.push(Date.parse(s.worker.submitTime) + limits.workerQueueTimeLimitSeconds * 1000 + 1000);
      }
    }
    return times.length > 0 ? Math.min(...times) : Date.now() + policy.safetyCheckSeconds * 1000;
  }

  /**
   * Harvester's sweeper cleans a worker up in each of its cycles until that succeeds; so does this,
   * a sweeper interval apart on a durable timer. A sweep that failed past its activity's retries (an
   * edge worker away, a file system down, a sweeper that cannot be loaded where it runs) never fails
   * the workflow: the DB row would stay live and nothing would ever sweep it again.
   * A permanent failure (the plugin's own answer that retrying cannot help, Harvester's False) is
   * recorded and the worker marked swept anyway: retrying it would keep a workflow and a live row
   * open forever for leftovers only an operator can remove, and the diagnostic (in the workflow's
   * result and the log) tells them what is left and where.
   */
  async function sweepUntilDone(): Promise<void> {
    for (;;) {
      const sweep = s.sweep ?? { attempts: 0 };
      s.sweep = sweep;
      sweep.attempts++;
      sweep.lastAttemptAt = nowIso();
      try {
        const result = await plugin.sweepWorker({ ...pluginCall, params: policy.sweeper, worker: s.worker });
        sweep.outcome = result.outcome === 'success' ? 'success' : 'permanentFailure';
        if (result.outcome !== 'success') {
          sweep.lastError = `sweeper ${policy.sweeper.name} failed for good, worker marked swept anyway: ${result.diag}`;
          log.warn('sweep failed permanently; worker marked swept, leftovers stay', {
            workerID: s.worker.workerID,
            queueName: policy.queueName,
            diag: result.diag,
          });
        }
        return;
      } catch (err) {
        sweep.lastError = `sweeper ${policy.sweeper.name}: ${failureMessage(err)}`;
        log.warn('sweep failed; tried again after the sweeper interval', {
          workerID: s.worker.workerID,
          queueName: policy.queueName,
          attempts: sweep.attempts,
          error: sweep.lastError,
        });
      }
      await sleep(policy.sweeperIntervalSeconds * 1000);
      // A sweep failing for days must not outgrow the history: the next run goes on sweeping.
      if (workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof workerLifecycleWorkflow>({
          worker: s.worker,
          policy,
          state: s,
          continueAsNewAfterEvents: input.continueAsNewAfterEvents,
        });
      }
    }
  }

  // ---- 1. submit -------------------------------------------------------------------------------
  /**
   * The worker submits itself (started directly, or the queue's bulk submit failed): push-mode
   * jobs go into the access point first (Harvester: setup_access_points + feed_jobs before
   * submit_workers); a failed feed makes the worker missed, and its jobs with it.
   */
  async function submitItself(): Promise<SubmissionOutcome> {
    try {
      if (input.jobs && input.jobs.length > 0) {
        if (!policy.messenger)
          throw new Error(`push-mode queue ${policy.queueName} has no messenger section`);
        await plugin.feedJobs({
          ...pluginCall,
          params: policy.messenger,
          worker: s.worker,
          jobs: input.jobs,
        });
      }
      const r = await plugin.submitWorker({
        ...pluginCall,
        worker: s.worker,
        lookupFirst: input.lookupBeforeSubmit,
      });
      return { workerID: s.worker.workerID, ...r, outcome: 'success', submittedAt: nowIso() };
    } catch (err) {
      // The activity failure wraps the plugin's own error, whose message is the diagnostic.
      const diag = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      return { workerID: s.worker.workerID, outcome: 'failure', diag };
    }
  }

  if (s.phase === 'submitting') {
    upsertSearchAttributes([{ key: HarvesterQueue, value: policy.queueName }]);
    // Normally the queue has submitted this worker with its cycle's batch (one submit_workers call).
    const outcome = input.submission ?? (await submitItself());
    if (outcome.outcome === 'success') {
      s.worker = {
        ...s.worker,
        batchID: outcome.batchID,
        submissionHost: outcome.submissionHost ?? s.worker.submissionHost,
        computingElement: outcome.computingElement ?? s.worker.computingElement,
        queueName: outcome.queueName ?? s.worker.queueName,
        submitTime: outcome.submittedAt ?? nowIso(),
      };
    }
    s.lastCheckedAt = nowIso();
    if (outcome.outcome === 'success') {
      s.worker.status = 'submitted';
      enqueueReport('change', undefined, 'submitted');
    } else {
      s.worker = { ...s.worker, status: 'missed', diagMessage: outcome.diag, endTime: nowIso() };
      enqueueReport('final', undefined, 'missed');
    }
    publish();
    s.phase = 'active';
    scheduleHeartbeat(Date.now());
  }

  // ---- 2. watch: status changes, kills, heartbeats, stuck rules --------------------------------
  while (s.phase === 'active' && !isFinalWorkerStatus(s.worker.status)) {
    await condition(() => inbox.length > 0 || killAttemptDue, Math.max(nextWakeMs() - Date.now(), 1000));

    for (const report of inbox.splice(0)) applyReportToFlags(report);
    const latest = lastConclusive;
    lastConclusive = undefined;
    if (latest?.status) {
      await setStatus(
        latest.status,
        {
          diagMessage: latest.diag ?? s.worker.diagMessage,
          nativeStatus: latest.nativeStatus ?? s.worker.nativeStatus,
          nativeExitCode: latest.nativeExitCode ?? s.worker.nativeExitCode,
          errorCode: latest.errorCode ?? s.worker.errorCode,
          nodeID: latest.nodeID ?? s.worker.nodeID,
        },
        { startTime: latest.startTime, endTime: latest.endTime },
      );
    }
    if (isFinalWorkerStatus(s.worker.status)) break;

    const heartbeatDue = s.nextHeartbeatAt !== undefined && Date.now() >= Date.parse(s.nextHeartbeatAt);
    const safetyAt = safetyCheckDueAt();
    // A heartbeat due now asks the same question with its report.
    if (!heartbeatDue && safetyAt !== undefined && Date.now() >= safetyAt) await checkMonitorSilence();

    const verdict = giveUpUnknownWorker(unknownWorker(), new Date(Date.now()), giveUpLimits);
    if (verdict) {
      await giveUp(verdict);
      break;
    }

    if (s.kill) {
      const retryDue =
        s.kill.lastAttemptAt !== undefined &&
        Date.now() >= Date.parse(s.kill.lastAttemptAt) + policy.sweeperIntervalSeconds * 1000;
      if (killAttemptDue || retryDue) {
        killAttemptDue = false;
        await attemptKill();
      }
    }

    if (heartbeatDue && s.nextHeartbeatAt) {
      s.lastHeartbeatAt = nowIso();
      enqueueReport('heartbeat', s.nextHeartbeatAt);
      scheduleHeartbeat(Date.now());
    }

    if (!s.kill) {
      const stuck = detectStuck(
        {
          status: s.worker.status,
          submitTime: s.worker.submitTime,
          startTime: s.worker.startTime,
          lastCheckedAt: s.lastCheckedAt,
          statusUnknown: s.statusUnknown,
          heldSince: s.heldSince,
        },
        new Date(Date.now()),
        {
          workerQueueTimeLimitSeconds: policy.stuck.workerQueueTimeLimitSeconds,
          heldTimeoutSeconds: policy.stuck.heldTimeoutSeconds,
          checkTimeoutSeconds: policy.stuck.checkTimeoutSeconds,
        },
      );
      if (stuck) requestKill({ reason: stuck.detail, source: stuck.reason });
    }

    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength >= (input.continueAsNewAfterEvents ?? Infinity)) {
      await condition(() => reportQueue.length === 0 && allHandlersFinished());
      if (inbox.length === 0 && !killAttemptDue) {
        return await continueAsNew<typeof workerLifecycleWorkflow>({
          worker: s.worker,
          policy,
          state: s,
          continueAsNewAfterEvents: input.continueAsNewAfterEvents,
        });
      }
    }
  }

  // ---- 3. final: report at once, keep, sweep ---------------------------------------------------
  if (s.phase === 'active') {
    s.phase = 'reporting-final';
    await condition(() => reportQueue.length === 0);
    const keepHours =
      policy.keepHours[s.worker.status as keyof typeof policy.keepHours] ?? policy.keepHours.failed;
    s.sweepAfter = new Date(Date.parse(s.worker.endTime ?? nowIso()) + keepHours * 3600 * 1000).toISOString();
    s.phase = 'keeping';
  }
  if (s.phase === 'keeping') {
    const waitMs = Date.parse(s.sweepAfter!) - Date.now();
    if (waitMs > 0) await sleep(waitMs);
    s.phase = 'sweeping';
  }
  if (s.phase === 'sweeping') {
    await sweepUntilDone();
    await central.recordWorker({ worker: s.worker, event: 'swept' });
    s.phase = 'done';
  }
  await condition(allHandlersFinished);
  return s;
}
