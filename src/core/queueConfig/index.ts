/** Harvester's panda_queueconfig.json, accepted as it is, validated with clear errors. */
export { configIdOf } from './configId';
export { HARVESTER_QUEUE_DEFAULTS, TEMPORAL_DEFAULTS } from './defaults';
export { describeValue, formatProblem } from './diagnostics';
export {
  applyLimitRules,
  JOB_LIMIT_ATTRS,
  QUEUE_LIMIT_ATTRS,
  type QueueLimits,
  WORKER_LIMIT_ATTRS,
} from './limits';
export { loadQueueConfigFile, parseQueueConfig, readQueueConfigDocument } from './load';
export {
  layerQueueEntry,
  type MergedQueueConfig,
  mergeQueueConfigDocuments,
  parseLayeredQueueConfig,
  type QueueConfigLayer,
} from './merge';
export {
  expandPlaceholders,
  PlaceholderError,
  type PlaceholderExtras,
  placeholdersIn,
  workerIdDigits,
} from './placeholders';
export {
  applyQueueList,
  parseQueueList,
  QUEUE_LIST_ALL,
  QUEUE_LIST_DYNAMIC,
  QUEUE_LIST_SOURCE,
  queueListIsOpen,
} from './queueList';
export { type ResolveQueueResult, resolveQueue } from './resolve';
export { pluginTaskQueueOf } from './temporalSection';
export type {
  ConfigError,
  KnownPluginPredicate,
  PluginSection,
  QueueConfig,
  QueueConfigLoadResult,
  QueueConfigOptions,
  RunMode,
  TemporalQueueSettings,
} from './types';
export { MANDATORY_PLUGIN_SLOTS, OPTIONAL_PLUGIN_SLOTS } from './types';
