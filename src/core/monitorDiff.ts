/**
 * The queue monitor's comparison: given the workers as last known and one bulk status answer,
 * which workers must be told what. Only changes are signalled (status, native status, or
 * "could not tell" appearing or clearing), so a worker workflow's history grows with changes,
 * never with polls.
 */
import type { CheckResult } from '../plugins/types';
import type { WorkSpec } from './specs';
import { lostHeartbeat } from './stuckRules';
import { applyWorkerStatus } from './transitions';
import type { WorkerStatus } from './workerStatus';

/** What the comparison needs of a worker: its id and last known state (startTime: for the heartbeat rule). */
export type MonitoredWorker = Pick<WorkSpec, 'workerID' | 'status' | 'nativeStatus' | 'startTime'>;

/**
 * The pilots' heartbeat files as the monitor step read them (Harvester's messenger is_alive), for a
 * queue whose messenger sets worker_heartbeat. Only workers listed in lastHeartbeat were looked at.
 */
export interface HeartbeatReadings {
  /** The queue's limit, minutes (messenger worker_heartbeat). */
  limitMinutes: number;
  /** When the files were read, in the clock of the host that read them (ISO). */
  checkedAt: string;
  /** By workerID: the heartbeat file's modification time (ISO), or null when there is none yet. */
  lastHeartbeat: Readonly<Record<string, string | null>>;
}

/** A time from a plugin or a signal if it is one, else undefined: such input is checked, not trusted. */
export function validTime(t: unknown): string | undefined {
  return typeof t === 'string' && Number.isFinite(Date.parse(t)) ? t : undefined;
}

/** A change the monitor saw, as the worker's workflow is told it. */
export interface WorkerChange {
  workerID: number;
  /** null = the monitor could not tell this time (Harvester's None); the last known status stays. */
  status: WorkerStatus | null;
  diag?: string;
  nativeStatus?: string;
  nativeExitCode?: number;
  errorCode?: number;
  nodeID?: string;
  pilotClosed?: boolean;
  /** Late binding: the jobs the queue just gave this worker. */
  pandaIDs?: number[];
  /** When the batch system says the job started / ended (ISO), if it says. */
  startTime?: string;
  endTime?: string;
  /**
   * The pilot's heartbeat is older than the queue's worker_heartbeat limit: why (the rule's detail).
   * The worker is to be killed with reason lost_heartbeat. Sent once: a worker with a kill on record
   * is not looked at again.
   */
  lostHeartbeat?: string;
}

/**
 * @param unknownBefore ids of workers whose status the previous cycle could not tell
 * @param heartbeats the pilots' heartbeat files, when the queue has a worker_heartbeat limit: a
 *        running worker past it gets a change with lostHeartbeat, even if its status is unchanged
 * @returns the changes to signal and the ids that are unknown after this cycle
 */
export function diffMonitorResults(
  workers: readonly MonitoredWorker[],
  results: readonly CheckResult[],
  unknownBefore: ReadonlySet<number>,
  heartbeats?: HeartbeatReadings,
): { changes: WorkerChange[]; unknownNow: number[] } {
  if (results.length !== workers.length) {
    throw new Error(`monitor returned ${results.length} results for ${workers.length} workers`);
  }
  const changes: WorkerChange[] = [];
  const unknownNow: number[] = [];
  workers.forEach((w, i) => {
    const r = results[i];
    if (r.status === null) {
      unknownNow.push(w.workerID);
      if (!unknownBefore.has(w.workerID)) changes.push({ workerID: w.workerID, status: null, diag: r.diag });
      return;
    }
    const decision = applyWorkerStatus(w.status, r.status);
    const nativeChanged = r.nativeStatus !== undefined && r.nativeStatus !== w.nativeStatus;
    const lost = heartbeatVerdict(w, decision.status, validTime(r.startTime), heartbeats);
    if (decision.changed || nativeChanged || unknownBefore.has(w.workerID) || lost) {
      changes.push({
        workerID: w.workerID,
        status: decision.status,
        diag: r.diag || undefined,
        nativeStatus: r.nativeStatus,
        nativeExitCode: r.nativeExitCode,
        errorCode: r.errorCode,
        nodeID: r.nodeID,
        pilotClosed: r.pilotClosed,
        // The batch system's own times: PanDA should hear when the job ended, not when we noticed.
        startTime: validTime(r.startTime),
        endTime: validTime(r.endTime),
        ...(lost ? { lostHeartbeat: lost } : {}),
      });
    }
  });
  return { changes, unknownNow };
}

/** The lost-heartbeat rule (core/stuckRules) for one worker whose file was read; its detail, or undefined. */
function heartbeatVerdict(
  w: MonitoredWorker,
  status: WorkerStatus,
  batchStartTime: string | undefined,
  heartbeats: HeartbeatReadings | undefined,
): string | undefined {
  const key = String(w.workerID);
  if (!heartbeats || !Object.hasOwn(heartbeats.lastHeartbeat, key)) return undefined;
  const checkedAt = validTime(heartbeats.checkedAt);
  if (checkedAt === undefined) return undefined;
  const verdict = lostHeartbeat(
    {
      status,
      startTime: batchStartTime ?? validTime(w.startTime),
      lastHeartbeat: validTime(heartbeats.lastHeartbeat[key]),
    },
    new Date(checkedAt),
    heartbeats.limitMinutes,
  );
  return verdict?.detail;
}
