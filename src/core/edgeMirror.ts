/**
 * An edge node's mirror of a queue's live workers, for the bulk monitor of a queue whose plugins run
 * on an edge task queue. The edge has no DB; the queue workflow must not carry the worker list
 * through its history every cycle. So the edge keeps the list in a local file, and each cycle it is
 * sent only the worker rows that changed since the sequence number it last applied (the DB bumps
 * workers.monitor_seq whenever a column the monitor reads changes). The DB stays the one source of
 * the workers' last known states: the edge never updates the mirror from its own observations, it
 * reports changes, the central side records them, and the next delta brings them back.
 */
import type { PluginParams } from '../plugins/types';
import type { WorkSpec } from './specs';

/** How one config's workers are checked: its monitor section and what the messenger adds. */
export interface MonitorGroupParams {
  monitor: PluginParams;
  /** Late binding: workers without jobs ask the messenger whether their pilot wants one. */
  lateBindingMessenger?: PluginParams;
  /** worker_heartbeat set: running workers' heartbeat files are read, with this limit. */
  heartbeat?: { messenger: PluginParams; limitMinutes: number };
}

/** A live worker as the monitor needs it, with what the DB knows of it. */
export interface MonitoredWorkerRecord {
  /** The monitor fields of the worker (batch id, access point, times, last status). */
  spec: WorkSpec;
  /** Has jobs bound (late binding asks only for workers without). */
  hasJobs: boolean;
  /** Marked to be killed: not judged by the heartbeat rule again (Harvester marks a kill once). */
  killed: boolean;
  /** The last status query could not tell its status. */
  unknown: boolean;
}

/** The rows changed in (fromSeq, toSeq], as the edge applies them. fromSeq 0 = a full sync's page. */
export interface MonitorDelta {
  fromSeq: number;
  toSeq: number;
  upserts: MonitoredWorkerRecord[];
  /** Workers that left the monitor's view (final, swept, or routed to another task queue). */
  removed: number[];
  /** Every config of the queue's live workers routed to this task queue. */
  groups: Record<string, MonitorGroupParams>;
}

export interface EdgeMirror {
  /** Which sync this mirror belongs to (the queue workflow picks it when it starts one). */
  mirrorID: string;
  /** The last sequence number applied. */
  seq: number;
  groups: Record<string, MonitorGroupParams>;
  /** By workerID. */
  workers: Record<string, MonitoredWorkerRecord>;
}

/**
 * Whether a delta can be applied to the mirror on this host. A page starting at 0 starts the mirror
 * afresh. Otherwise it must belong to the same sync and cover the mirror's sequence: a delta read
 * later than one already applied (a retried call whose first attempt did apply) holds the rows'
 * newer states, so applying it again is safe. Anything else (no file, another host's mirror, a
 * mirror behind the delta) needs a full resync.
 */
export function deltaApplies(mirror: EdgeMirror | undefined, mirrorID: string, delta: MonitorDelta): boolean {
  if (delta.fromSeq === 0) return true;
  return (
    mirror !== undefined &&
    mirror.mirrorID === mirrorID &&
    delta.fromSeq <= mirror.seq &&
    mirror.seq <= delta.toSeq
  );
}

/** The mirror after the delta (call only when deltaApplies). */
export function applyDelta(
  mirror: EdgeMirror | undefined,
  mirrorID: string,
  delta: MonitorDelta,
): EdgeMirror {
  const fresh = delta.fromSeq === 0 || mirror === undefined;
  const workers: Record<string, MonitoredWorkerRecord> = fresh ? {} : { ...mirror.workers };
  for (const id of delta.removed) delete workers[String(id)];
  for (const w of delta.upserts) workers[String(w.spec.workerID)] = w;
  return { mirrorID, seq: delta.toSeq, groups: delta.groups, workers };
}

/** One bulk status call: a config's workers, at most pageSize of them, in workerID order. */
export interface MonitorBatch {
  configID: string;
  workers: MonitoredWorkerRecord[];
}

/**
 * The status calls a cycle makes over the mirror: per config, pages of pageSize workers. A worker
 * whose config has no group params cannot be checked; such configs are returned apart.
 */
export function monitorBatches(
  mirror: EdgeMirror,
  pageSize: number,
): { batches: MonitorBatch[]; configsWithoutParams: string[] } {
  const byConfig = new Map<string, MonitoredWorkerRecord[]>();
  const sorted = Object.values(mirror.workers).sort((a, b) => a.spec.workerID - b.spec.workerID);
  for (const w of sorted) {
    const list = byConfig.get(w.spec.configID) ?? [];
    list.push(w);
    byConfig.set(w.spec.configID, list);
  }
  const batches: MonitorBatch[] = [];
  const configsWithoutParams: string[] = [];
  for (const [configID, list] of byConfig) {
    if (!mirror.groups[configID]) {
      configsWithoutParams.push(configID);
      continue;
    }
    for (let i = 0; i < list.length; i += pageSize)
      batches.push({ configID, workers: list.slice(i, i + pageSize) });
  }
  return { batches, configsWithoutParams };
}
