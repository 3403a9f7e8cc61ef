/**
 * Queue limit attributes (harvester-spec §4 and §5): reading them as whole numbers and the
 * clipping rules Harvester's QueueConfigMapper applies after merging, so that the worker
 * adjuster receives the same numbers it would in Harvester.
 */
import type { MapType } from '../specs';
import type { FieldReader } from './fieldReader';

export const WORKER_LIMIT_ATTRS = [
  'nQueueLimitWorker',
  'nQueueLimitWorkerRatio',
  'nQueueLimitWorkerMin',
  'nQueueLimitWorkerMax',
  'nQueueLimitWorkerCores',
  'nQueueLimitWorkerCoresRatio',
  'nQueueLimitWorkerCoresMin',
  'nQueueLimitWorkerMemory',
  'nQueueLimitWorkerMemoryRatio',
  'nQueueLimitWorkerMemoryMin',
] as const;

export const JOB_LIMIT_ATTRS = [
  'nQueueLimitJob',
  'nQueueLimitJobRatio',
  'nQueueLimitJobMin',
  'nQueueLimitJobMax',
  'nQueueLimitJobCores',
  'nQueueLimitJobCoresRatio',
  'nQueueLimitJobCoresMin',
] as const;

export type WorkerLimitAttr = (typeof WORKER_LIMIT_ATTRS)[number];
export type JobLimitAttr = (typeof JOB_LIMIT_ATTRS)[number];

/** Harvester's queue_limit_attrs: the attributes that must be whole numbers. */
export const QUEUE_LIMIT_ATTRS = [
  'maxWorkers',
  'maxNewWorkersPerCycle',
  ...WORKER_LIMIT_ATTRS,
  ...JOB_LIMIT_ATTRS,
] as const;

export type QueueLimits = { maxWorkers: number; maxNewWorkersPerCycle: number } & Record<
  WorkerLimitAttr | JobLimitAttr,
  number | null
>;

/** Limits as written; null = unset. */
export type RawQueueLimits = Record<(typeof QUEUE_LIMIT_ATTRS)[number], number | null>;

/** A limit that the rules changed in a way the operator should hear about. */
export interface LimitNote {
  field: string;
  value: number;
  expected: string;
}

/** Job-prefetch attributes Harvester nulls for NoJob (pull) queues: pilots fetch their own jobs. */
const NULLED_FOR_PULL = [
  'nQueueLimitJob',
  'nQueueLimitJobRatio',
  'nQueueLimitJobMax',
  'nQueueLimitJobMin',
] as const;
/** Worker ratio attributes Harvester nulls for push queues (they only make sense for pilots pulling jobs). */
const NULLED_FOR_PUSH = ['nQueueLimitWorkerRatio', 'nQueueLimitWorkerMin'] as const;

export function readLimits(reader: FieldReader): RawQueueLimits {
  const raw = {} as RawQueueLimits;
  for (const attr of QUEUE_LIMIT_ATTRS) raw[attr] = reader.optionalCount(attr);
  return raw;
}

const minOf = (a: number, b: number): number => Math.min(a, b);

/**
 * Harvester's rules, in its order: null the attributes the map type ignores; then
 * nQueueLimitWorker = min(nQueueLimitWorker, nQueueLimitWorkerMax, maxWorkers) (only Max set:
 * both become min(Max, maxWorkers)); Min clipped to that limit; cores/memory Min clipped to
 * their limit; nQueueLimitJob = min(Job, JobMax) (only Max set: Job = Max); job Mins clipped.
 *
 * One deliberate difference: Harvester also clips with maxWorkers when it is 0, which means
 * "no limit", turning nQueueLimitWorker into 0 and the queue into a one-worker-at-a-time queue
 * (spec §5.1). Here maxWorkers 0 does not clip, and a note says what Harvester would do.
 */
