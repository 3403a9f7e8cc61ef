/**
 * One workflow per (harvester instance, PanDA queue): Harvester's submitter cycle (worker
 * adjuster), the bulk monitor and the queue's pause/drain controls.
 *
 * - Monitor cycle: ONE status query through the monitor plugin for all live workers of the queue,
 *   compared with the last known states; only the workers whose state changed are signalled.
 * - Submitter cycle: counts from the DB, demand from PanDA, the adjuster decides n; workers are
 *   created as `pending` rows and their lifecycle workflows started through an activity (not as
 *   children: a queue can have more live workers than one execution may hold).
 * - Fail closed: a failed status query makes the counts unknown, never zero; nothing is submitted
 *   until a query succeeds again, and after K failures in a row the queue pauses itself.
 */

import type { RetryPolicy } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  makeContinueAsNewFunc,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { PackedOutcomes, SubmissionOutcome } from '../activities/lifecycleTypes';
import type { PluginActivities } from '../activities/plugin';
import type { QueueCentralActivities, SubmissionPlan, SubmitQueueStep } from '../activities/queueCentral';
import { idRanges } from '../core/compactRecords';
import { HarvesterInstance, HarvesterQueue, HarvesterQueueState } from '../core/searchAttributes';
import { controlTaskQueueFor, MOVE_TO_CONTROL_TASK_QUEUE } from '../core/taskQueues';
import {
  adjustNowSignal,
  drainUpdate,
  LIMIT_OVERRIDE_FIELDS,
  type PauseRequest,
  pauseUpdate,
  type QueueLimitOverrides,
  type QueueWorkflowInput,
  type QueueWorkflowState,
  queueStateQuery,
  resumeUpdate,
  setLimitsUpdate,
  settingsSignal,
  stopQueueSignal,
} from './queueMessages';

// The central activities name no task queue: they run on this workflow's, the control task queue,
// so a cycle's steps never wait behind the lifecycles' activities on the main one (core/taskQueues).
const central = proxyActivities<QueueCentralActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
});

/**
 * The steps around a bulk submission. Preparing may wait for PanDA's acquire_jobs (its timeout is
 * 180 s), so it gets more than that. Starting the lifecycles must not give up: the batch jobs exist
 * by then and only this step records them, so it is retried until the DB and the server take it
 * (it is idempotent), however long they are away.
 */
const submitSteps = proxyActivities<QueueCentralActivities>({
  startToCloseTimeout: '5 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});
/**
 * A monitor cycle's central steps: paging a 20,000-worker queue and its status queries take longer
 * than the quick DB steps, and they heartbeat per page and during each query, so a dead central
 * worker is noticed in a minute. Two attempts: a cycle that fails again is a failed cycle (counts
 * unknown), and the next one starts afresh.
 */
const monitorSteps = proxyActivities<QueueCentralActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 2,
  },
});
/**
 * The central submitter step (submitQueueWorkers): PanDA's acquire_jobs (up to 180 s) and a bulk
 * submit of up to maxNewWorkers (1,000) workers, heartbeating, so a dead central worker is noticed
 * in a minute and the retry (which looks every worker up first) runs elsewhere. A config naming an
 * unknown plugin is not retried: its workers go to the fallback and report the plugin's error.
 */
const submitStep = proxyActivities<QueueCentralActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 3,
    nonRetryableErrorTypes: ['PluginConfigError'],
  },
});
/**
 * Queue histories recorded before the one-activity submission hold prepareWorkers → submitWorkers
 * → startWorkers; they replay that sequence (test/fixtures/histories/queue-submit-v1.json).
 */
const SUBMIT_IN_ONE_ACTIVITY = 'submit-in-one-activity';
const recordSubmitted = proxyActivities<QueueCentralActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/**
 * Plugin activities on the queue's plugin task queue (an edge node's or the central one). They
 * heartbeat while they run, so a dead edge process is noticed in seconds, not at the timeout.
 */
