/**
 * History events per running worker-day.
 *
 * The design promise (DESIGN.md, workflow 1): a worker's history grows with state changes and
 * heartbeats, never with polls. We check it for real on Temporal's time-skipping test server: one
 * worker lifecycle is submitted (dummy plugin), made `running`, and then a whole simulated day passes
 * with the 30-minute PanDA heartbeat; the events added during that day are counted with
 * fetchHistory(). Three ways of watching the worker:
 *   - a simulated queue monitor that signals only on a status change (so: nothing during the day);
 *   - the real queue workflow's bulk monitor cycle every 300 s;
 *   - the same every 60 s.
 * If the history is independent of the monitor, the last two give the same count as the first.
 *
 * Activities are the real ones: the bench PostgreSQL database, the dummy batch plugin, and the real
 * PanDA client talking to the PanDA simulator over HTTP. The simulator runs on the real clock (it
 * cannot follow skipped time), which does not matter here: it only receives the reports.
 *
 * Standalone: node --import tsx bench/historyEvents.bench.ts
 */
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ALL_SEARCH_ATTRIBUTES } from '../src/core/searchAttributes';
import { queueWorkflow } from '../src/workflows/queue';
import { queueStateQuery, queueWorkflowId, stopQueueSignal } from '../src/workflows/queueMessages';
import { workerLifecycleWorkflow } from '../src/workflows/workerLifecycle';
import {
  statusChangedSignal,
  statusQuery,
  type WorkerStatusView,
  workerWorkflowId,
} from '../src/workflows/workerMessages';
import { type BenchResult, benchEnvironment, runAlone, TEMPORAL_TEST_SERVER } from './support/env';
import { dummyQueueConfig, quietRuntime, startBenchStack } from './support/stack';

const HOUR_MS = 3600 * 1000;
const HEARTBEAT_SECONDS = 1800;
const TARGET_EVENTS_PER_DAY = 600;
/** Real-time bound on waiting for a state the worker reaches without skipped time. */
const WAIT_MS = 60_000;

type Watcher = { kind: 'simulated' } | { kind: 'queue'; monitorIntervalSeconds: number };

interface DayMeasurement {
  label: string;
  eventsPerDay: number;
  heartbeats: number;
  byType: Record<string, number>;
  monitorCycles?: number;
  signalsDuringDay?: number;
  wallSeconds: number;
  stillRunning: boolean;
}

/** A simulated day must not hang the bench run: give up after this much real time. */
const DAY_WALL_LIMIT_MS = 6 * 60_000;

async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`history bench: ${what} took longer than ${ms / 1000} s of real time`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function eventTypeName(e: temporal.api.history.v1.IHistoryEvent): string {
  // The proto enum value is a number; strip the verbose prefix of its name for a readable breakdown.
  const attrs = Object.keys(e).find(
    (k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k],
  );
  return attrs ? attrs.replace(/EventAttributes$/, '') : String(e.eventType);
}

async function waitFor(label: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (await fn().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`history bench: timed out waiting for ${label}`);
}

/**
 * The lifecycle upserts the project's custom search attributes; the test server refuses the
 * workflow task ("BadSearchAttributes") until they are registered, so register them first.
 */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const { IndexedValueType } = temporal.api.enums.v1;
  const types: Record<string, temporal.api.enums.v1.IndexedValueType> = {
    [SearchAttributeType.KEYWORD]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    [SearchAttributeType.INT]: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    [SearchAttributeType.TEXT]: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    [SearchAttributeType.DOUBLE]: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    [SearchAttributeType.BOOL]: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    [SearchAttributeType.DATETIME]: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    [SearchAttributeType.KEYWORD_LIST]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of ALL_SEARCH_ATTRIBUTES) searchAttributes[key.name] = types[key.type];
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes,
  });
}

