/**
 * Types of the queue configuration: Harvester's panda_queueconfig.json, resolved.
 *
 * A file maps queue names to raw entries; an entry may inherit from a template and carries
 * plugin sections ({module, name, ...params}). Resolution merges the template, copies the
 * `common` section into every plugin section, applies Harvester's limit rules and fills in
 * defaults, giving one QueueConfig per active or inactive queue.
 */

import type { PluginKind, PluginParams } from '../../plugins/types';
import type { MapType } from '../specs';

export type RunMode = 'self' | 'slave';

/** A resolved plugin section: the raw keys plus `queueName`/`siteName`, injected as Harvester does. */
export type PluginSection = PluginParams & { queueName: string; siteName: string };

/** Plugin sections a queue must have; Harvester drops a queue that lacks any of them. */
export const MANDATORY_PLUGIN_SLOTS = [
  'submitter',
  'monitor',
  'sweeper',
  'messenger',
  'preparator',
  'stager',
  'workerMaker',
] as const;

/** Optional single plugin sections (credmanagers, a list, is handled on its own). */
export const OPTIONAL_PLUGIN_SLOTS = ['throttler', 'zipper', 'aux_preparator', 'extractor'] as const;

export type MandatoryPluginSlot = (typeof MANDATORY_PLUGIN_SLOTS)[number];
export type OptionalPluginSlot = (typeof OPTIONAL_PLUGIN_SLOTS)[number];
export type PluginSlot = MandatoryPluginSlot | OptionalPluginSlot;

/**
 * Which plugin-registry kind serves a slot. zipper and extractor have no kind in
 * src/plugins/types.ts yet, so the registry cannot be asked about them (null).
 */
export const PLUGIN_KIND_OF_SLOT: Readonly<Record<PluginSlot | 'credmanagers', PluginKind | null>> = {
  submitter: 'submitter',
  monitor: 'monitor',
  sweeper: 'sweeper',
  messenger: 'messenger',
  preparator: 'preparator',
  stager: 'stager',
  workerMaker: 'workerMaker',
  throttler: 'throttler',
  zipper: null,
  aux_preparator: 'preparator',
  extractor: null,
  credmanagers: 'credmanager',
};

/**
 * OUR extension (not in Harvester): settings that Harvester keeps in panda_harvester.cfg per
 * agent, or does not have at all, made per queue because here each queue has its own
 * workflows. Written in the queue entry as a `"temporal": {...}` section, merged with the
 * template's key by key like a plugin section. Harvester ignores the section (it becomes an
 * unused attribute), so a file with it still loads in Harvester.
 */
export interface TemporalQueueSettings {
  /**
   * Temporal task queue on which this queue's plugin activities run: the edge worker's, next
   * to the batch system. null = the central worker's task queue (see pluginTaskQueueOf).
   */
  taskQueue: string | null;
  /** Seconds between submitter cycles of the queue workflow (Harvester [submitter] sleepTime 60). */
  submitterIntervalSeconds: number;
  /** Seconds between bulk status checks (Harvester [monitor] checkInterval 300). */
  monitorIntervalSeconds: number;
  /** Seconds between re-reports of an unchanged worker/job to PanDA (Harvester [propagator] updateInterval 1800). */
  heartbeatIntervalSeconds: number;
  /** Seconds between kill retries until the worker is final (Harvester [sweeper] checkInterval 180). */
  sweeperIntervalSeconds: number;
  /** Hours a finished worker is kept after endTime before sweeping (Harvester [sweeper] keepFinished). */
  keepFinished: number;
  /** Hours a failed worker is kept (Harvester [sweeper] keepFailed). */
  keepFailed: number;
  /** Hours a cancelled worker is kept (Harvester [sweeper] keepCancelled). */
  keepCancelled: number;
  /** Hours a missed worker is kept (Harvester [sweeper] keepMissed). */
  keepMissed: number;
  /** Hours a pending worker is kept (Harvester sweeper code default keepPending). */
  keepPending: number;
  /** Seconds a worker may stay `submitted` before it is killed (Harvester [monitor] workerQueueTimeLimit). */
  workerQueueTimeLimit: number;
  /** Seconds an HTCondor job may stay held (Harvester HTCondorMonitor heldTimeout; read from monitor.heldTimeout when the section omits it). */
  heldTimeout: number;
  /** Seconds of failed status checks before the worker is given up (Harvester [monitor] checkTimeout; read from monitor.checkTimeout when the section omits it). */
  checkTimeout: number;
  /** Consecutive failed bulk status queries after which the queue pauses itself (not in Harvester). */
  maxConsecutiveMonitorFailures: number;
  /**
   * Whether a queue that paused itself resumes once the batch system answers again (true), or
   * stays paused until an operator resumes it (false). Not in Harvester.
   */
  autoResumeAfterMonitorRecovery: boolean;
}