function pluginActivities(taskQueue: string, startToCloseTimeout: string, retry: RetryPolicy) {
  return proxyActivities<PluginActivities>({
    taskQueue,
    startToCloseTimeout,
    heartbeatTimeout: '20 seconds',
    retry: { initialInterval: '5 seconds', ...retry },
  });
}

/** Largest value accepted for a limit: far above any real queue, low enough to catch typos. */
const MAX_LIMIT_VALUE = 1_000_000;

function validateReason(r: unknown, what: string): void {
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof (r as PauseRequest).reason !== 'string' ||
    !(r as PauseRequest).reason.trim()
  ) {
    throw new Error(`${what}: expected {"reason": "<why>"} with a non-empty reason`);
  }
}

/** Why a settings signal cannot be applied, or undefined when it can. */
function settingsProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null) return 'expected an object';
  const v = x as Record<string, unknown>;
  for (const key of ['submitterIntervalSeconds', 'monitorIntervalSeconds', 'maxConsecutiveMonitorFailures']) {
    const n = v[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
      return `${key} must be a whole number >= 1, got ${JSON.stringify(n)}`;
  }
  if (typeof v.autoResumeAfterMonitorRecovery !== 'boolean')
    return `autoResumeAfterMonitorRecovery must be true or false, got ${JSON.stringify(v.autoResumeAfterMonitorRecovery)}`;
  return undefined;
}

export function validateLimitOverrides(o: unknown): asserts o is QueueLimitOverrides {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) {
    throw new Error(`setLimits: expected an object with any of ${LIMIT_OVERRIDE_FIELDS.join(', ')}`);
  }
  const entries = Object.entries(o);
  if (entries.length === 0)
    throw new Error(`setLimits: give at least one of ${LIMIT_OVERRIDE_FIELDS.join(', ')}`);
  for (const [field, value] of entries) {
    if (!(LIMIT_OVERRIDE_FIELDS as readonly string[]).includes(field)) {
      throw new Error(
        `setLimits: unknown field "${field}"; expected one of ${LIMIT_OVERRIDE_FIELDS.join(', ')}`,
      );
    }
    if (
      value !== null &&
      (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_LIMIT_VALUE)
    ) {
      throw new Error(
        `setLimits: field "${field}" must be an integer from 0 to ${MAX_LIMIT_VALUE} (0 = no limit) or null (back to the config's value), got ${JSON.stringify(value)}`,
      );
    }
  }
}