async function measureDay(
  env: TestWorkflowEnvironment,
  databaseUrl: string,
  watcher: Watcher,
): Promise<DayMeasurement> {
  const started = Date.now();
  const queueName = 'BENCH_HISTORY';
  const monitorIntervalSeconds = watcher.kind === 'queue' ? watcher.monitorIntervalSeconds : 300;
  const stack = await startBenchStack({
    databaseUrl,
    client: env.client,
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    queueName,
    // runAfterSeconds 0: the dummy batch system reports the job running from its first check on,
    // so the real monitor sees exactly one change (submitted → running) and then none for a day.
    queueConfig: (scratch) =>
      dummyQueueConfig(queueName, scratch, {
        maxWorkers: 1,
        submitter: { runAfterSeconds: 0 },
        temporal: {
          heartbeatIntervalSeconds: HEARTBEAT_SECONDS,
          monitorIntervalSeconds,
          // The submitter cycle is not what is measured; once a day keeps it out of the way.
          submitterIntervalSeconds: 86400,
          // The lifecycle compares the monitor's last success (PostgreSQL now(), real time) with
          // workflow time, which the test server skips a day ahead: with the default 1 h the worker
          // would be killed as stuck_unknown, an artefact of skipped time only.
          checkTimeout: 3 * 86400,
        },
      }),
    reportBatchWindowMs: 50,
  });
  try {
    const policy = await stack.policy();
    const [worker] = await stack.newPendingWorkers(1, policy);
    const handle = await env.client.workflow.start(workerLifecycleWorkflow, {
      taskQueue: stack.taskQueue,
      workflowId: workerWorkflowId(stack.harvesterID, queueName, worker.workerID),
      args: [{ worker, policy }],
    });
    const view = () => handle.query(statusQuery);
    await waitFor('submitted', async () => (await view()).worker.status === 'submitted');

    let queueHandle: Awaited<ReturnType<typeof env.client.workflow.start<typeof queueWorkflow>>> | undefined;
    if (watcher.kind === 'simulated') {
      // The only change in the worker's day: the monitor saw it start running.
      await handle.signal(statusChangedSignal, { status: 'running', observedAt: new Date().toISOString() });
    } else {
      queueHandle = await env.client.workflow.start(queueWorkflow, {
        taskQueue: stack.taskQueue,
        workflowId: queueWorkflowId(stack.harvesterID, queueName),
        args: [
          {
            harvesterID: stack.harvesterID,
            queueName,
            // On the bench stack's one worker (bench/support/stack.ts).
            controlTaskQueue: stack.taskQueue,
            settings: {
              submitterIntervalSeconds: 86400,
              monitorIntervalSeconds,
              maxConsecutiveMonitorFailures: 3,
              autoResumeAfterMonitorRecovery: true,
            },
          },
        ],
      });
    }
    // Running, and the report of that change delivered: from here on only the day's own events count.
    await waitFor('running and reported', async () => {
      const v = await view();
      // pendingReports is 0 also while the change is still being recorded (before its report is
      // queued), so wait for the report itself: submission + running = 2 non-heartbeat reports.
      return v.worker.status === 'running' && v.pendingReports === 0 && v.reportsSent - v.heartbeatsSent >= 2;
    });
    const before = await view();
    const historyBefore = await handle.fetchHistory();
    const queueBefore = queueHandle ? await queueHandle.query(queueStateQuery) : undefined;

    // One simulated day. The test server fires the timers in order and waits for the work they cause.
    // In hour steps, each bounded in real time, so a stalled server shows where it stalled.
    const dayStart = Date.now();
    for (let hour = 0; hour < 24; hour++) {
      const left = DAY_WALL_LIMIT_MS - (Date.now() - dayStart);
      await withDeadline(
        env.sleep(HOUR_MS),
        Math.max(left, 1000),
        `simulated hour ${hour + 1} of the day (${watcher.kind})`,
      );
    }

    const after: WorkerStatusView = await view();
    const historyAfter = await handle.fetchHistory();
    const queueAfter = queueHandle ? await queueHandle.query(queueStateQuery) : undefined;
    const dayEvents = (historyAfter.events ?? []).slice((historyBefore.events ?? []).length);
    const byType: Record<string, number> = {};
    for (const e of dayEvents) {
      const t = eventTypeName(e);
      byType[t] = (byType[t] ?? 0) + 1;
    }
    if (queueHandle) await queueHandle.signal(stopQueueSignal, { reason: 'bench over' });
    await handle.terminate('bench over');
    return {
      label:
        watcher.kind === 'simulated'
          ? 'simulated monitor (signals on change only)'
          : `queue monitor every ${monitorIntervalSeconds} s`,
      eventsPerDay: dayEvents.length,
      heartbeats: after.heartbeatsSent - before.heartbeatsSent,
      byType,
      monitorCycles:
        queueAfter && queueBefore
          ? queueAfter.totals.monitorCycles - queueBefore.totals.monitorCycles
          : undefined,
      signalsDuringDay:
        queueAfter && queueBefore
          ? queueAfter.totals.signalsSent - queueBefore.totals.signalsSent
          : undefined,
      wallSeconds: (Date.now() - started) / 1000,
      stillRunning: after.worker.status === 'running' && !after.kill,
    };
  } finally {
    await stack.close();
  }
}

