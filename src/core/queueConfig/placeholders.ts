/**
 * ${...} placeholders in plugin parameters (Harvester: WorkSpec.get_access_point, the
 * credential manager, HTCondorSubmitter).
 *
 * Two moments: at load time only what is fixed for the whole config is expanded (${common.X},
 * and ${harvesterID} when the instance id is known) and every placeholder is checked, so a typo
 * is a load error instead of a directory literally named "${workerId}". Per-worker values stay
 * in the resolved config and are expanded with expandPlaceholders() when a worker uses them.
 */
import type { WorkSpec } from '../specs';

/** Same character set as Harvester's pattern, so "${TMPDIR:-/tmp}"-style shell text is left alone. */
const PLACEHOLDER_PATTERN = /\$\{([A-Za-z0-9_.]+)\}/g;

/**
 * ${_workerID_a.b...}: each dotted number is a digit position in the decimal workerID counted
 * from the right, 0 being the last digit; positions past the left end read as "0". Used to
 * shard directories: workerID 123456 with _workerID_3.2 gives "34".
 */
const WORKER_ID_DIGITS_PATTERN = /^_workerID_(\d+(?:\.\d+)*)$/;

const COMMON_PREFIX = 'common.';

/** Every WorkSpec attribute; a Record so the compiler flags this list when WorkSpec changes. */
const WORKSPEC_ATTRIBUTES: Readonly<Record<keyof WorkSpec, true>> = {
  workerID: true,
  computingSite: true,
  harvesterID: true,
  configID: true,
  mapType: true,
  status: true,
  resourceType: true,
  jobType: true,
  pilotType: true,
  prodSourceLabel: true,
  nCore: true,
  minRamCount: true,
  maxDiskCount: true,
  maxWalltime: true,
  batchID: true,
  queueName: true,
  computingElement: true,
  submissionHost: true,
  nodeID: true,
  accessPoint: true,
  creationTime: true,
  submitTime: true,
  startTime: true,
  endTime: true,
  nativeStatus: true,
  nativeExitCode: true,
  diagMessage: true,
  errorCode: true,
  pandaIDs: true,
  workAttributes: true,
};

/** Placeholders a plugin expands itself (Harvester zippers: zipDir "${SRCDIR}" / "${WORKDIR}"). */
const PLUGIN_OWN_PLACEHOLDERS: ReadonlySet<string> = new Set(['SRCDIR', 'WORKDIR']);

/** Instance-level names; harvester_id is HTCondorSubmitter's spelling of harvesterID. */
const HARVESTER_ID_NAMES: ReadonlySet<string> = new Set(['harvesterID', 'harvester_id']);

export class PlaceholderError extends Error {
  constructor(
    readonly placeholder: string,
    message: string,
  ) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

/** Names of the placeholders in a string, in order of appearance (duplicates kept). */
export function placeholdersIn(text: string): string[] {
  return Array.from(text.matchAll(PLACEHOLDER_PATTERN), (m) => m[1]!);
}

function isWorkSpecAttribute(name: string): name is keyof WorkSpec {
  return Object.hasOwn(WORKSPEC_ATTRIBUTES, name);
}

/** The digits selected by a `_workerID_a.b` spec ("3.2") from a worker id. */
export function workerIdDigits(workerID: number, positions: string): string {
  const digits = String(workerID);
  return positions
    .split('.')
    .map((p) => {
      const fromRight = Number(p);
      const index = digits.length - 1 - fromRight;
      return index >= 0 ? digits[index] : '0';
    })
    .join('');
}

/** Why a placeholder name is not acceptable at load time, or null when it is. */
export function checkPlaceholderName(
  name: string,
  common: Readonly<Record<string, unknown>>,
  extraNames: ReadonlySet<string>,
): string | null {
  if (name.startsWith(COMMON_PREFIX)) {
    const key = name.slice(COMMON_PREFIX.length);
    return Object.hasOwn(common, key) ? null : `a key "${key}" in the queue's common section`;
  }
  if (
    HARVESTER_ID_NAMES.has(name) ||
    name === 'hostname' ||
    isWorkSpecAttribute(name) ||
    WORKER_ID_DIGITS_PATTERN.test(name) ||
    PLUGIN_OWN_PLACEHOLDERS.has(name) ||
    extraNames.has(name)
  ) {
    return null;
  }
  // biome-ignore lint/suspicious/noTemplateCurlyInString: literal placeholder names in a message
  return 'a known placeholder: ${harvesterID}, ${hostname}, ${workerID}, ${_workerID_a.b}, ${common.KEY} or ${<WorkSpec attribute>}';
}

/** Values fixed for the whole config, expanded at load time. */
export interface ConfigLevelValues {
  common: Readonly<Record<string, unknown>>;
  harvesterID?: string;
}

/**
 * Expands ${common.X} (and ${harvesterID} when known); everything else is left for the
 * per-worker expansion. Unknown names are left too: validation reports them separately.
 */
export function expandConfigLevel(text: string, values: ConfigLevelValues): string {
  return text.replace(PLACEHOLDER_PATTERN, (whole, name: string) => {
    if (name.startsWith(COMMON_PREFIX)) {
      const key = name.slice(COMMON_PREFIX.length);
      const value = values.common[key];
      return Object.hasOwn(values.common, key) && isScalar(value) ? String(value) : whole;
    }
    if (HARVESTER_ID_NAMES.has(name) && values.harvesterID !== undefined) return values.harvesterID;
    return whole;
  });
}

/** What the caller knows besides the WorkSpec. */
export interface PlaceholderExtras {
  /** Defaults to worker.harvesterID. */
  harvesterID?: string;
  /** Host the plugin runs on (an edge node, hence not known at load time). */
  hostname?: string;
  /** Values for names given in QueueConfigOptions.extraPlaceholders. */
  values?: Readonly<Record<string, string>>;
}

/**
 * Expands per-worker placeholders in one config string. Throws PlaceholderError when a
 * placeholder has no value for this worker (say ${batchID} before submission): a wrong path
 * must fail loudly, not quietly contain "undefined". ${SRCDIR}/${WORKDIR} are left for the plugin.
 */
export function expandPlaceholders(
  template: string,
  worker: WorkSpec,
  extra: PlaceholderExtras = {},
): string {
  return template.replace(PLACEHOLDER_PATTERN, (whole, name: string) => {
    if (PLUGIN_OWN_PLACEHOLDERS.has(name)) return whole;
    const value = placeholderValue(name, worker, extra);
    if (value === undefined) {
      throw new PlaceholderError(
        name,
        `placeholder \${${name}} in "${template}" has no value for worker ${worker.workerID} of ${worker.computingSite}`,
      );
    }
    return value;
  });
}

function placeholderValue(name: string, worker: WorkSpec, extra: PlaceholderExtras): string | undefined {
  if (HARVESTER_ID_NAMES.has(name)) return extra.harvesterID ?? worker.harvesterID;
  if (name === 'hostname') return extra.hostname;
  const digits = WORKER_ID_DIGITS_PATTERN.exec(name);
  if (digits !== null) return workerIdDigits(worker.workerID, digits[1]!);
  if (extra.values !== undefined && Object.hasOwn(extra.values, name)) return extra.values[name];
  if (isWorkSpecAttribute(name)) {
    const value = worker[name];
    return isScalar(value) ? String(value) : undefined;
  }
  return undefined;
}

function isScalar(value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}