export async function queueWorkflow(input: QueueWorkflowInput): Promise<QueueWorkflowState> {
  const { harvesterID, queueName } = input;
  const controlTaskQueue = controlTaskQueueFor(input, workflowInfo().taskQueue);
  let settings = input.settings;
  const nowIso = () => new Date(Date.now()).toISOString();
  const s: QueueWorkflowState = input.state ?? {
    mode: 'running',
    limitOverrides: {},
    countsKnown: false,
    consecutiveMonitorFailures: 0,
    unknownCount: 0,
    edgeMirrors: {},
    nextSubmitAt: nowIso(),
    nextMonitorAt: nowIso(),
    adjustNow: false,
    totals: {
      submitCycles: 0,
      monitorCycles: 0,
      workersStarted: 0,
      signalsSent: 0,
      statusCalls: 0,
      edgeResyncs: 0,
    },
  };
  // Runs before these fields were carried start without them.
  s.adjustNow ??= false;
  s.unknownCount ??= 0;
  s.edgeMirrors ??= {};
  s.totals.edgeResyncs ??= 0;
  /**
   * True while a submitter cycle is between its plan and the end of its lifecycle starts. Pause and
   * drain wait for it: a cycle already under way would otherwise start workers after the operator
   * was told the queue is paused (the update returned before the in-flight starts finished).
   */
  let submitting = false;

  function publishState(): void {
    const label = s.mode === 'paused' && s.pausedBy === 'monitor' ? 'paused-by-failures' : s.mode;
    upsertSearchAttributes([
      { key: HarvesterQueue, value: queueName },
      { key: HarvesterInstance, value: harvesterID },
      { key: HarvesterQueueState, value: label },
    ]);
  }

  setHandler(
    pauseUpdate,
    async (r) => {
      s.mode = 'paused';
      s.pausedBy = 'operator';
      s.pauseReason = r.reason;
      publishState();
      log.info('queue paused by operator', { queueName, reason: r.reason });
      // Return only once nothing more will be started (see `submitting`).
      await condition(() => !submitting);
      return s;
    },
    { validator: (r) => validateReason(r, 'pause') },
  );
  setHandler(resumeUpdate, () => {
    s.mode = 'running';
    s.pausedBy = undefined;
    s.pauseReason = undefined;
    s.consecutiveMonitorFailures = 0;
    s.adjustNow = true;
    publishState();
    log.info('queue resumed', { queueName });
    return s;
  });
  setHandler(
    drainUpdate,
    async (r) => {
      s.mode = 'draining';
      s.pausedBy = 'operator';
      s.pauseReason = r.reason;
      publishState();
      await condition(() => !submitting);
      return s;
    },
    { validator: (r) => validateReason(r, 'drain') },
  );
  setHandler(
    setLimitsUpdate,
    (o) => {
      const merged: Record<string, number | null | undefined> = { ...s.limitOverrides, ...o };
      for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
      s.limitOverrides = merged as QueueLimitOverrides;
      s.adjustNow = true;
      return s;
    },
    { validator: validateLimitOverrides },
  );
  setHandler(settingsSignal, (next) => {
    // A signal cannot be refused: a malformed one is logged and changes nothing.
    const problem = settingsProblem(next);
    if (problem) {
      log.warn('settings signal ignored', { queueName, problem });
      return;
    }
    settings = next;
    log.info('queue settings changed', { queueName, settings });
  });
  setHandler(adjustNowSignal, () => {
    s.adjustNow = true;
  });
  setHandler(stopQueueSignal, (r) => {
    s.stopReason = r?.reason ?? 'stopped';
  });
  setHandler(queueStateQuery, () => s);

  const jitter = (seconds: number) => seconds * 1000 * (0.8 + 0.4 * Math.random());

  async function monitorCycle(): Promise<void> {
    s.totals.monitorCycles++;
    // The worker list, the status query, the comparison and the signals stay in activities: only
    // summaries enter this history, so a cycle costs the same at 100 or 20,000 workers.
    const summary = await monitorSteps.monitorQueue({ harvesterID, queueName });
    const cycle = { ok: summary.ok, error: summary.error, unknownCount: summary.unknownCount };
    s.totals.statusCalls += summary.statusCalls;
    s.totals.signalsSent += summary.signalled;
    for (const taskQueue of summary.edgeTaskQueues) {
      try {
        const edge = await monitorEdgeQueue(taskQueue);
        cycle.unknownCount += edge.unknownCount;
        if (!edge.ok) {
          cycle.ok = false;
          cycle.error = edge.error;
        }
      } catch (err) {
        cycle.ok = false;
        cycle.error = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      }
    }
    s.unknownCount = cycle.unknownCount;
    await central.recordMonitorCycle({ harvesterID, queueName, ok: cycle.ok, error: cycle.error });
    if (cycle.ok) {
      s.countsKnown = true;
      s.consecutiveMonitorFailures = 0;
      s.lastMonitorOkAt = nowIso();
      s.lastMonitorError = undefined;
      if (s.mode === 'paused' && s.pausedBy === 'monitor' && settings.autoResumeAfterMonitorRecovery) {
        s.mode = 'running';
        s.pausedBy = undefined;
        s.pauseReason = undefined;
        publishState();
        log.info('batch system answers again: queue resumed', { queueName });
      }
      return;
    }
    monitorFailed(cycle.error);
  }

  /**
   * The monitor of the configs whose plugins run on an edge task queue: the edge keeps a mirror of
   * their live workers (core/edgeMirror) and is sent the rows changed since the sequence it last
   * applied; it runs the bulk query and returns only the changes, which are recorded and signalled
   * centrally. A mirror that does not fit (a new or restarted edge host) is rebuilt from 0, once.
   */
  async function monitorEdgeQueue(
    taskQueue: string,
  ): Promise<{ ok: boolean; error: string; unknownCount: number }> {
    const edge = pluginActivities(taskQueue, '5 minutes', { maximumAttempts: 2 });
    let sync = s.edgeMirrors[taskQueue] ?? { mirrorID: uuid4(), seq: 0 };
    let horizon: number | undefined;
    let resynced = false;
    for (;;) {
      const page = await monitorSteps.edgeMonitorDelta({
        harvesterID,
        queueName,
        taskQueue,
        afterSeq: sync.seq,
        horizon,
      });
      horizon = page.horizon;
      const reply = await edge.monitorEdgeQueue({
        harvesterID,
        queueName,
        mirrorID: sync.mirrorID,
        delta: page.delta,
        check: page.complete,
      });
      if (reply.resync) {
        if (resynced) throw new Error(`edge mirror on ${taskQueue} refused a full sync`);
        resynced = true;
        s.totals.edgeResyncs++;
        log.info('edge monitor mirror out of step: full resync', { queueName, taskQueue });
        sync = { mirrorID: uuid4(), seq: 0 };
        horizon = undefined;
        s.edgeMirrors[taskQueue] = sync;
        continue;
      }
      sync = { mirrorID: sync.mirrorID, seq: page.toSeq };
      s.edgeMirrors[taskQueue] = sync;
      if (!page.complete) continue;
      s.totals.statusCalls += reply.statusCalls;
      if (!reply.ok) return { ok: false, error: reply.diag || 'monitor reported failure', unknownCount: 0 };
      if (reply.changes && reply.changed > 0) {
        const applied = await monitorSteps.applyMonitorChanges({
          harvesterID,
          queueName,
          changes: reply.changes,
        });
        s.totals.signalsSent += applied.signalled;
      }
      return { ok: true, error: '', unknownCount: reply.unknownCount };
    }
  }

  /**
   * A monitor cycle without an answer (the batch system's, or the DB's for the list of workers):
   * counts are unknown, so nothing is submitted; after K in a row the queue pauses itself, visibly.
   */
  function monitorFailed(error: string): void {
    s.countsKnown = false;
    s.consecutiveMonitorFailures++;
    s.lastMonitorError = error;
    log.warn('bulk status query failed: worker counts unknown, no submission', {
      queueName,
      failures: s.consecutiveMonitorFailures,
      error,
    });
    if (s.consecutiveMonitorFailures >= settings.maxConsecutiveMonitorFailures && s.mode === 'running') {
      s.mode = 'paused';
      s.pausedBy = 'monitor';
      s.pauseReason = `paused after ${s.consecutiveMonitorFailures} failed status queries in a row; last error: ${error}`;
      publishState();
      log.error('queue paused itself', { queueName, reason: s.pauseReason });
    }
  }

  /**
   * Harvester's submitter step for the cycle's workers: rows (and push jobs) in the DB, ONE bulk
   * submit_workers call through the queue's plugin, then the lifecycles start past their submit
   * step. For a central queue all of it is one activity and this history holds its summary; for an
   * edge queue the specs cross it once, packed (the common part once, per worker what differs),
   * and the outcomes come back packed. If the bulk call fails past its retries, each lifecycle
   * submits its own worker, looking it up in the batch system first: no worker is lost and none
   * gets two batch jobs.
   */
  async function submitWorkers(plan: SubmissionPlan, ids: number[]): Promise<number> {
    if (!patched(SUBMIT_IN_ONE_ACTIVITY)) return submitWorkersV1(plan, ids);
    // The ids as ranges: a few numbers for the cycle's 1,000 ids (core/compactRecords).
    const workers = { harvesterID, queueName, configID: plan.configID, ids: idRanges(ids) };
    let step: SubmitQueueStep;
    try {
      step = await submitStep.submitQueueWorkers({ ...workers, rows: plan.rows });
    } catch (err) {
      const submitError = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
      log.warn('bulk submission failed: each worker submits itself', { queueName, error: submitError });
      return (await recordSubmitted.startQueueWorkers({ ...workers, submitError })).started;
    }
    if ('done' in step) return step.done.started;
    const plugin = pluginActivities(step.edge.taskQueue, '10 minutes', {
      maximumAttempts: 3,
      nonRetryableErrorTypes: ['PluginConfigError'],
    });
    const outcomes: PackedOutcomes[] = [];
    let submitError: string | undefined;
    for (const submission of step.edge.submissions) {
      try {
        outcomes.push(await plugin.submitPackedWorkers({ harvesterID, queueName, submission }));
      } catch (err) {
        // This chunk's workers submit themselves; the other chunks go on.
        submitError = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
        log.warn('bulk submission failed: each worker submits itself', { queueName, error: submitError });
      }
    }
    return (await recordSubmitted.startQueueWorkers({ ...workers, outcomes, submitError })).started;
  }

  /** The submission sequence of before SUBMIT_IN_ONE_ACTIVITY, for histories that hold it. */
  async function submitWorkersV1(plan: SubmissionPlan, ids: number[]): Promise<number> {
    const prepared = await submitSteps.prepareWorkers({
      harvesterID,
      queueName,
      configID: plan.configID,
      ids,
      rows: plan.rows,
    });
    let submissions: SubmissionOutcome[] | undefined;
    let submitError: string | undefined;
    if (prepared.workers.length > 0) {
      const plugin = pluginActivities(prepared.pluginTaskQueue, '10 minutes', {
        maximumAttempts: 3,
        nonRetryableErrorTypes: ['PluginConfigError'],
      });
      try {
        submissions = await plugin.submitWorkers({
          params: prepared.submitter,
          messenger: prepared.messenger,
          harvesterID,
          queueName,
          workers: prepared.workers,
          jobs: prepared.jobs,
        });
      } catch (err) {
        submitError = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
        log.warn('bulk submission failed: each worker submits itself', { queueName, error: submitError });
      }
    }
    const r = await recordSubmitted.startWorkers({
      harvesterID,
      queueName,
      configID: plan.configID,
      ids: prepared.workers.map((w) => w.workerID),
      submissions,
      submitError,
    });
    return r.started;
  }

  /**
   * Late binding (Harvester: the first nReady chunks reuse ready workers): workers whose pilots
   * asked for work get jobs, written through the messenger; their lifecycles hear they now run them.
   */
  async function bindReadyWorkers(nReady: number): Promise<number> {
    const ready = await submitSteps.prepareReadyWorkers({ harvesterID, queueName, max: nReady });
    if (ready.workers.length === 0) return 0;
    const plugin = pluginActivities(ready.pluginTaskQueue, '5 minutes', { maximumAttempts: 3 });
    const fed = await plugin.feedWorkers({
      params: ready.messenger,
      harvesterID,
      queueName,
      workers: ready.workers,
      jobs: ready.jobs,
    });
    const fedSet = new Set(fed);
    const bindings = ready.workers
      .filter((w) => fedSet.has(w.workerID))
      .map((w) => ({ workerID: w.workerID, pandaIDs: w.pandaIDs ?? [] }));
    // Bound only once the pilot has its jobs: a failed feed leaves the worker ready and the jobs free.
    await central.bindJobs({ bindings });
    const changes = bindings.map((b) => ({
      workerID: b.workerID,
      status: 'running' as const,
      pandaIDs: b.pandaIDs,
    }));
    if (changes.length > 0) await central.signalWorkerChanges({ harvesterID, queueName, changes });
    return changes.length;
  }

  async function submitCycle(): Promise<void> {
    s.totals.submitCycles++;
    if (s.mode !== 'running') {
      s.lastSubmitCycle = {
        at: nowIso(),
        submitted: 0,
        explanation: `no submission: queue ${s.mode} (${s.pauseReason ?? ''})`,
      };
      return;
    }
    if (!s.countsKnown) {
      s.lastSubmitCycle = {
        at: nowIso(),
        submitted: 0,
        explanation: `no submission: worker counts unknown (last status query failed: ${s.lastMonitorError ?? 'not yet checked'})`,
      };
      return;
    }
    submitting = true;
    try {
      const plan = await central.planSubmission({ harvesterID, queueName, overrides: s.limitOverrides });
      if (plan.nReady > 0) {
        try {
          const bound = await bindReadyWorkers(plan.nReady);
          if (bound > 0)
            log.info('jobs given to ready workers (late binding)', { queueName, workers: bound });
        } catch (err) {
          // Ready workers wait for the next cycle; new workers are still made in this one.
          log.warn('jobs for ready workers failed this cycle', { queueName, error: (err as Error).message });
        }
      }
      let started = 0;
      if (plan.total > 0) {
        const ids = await central.allocateWorkerIds({ n: plan.total });
        // A pause or drain may have arrived while planning: then start nothing.
        if (s.mode !== 'running') {
          s.lastSubmitCycle = {
            at: nowIso(),
            submitted: 0,
            explanation: `no submission: queue ${s.mode} during the cycle (${s.pauseReason ?? ''})`,
          };
          return;
        }
        started = await submitWorkers(plan, ids);
        s.totals.workersStarted += started;
      }
      s.lastSubmitCycle = { at: nowIso(), submitted: started, explanation: plan.explanation };
    } finally {
      submitting = false;
    }
  }

  publishState();
  while (s.stopReason === undefined) {
    const nextDue = Math.min(Date.parse(s.nextSubmitAt), Date.parse(s.nextMonitorAt));
    // A cycle already due runs now: a 1 ms timer would cost a server round trip (~1 s on the dev server).
    if (nextDue > Date.now())
      await condition(() => s.adjustNow || s.stopReason !== undefined, nextDue - Date.now());
    if (s.stopReason !== undefined) break;
    if (Date.now() >= Date.parse(s.nextMonitorAt)) {
      try {
        await monitorCycle();
      } catch (err) {
        // The DB or the config failed past the activity's retries: the counts are unknown now and
        // this counts toward the self-pause like a silent batch system; the queue (its pause
        // state, its overrides) lives on and tries again next cycle.
        monitorFailed(
          `monitor cycle failed: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`,
        );
      }
      s.nextMonitorAt = new Date(Date.now() + jitter(settings.monitorIntervalSeconds)).toISOString();
    }
    if (s.adjustNow || Date.now() >= Date.parse(s.nextSubmitAt)) {
      s.adjustNow = false;
      try {
        await submitCycle();
      } catch (err) {
        const message = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
        s.lastSubmitCycle = { at: nowIso(), submitted: 0, explanation: `submitter cycle failed: ${message}` };
        log.error('submitter cycle failed', { queueName, error: message });
      }
      s.nextSubmitAt = new Date(Date.now() + jitter(settings.submitterIntervalSeconds)).toISOString();
    }
    const info = workflowInfo();
    // A run on the main task queue (started before the control queue existed) moves to the
    // control queue after this cycle; replaying its earlier cycles, patched() is false.
    const moving = info.taskQueue !== controlTaskQueue && patched(MOVE_TO_CONTROL_TASK_QUEUE);
    if (
      moving ||
      info.continueAsNewSuggested ||
      info.historyLength >= (input.continueAsNewAfterEvents ?? Infinity)
    ) {
      await condition(allHandlersFinished);
      const next: QueueWorkflowInput = { ...input, controlTaskQueue, settings, state: s };
      if (moving) {
        log.info('moving to the control task queue', {
          queueName,
          from: info.taskQueue,
          to: controlTaskQueue,
        });
        return await makeContinueAsNewFunc<typeof queueWorkflow>({ taskQueue: controlTaskQueue })(next);
      }
      return await continueAsNew<typeof queueWorkflow>(next);
    }
  }
  log.info('queue workflow stopped', { queueName, reason: s.stopReason });
  await condition(allHandlersFinished);
  return s;
}