/** A fresh test server per scenario: its clock starts at real time, so skipped days do not add up. */
async function measureDayInFreshServer(databaseUrl: string, watcher: Watcher): Promise<DayMeasurement> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: TEMPORAL_TEST_SERVER } },
  });
  try {
    await registerSearchAttributes(env);
    return await measureDay(env, databaseUrl, watcher);
  } finally {
    await env.teardown();
  }
}

export async function runHistoryEventsBench(): Promise<BenchResult[]> {
  const { databaseUrl } = benchEnvironment();
  quietRuntime();
  const days: DayMeasurement[] = [];
  for (const w of [
    { kind: 'simulated' },
    { kind: 'queue', monitorIntervalSeconds: 300 },
    { kind: 'queue', monitorIntervalSeconds: 60 },
  ] as Watcher[]) {
    const d = await measureDayInFreshServer(databaseUrl, w);
    console.log(
      `  history bench: ${d.label}: ${d.eventsPerDay} events, ${d.heartbeats} heartbeats, ${d.wallSeconds.toFixed(0)} s`,
    );
    days.push(d);
  }
  const how =
    'time-skipping test server, 1 simulated day of a running worker, real activities (PostgreSQL, dummy plugin, PanDA simulator over HTTP)';
  const results: BenchResult[] = days.map((d) => ({
    name: `history events per running worker-day, heartbeat ${HEARTBEAT_SECONDS} s, ${d.label}`,
    value: d.eventsPerDay,
    unit: 'events/day',
    target: `≤ ${TARGET_EVENTS_PER_DAY}`,
    pass: d.eventsPerDay <= TARGET_EVENTS_PER_DAY && d.stillRunning,
    note:
      `${how}; ${d.heartbeats} heartbeats (${d.heartbeats ? (d.eventsPerDay / d.heartbeats).toFixed(1) : '-'} events each)` +
      (d.monitorCycles !== undefined
        ? `; ${d.monitorCycles} monitor cycles, ${d.signalsDuringDay} signals to the worker`
        : '') +
      `; worker still running at day end: ${d.stillRunning}; wall ${d.wallSeconds.toFixed(0)} s; events: ${JSON.stringify(d.byType)}`,
  }));
  const [, q300, q60] = days;
  // Each worker's heartbeat tick comes from its worker id; the two runs' workers have different
  // ids, so one wake-up may fall on the other side of the day boundary: the runs may differ by one
  // heartbeat's events without depending on the monitor at all.
  const perBeat = q300.heartbeats ? q300.eventsPerDay / q300.heartbeats : 11;
  const diff = q60.eventsPerDay - q300.eventsPerDay;
  results.push({
    name: 'history events per worker-day: monitor 60 s minus monitor 300 s',
    value: diff,
    unit: 'events/day',
    target: `independent of the monitor cycle (|diff| ≤ one heartbeat ≈ ${Math.round(perBeat)} events)`,
    pass: Math.abs(diff) <= Math.ceil(perBeat),
    note: `monitor cycles in the day: ${q300.monitorCycles} vs ${q60.monitorCycles}; heartbeats: ${q300.heartbeats} vs ${q60.heartbeats}`,
  });
  return results;
}

if (require.main === module) runAlone(runHistoryEventsBench);
