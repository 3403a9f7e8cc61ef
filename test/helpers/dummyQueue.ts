/**
 * A PanDA queue on Harvester's dummy plugins, in panda_queueconfig.json form, as the integration
 * tests use it: the module paths are Harvester's own (the registry maps them to ours), status files
 * in a shared-file messenger's access point drive the dummy monitor.
 */

/** Harvester's package prefix for its plugin modules. */
export const HARVESTER_MODULES = 'pandaharvester.harvester';

const H = HARVESTER_MODULES;

/** Plugin sections and their dummy defaults; an override adds parameters to a section. */
const SECTIONS = {
  submitter: { module: `${H}submitter.dummy_submitter`, name: 'DummySubmitter' },
  monitor: { module: `${H}monitor.dummy_monitor`, name: 'DummyMonitor' },
  sweeper: { module: `${H}sweeper.dummy_sweeper`, name: 'DummySweeper' },
  workerMaker: { module: `${H}workermaker.simple_worker_maker`, name: 'SimpleWorkerMaker' },
  messenger: { module: `${H}messenger.shared_file_messenger`, name: 'SharedFileMessenger' },
  preparator: { module: `${H}preparator.dummy_preparator`, name: 'DummyPreparator' },
  stager: { module: `${H}stager.dummy_stager`, name: 'DummyStager' },
} as const;

type Section = keyof typeof SECTIONS;

export type DummyQueueOverrides = Partial<Record<Section | 'temporal', Record<string, unknown>>> &
  Record<string, unknown>;

/**
 * @param accessPoint the messenger's access-point template, e.g. `${scratch}/${'$'}{workerID}`
 * @param overrides queue attributes (limits, mapType...) replace the defaults; plugin sections and
 *                  `temporal` are merged key by key into the dummy ones
 */
export function dummyQueueConfig(
  accessPoint: string,
  overrides: DummyQueueOverrides = {},
): Record<string, unknown> {
  const queue: Record<string, unknown> = { queueStatus: 'online', mapType: 'NoJob', maxWorkers: 10 };
  for (const [key, value] of Object.entries(overrides))
    if (!(key in SECTIONS) && key !== 'temporal') queue[key] = value;
  for (const [name, defaults] of Object.entries(SECTIONS) as [Section, Record<string, unknown>][]) {
    queue[name] = { ...defaults, ...(name === 'messenger' ? { accessPoint } : {}), ...overrides[name] };
  }
  if (overrides.temporal) queue.temporal = { ...overrides.temporal };
  return queue;
}

/** The access-point template `<dir>/${workerID}` (the placeholder is Harvester's, not JavaScript's). */
export function accessPointUnder(dir: string): string {
  return `${dir}/$` + '{workerID}';
}
