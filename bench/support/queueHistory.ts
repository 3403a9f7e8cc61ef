/**
 * What a queue workflow writes to its history per cycle, read back through the client: every run
 * (continue-as-new) of the workflow, its events cut into cycles at the activity that opens one,
 * each cycle's bytes the protobuf size of its events (what the server stores), as
 * test/integration/queueHistory.test.ts measures it.
 *
 * A monitor cycle opens with `monitorQueue` (today's design) or the first `listWorkersForMonitor`
 * (the design before, which carried the worker list through this history page by page) and ends
 * with `recordMonitorCycle`; a submitter cycle opens
 * with `planSubmission`. The timer and workflow-task events between two cycles count to the one
 * before. What the activities answered (changed, checked, status calls, workers started) is read
 * from their results, so each cycle's cost can be set against what changed in it.
 */
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export const MONITOR_CYCLE_OPENERS = ['monitorQueue', 'listWorkersForMonitor'] as const;
export const SUBMIT_CYCLE_OPENER = 'planSubmission';

export interface QueueCycle {
  kind: 'monitor' | 'submit';
  runId: string;
  /** Server time of the opening activity's scheduling. */
  startMs: number;
  /** Server time of the cycle's last activity completion (recordMonitorCycle / the submit step's last activity). */
  endMs?: number;
  bytes: number;
  events: number;
  /** Monitor: workers checked and changed, status calls (central summary plus edge replies). */
  checked: number;
  changed: number;
  statusCalls: number;
  /** Submitter: lifecycles started. */
  started: number;
}

export interface WorkflowRun {
  runId: string;
  bytes: number;
  events: number;
}

const ms = (t: temporal.api.history.v1.IHistoryEvent['eventTime']) =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;

function decodeResult(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown {
  const data = payloads?.payloads?.[0]?.data;
  if (!data) return undefined;
  try {
    return JSON.parse(Buffer.from(data).toString('utf8'));
  } catch {
    return undefined;
  }
}

const num = (x: unknown, key: string): number => {
  const v = (x as Record<string, unknown> | undefined)?.[key];
  return typeof v === 'number' ? v : 0;
};

/** Cuts one run's events into cycles. */
export function cyclesOfRun(runId: string, events: readonly HistoryEvent[]): QueueCycle[] {
  const cycles: QueueCycle[] = [];
  const activityOf = new Map<string, string>();
  let current: QueueCycle | undefined;
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    const name = scheduled?.activityType?.name ?? undefined;
    if (name) activityOf.set(String(e.eventId), name);
    const opensMonitor = name !== undefined && (MONITOR_CYCLE_OPENERS as readonly string[]).includes(name);
    // The design before listed a big queue page by page: a page after the first is the same cycle.
    const samePagedCycle = opensMonitor && current?.kind === 'monitor' && current.endMs === undefined;
    if ((opensMonitor && !samePagedCycle) || name === SUBMIT_CYCLE_OPENER) {
      current = {
        kind: opensMonitor ? 'monitor' : 'submit',
        runId,
        startMs: ms(e.eventTime),
        bytes: 0,
        events: 0,
        checked: 0,
        changed: 0,
        statusCalls: 0,
        started: 0,
      };
      cycles.push(current);
    }
    if (!current) continue;
    current.bytes += temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
    current.events++;
    const completed = e.activityTaskCompletedEventAttributes;
    if (!completed) continue;
    const done = activityOf.get(String(completed.scheduledEventId));
    const result = decodeResult(completed.result);
    if (done === 'monitorQueue' || done === 'monitorEdgeQueue') {
      current.checked += num(result, 'checked');
      current.changed += num(result, 'changed');
      current.statusCalls += num(result, 'statusCalls');
    }
    // The submit step before (startWorkers), a central one-step submission (submitQueueWorkers
    // answering {done}), or an edge one's last step (startQueueWorkers).
    const submitDone =
      done === 'startWorkers' || done === 'startQueueWorkers'
        ? result
        : done === 'submitQueueWorkers'
          ? (result as { done?: unknown } | undefined)?.done
          : undefined;
    if (submitDone !== undefined) {
      current.started += num(submitDone, 'started');
      current.endMs = ms(e.eventTime);
    }
    if (done === 'recordMonitorCycle') current.endMs = ms(e.eventTime);
  }
  return cycles;
}

/**
 * A client whose connection takes large history pages: a run of the design before held MiBs per
 * cycle, more than gRPC's default 4 MiB receive limit.
 */
export async function connectHistoryReader(
  address: string,
  namespace: string,
): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({
    address,
    channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 },
  });
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}

/** Every run of the workflow, first to last, and the cycles of each. */
export async function queueHistory(
  client: Client,
  workflowId: string,
): Promise<{ runs: WorkflowRun[]; cycles: QueueCycle[] }> {
  const runs: Array<WorkflowRun & { events_: HistoryEvent[] }> = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history: temporal.api.history.v1.IHistory = await client.workflow
      .getHandle(workflowId, runId)
      .fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    const id = runId;
    const bytes = events.reduce(
      (total: number, e: HistoryEvent) =>
        total + temporal.api.history.v1.HistoryEvent.encode(e).finish().length,
      0,
    );
    runs.unshift({ runId: id, bytes, events: events.length, events_: events });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return {
    runs: runs.map(({ runId, bytes, events }) => ({ runId, bytes, events })),
    cycles: runs.flatMap((r) => cyclesOfRun(r.runId, r.events_)),
  };
}