export function applyLimitRules(
  raw: RawQueueLimits,
  mapType: MapType,
): { limits: QueueLimits; notes: LimitNote[] } {
  const notes: LimitNote[] = [];
  const l: QueueLimits = {
    ...raw,
    maxWorkers: raw.maxWorkers ?? 0,
    maxNewWorkersPerCycle: raw.maxNewWorkersPerCycle ?? 0,
  };

  const nulled = mapType === 'NoJob' ? NULLED_FOR_PULL : NULLED_FOR_PUSH;
  for (const attr of nulled) {
    const value = l[attr];
    if (value === null) continue;
    notes.push({
      field: attr,
      value,
      expected:
        mapType === 'NoJob'
          ? 'no job-prefetch limit on a NoJob (pull) queue: ignored, as Harvester does'
          : `no worker ratio limit on a ${mapType} (push) queue: ignored, as Harvester does`,
    });
    l[attr] = null;
  }

  const maxWorkers = l.maxWorkers;
  const capByMaxWorkers = (v: number): number => (maxWorkers > 0 ? Math.min(v, maxWorkers) : v);
  const written = l.nQueueLimitWorker ?? l.nQueueLimitWorkerMax;
  if (maxWorkers === 0 && written !== null && written > 0) {
    notes.push({
      field: l.nQueueLimitWorker !== null ? 'nQueueLimitWorker' : 'nQueueLimitWorkerMax',
      value: written,
      expected:
        'maxWorkers > 0 alongside it: with maxWorkers 0 (no limit) Harvester clips this to 0; kept as written here',
    });
  }

  if (l.nQueueLimitWorker !== null && l.nQueueLimitWorkerMax !== null) {
    const limit = capByMaxWorkers(minOf(l.nQueueLimitWorker, l.nQueueLimitWorkerMax));
    l.nQueueLimitWorker = limit;
    l.nQueueLimitWorkerMax = limit;
  } else if (l.nQueueLimitWorker !== null) {
    l.nQueueLimitWorker = capByMaxWorkers(l.nQueueLimitWorker);
  } else if (l.nQueueLimitWorkerMax !== null) {
    l.nQueueLimitWorkerMax = capByMaxWorkers(l.nQueueLimitWorkerMax);
    l.nQueueLimitWorker = l.nQueueLimitWorkerMax;
  }
  if (l.nQueueLimitWorkerMin !== null && l.nQueueLimitWorker !== null) {
    l.nQueueLimitWorkerMin = capByMaxWorkers(minOf(l.nQueueLimitWorkerMin, l.nQueueLimitWorker));
  }
  if (l.nQueueLimitWorkerCoresMin !== null && l.nQueueLimitWorkerCores !== null) {
    l.nQueueLimitWorkerCoresMin = minOf(l.nQueueLimitWorkerCoresMin, l.nQueueLimitWorkerCores);
  }
  if (l.nQueueLimitWorkerMemoryMin !== null && l.nQueueLimitWorkerMemory !== null) {
    l.nQueueLimitWorkerMemoryMin = minOf(l.nQueueLimitWorkerMemoryMin, l.nQueueLimitWorkerMemory);
  }

  if (l.nQueueLimitJob !== null && l.nQueueLimitJobMax !== null) {
    const limit = minOf(l.nQueueLimitJob, l.nQueueLimitJobMax);
    l.nQueueLimitJob = limit;
    l.nQueueLimitJobMax = limit;
  } else if (l.nQueueLimitJobMax !== null) {
    l.nQueueLimitJob = l.nQueueLimitJobMax;
  }
  if (l.nQueueLimitJobMin !== null && l.nQueueLimitJob !== null) {
    l.nQueueLimitJobMin = minOf(l.nQueueLimitJobMin, l.nQueueLimitJob);
  }
  if (l.nQueueLimitJobCoresMin !== null && l.nQueueLimitJobCores !== null) {
    l.nQueueLimitJobCoresMin = minOf(l.nQueueLimitJobCoresMin, l.nQueueLimitJobCores);
  }

  return { limits: l, notes };
}