/** One resolved queue. Field names and defaults are Harvester's QueueConfig unless marked as ours. */
export interface QueueConfig {
  queueName: string;
  /** Part of queueName before '/' (queue names may be SITE/RESOURCETYPE), unless set explicitly. */
  siteName: string;
  /** Throttling group; Harvester default: siteName. */
  siteFamily: string;
  /** Part after '/' in SITE/RESOURCETYPE names, else Harvester's catch-all 'ANY'. */
  resourceType: string;
  /** Harvester's catch-all 'ANY'. */
  jobType: string;
  /** Lower-cased; 'online' when unset. */
  queueStatus: string;
  /** Ours: false when queueStatus is offline (Harvester leaves such queues out of its active list). */
  active: boolean;
  prodSourceLabel: string;
  mapType: MapType;
  useJobLateBinding: boolean;
  runMode: RunMode;
  truePilot: boolean;
  /** Job statuses Harvester must not report (pilot does); truePilot fills the Harvester default. */
  noHeartbeat: string[];
  /** Cap on queued+ready+running workers; 0 = no limit. */
  maxWorkers: number;
  nQueueLimitWorker: number | null;
  nQueueLimitWorkerRatio: number | null;
  nQueueLimitWorkerMin: number | null;
  nQueueLimitWorkerMax: number | null;
  nQueueLimitWorkerCores: number | null;
  nQueueLimitWorkerCoresRatio: number | null;
  nQueueLimitWorkerCoresMin: number | null;
  nQueueLimitWorkerMemory: number | null;
  nQueueLimitWorkerMemoryRatio: number | null;
  nQueueLimitWorkerMemoryMin: number | null;
  nQueueLimitJob: number | null;
  nQueueLimitJobRatio: number | null;
  nQueueLimitJobMin: number | null;
  nQueueLimitJobMax: number | null;
  nQueueLimitJobCores: number | null;
  nQueueLimitJobCoresRatio: number | null;
  nQueueLimitJobCoresMin: number | null;
  /** Static to-submit seed (slave mode: overwritten by PanDA commands). */
  nNewWorkers: number;
  /** Per queue per cycle; 0 = no limit. */
  maxNewWorkersPerCycle: number;
  maxSubmissionAttempts: number;
  allowJobMixture: boolean;
  /** Parsed from Harvester's "k=v,k2=v2" string; null when unset. */
  getJobCriteria: Record<string, string> | null;
  ddmEndpointIn: string | null;
  zipPerMB: number | null;
  prefetchEvents: boolean;
  /** Harvester's spelling. */
  initEventsMultipler: number;
  scatteredEvents: boolean;
  prodSourceLabelRandomWeightsPermille: Record<string, number>;
  prioritizedProdSourceLabels: string[];
  /** The template this queue was built from, if any. */
  templateQueueName: string | null;

  submitter: PluginSection;
  monitor: PluginSection;
  sweeper: PluginSection;
  messenger: PluginSection;
  preparator: PluginSection;
  stager: PluginSection;
  workerMaker: PluginSection;
  throttler?: PluginSection;
  zipper?: PluginSection;
  aux_preparator?: PluginSection;
  extractor?: PluginSection;
  /** Queue-level credential managers (a list in Harvester too). */
  credmanagers: PluginSection[];
  /** The `common` section as written (its keys are also copied into every plugin section). */
  common: Record<string, unknown>;

  /** Ours: see TemporalQueueSettings. */
  temporal: TemporalQueueSettings;

  /**
   * Keys we do not model (Harvester sets every key as an attribute, so plugins may read them,
   * e.g. walltimeLimit, middleware sections). Kept so nothing in the file is lost.
   */
  extra: Record<string, unknown>;

  /** Stable id of this resolved config (see configId.ts); workers keep the one they were created with. */
  configID: string;
}

export type Severity = 'error' | 'warning';

/** One problem found in a queue-config file. */
export interface ConfigError {
  severity: Severity;
  /** File (or source name) the problem is in. */
  file: string;
  /** Queue or template name; null for problems with the file as a whole. */
  queue: string | null;
  /** JSON path inside the queue entry, e.g. "submitter.templateFile"; "" for the entry itself. */
  field: string;
  /** The offending value; undefined when the field is missing. */
  value: unknown;
  /** What was expected instead. */
  expected: string;
  /** Set when the offending value was inherited from a template. */
  template?: string;
  /** One line naming all of the above. */
  message: string;
}

export interface QueueConfigLoadResult {
  /** Every valid resolved queue, active or not (check `active`). Sorted by name. */
  queues: QueueConfig[];
  /** Names of template entries (not queues). Sorted. */
  templates: string[];
  /** All errors found; a queue with an error is left out of `queues`. */
  errors: ConfigError[];
  warnings: ConfigError[];
}

/**
 * Tells whether a plugin module/class is registered. true = known; false = unknown; a string =
 * unknown, with that text saying why or what exists (it becomes the "expected" part of the error).
 * Supplied by src/plugins/registry.ts; without it module/name are only type-checked.
 */
export type KnownPluginPredicate = (kind: PluginKind, module: string, name: string) => boolean | string;

export interface QueueConfigOptions {
  isKnownPlugin?: KnownPluginPredicate;
  /**
   * This instance's id. When given, ${harvesterID} is expanded at load time (it is per
   * instance, not per worker); otherwise it stays and is expanded per worker.
   */
  harvesterID?: string;
  /** Further ${NAME} placeholders that plugins expand themselves, accepted by validation. */
  extraPlaceholders?: readonly string[];
}
