/**
 * Harvester-style placeholders in batch templates (sbatch scripts, HTCondor .sdf files, local pilot
 * scripts). Two spellings are accepted because both occur in Harvester configs:
 *   `${workerID}`  (access points, credmanager params) and
 *   `{workerID}`   (Harvester's slurm/htcondor templates, filled with Python's format_map).
 * Only *known* keys are replaced. Anything else (`${HOME}`, `{a,b}` brace expansion, `$(Cluster)`
 * condor macros) is left exactly as written, as Harvester's SafeDict does, so templates can keep
 * their own shell and submit-language syntax. `${_workerID_a.b}` gives worker-id digits counted from
 * the right (directory sharding; same rule as common/accessPoint.ts).
 */
import type { WorkSpec } from '../../core/specs';

export type PlaceholderValue = string | number | undefined;
export type PlaceholderMap = Readonly<Record<string, PlaceholderValue>>;

const DOLLAR = /\$\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;
// `{key}` not preceded by `$` or another `{`, not followed by `}`: `${x}` and `{{x}}` are not this form.
const BARE = /(?<![${])\{([A-Za-z_][A-Za-z0-9_.]*)\}(?!\})/g;
const WORKER_ID_DIGITS = /^_workerID_((?:\d+\.)*\d+)$/;

/** `_workerID_3.2` of worker 12345 → "23"; a position beyond the id gives "0". */
export function workerIdDigits(workerID: number, positions: string): string {
  const id = String(workerID);
  return positions
    .split('.')
    .map((p) => {
      const index = id.length - 1 - Number(p);
      return index >= 0 ? id[index] : '0';
    })
    .join('');
}

/** The value a placeholder stands for, or undefined when it is not one we know (left untouched). */
export function lookupPlaceholder(key: string, values: PlaceholderMap): string | undefined {
  const digits = WORKER_ID_DIGITS.exec(key);
  if (digits) {
    const id = values['workerID'];
    return id === undefined ? undefined : workerIdDigits(Number(id), digits[1]);
  }
  const value = values[key];
  return value === undefined ? undefined : String(value);
}

/** Placeholder keys (both spellings) that appear in a template, in first-seen order. */
export function placeholdersIn(template: string): string[] {
  const seen = new Set<string>();
  for (const re of [DOLLAR, BARE]) {
    for (const m of template.matchAll(re)) seen.add(m[1]);
  }
  return [...seen];
}

/**
 * Replaces known placeholders. `replacer` may override how a known key is written (the HTCondor
 * submitter turns per-worker keys into submit-language macros with it).
 */
export function expandPlaceholders(
  template: string,
  values: PlaceholderMap,
  replacer: (key: string, value: string) => string = (_key, value) => value,
): string {
  const sub = (whole: string, key: string): string => {
    const value = lookupPlaceholder(key, values);
    return value === undefined ? whole : replacer(key, value);
  };
  return template.replace(DOLLAR, sub).replace(BARE, sub);
}

/** Extra values a submitter computes (Harvester's make_placeholder_map: nNode, requestRam, ...). */
export interface PlaceholderExtras {
  harvesterID: string;
  accessPoint?: string;
  nCorePerNode?: number;
  localQueueName?: string;
  logDir?: string;
  [key: string]: PlaceholderValue;
}

/**
 * The map for one worker: every scalar WorkSpec attribute under its own name, plus Harvester's
 * derived request values. Derivations follow Harvester's slurm submitter: RAM in MB with at least
 * 1 MB per core, walltime in seconds and whole minutes, nodes = ceil(cores / cores per node).
 */
export function workerPlaceholders(
  worker: WorkSpec,
  extras: PlaceholderExtras,
): Record<string, PlaceholderValue> {
  const map: Record<string, PlaceholderValue> = {};
  for (const [key, value] of Object.entries(worker)) {
    if (typeof value === 'string' || typeof value === 'number') map[key] = value;
  }
  const nCorePerNode =
    extras.nCorePerNode && extras.nCorePerNode > 0 ? extras.nCorePerNode : worker.nCore || 1;
  const nCore = worker.nCore > 0 ? worker.nCore : nCorePerNode;
  const requestRam = Math.max(worker.minRamCount ?? 0, nCore);
  const walltime = worker.maxWalltime ?? 0;
  Object.assign(map, {
    nCore,
    nCoreTotal: nCore,
    nCorePerNode,
    nNode: Math.ceil(nCore / nCorePerNode),
    requestRam,
    requestRamBytes: requestRam * 2 ** 20,
    requestRamPerCore: Math.ceil(requestRam / nCore),
    requestDisk: worker.maxDiskCount ? worker.maxDiskCount * 1024 : 1,
    requestWalltime: walltime,
    requestWalltimeMinute: Math.ceil(walltime / 60),
    requestCputime: walltime * nCore,
    requestCputimeMinute: Math.ceil((walltime * nCore) / 60),
    pandaQueueName: worker.computingSite,
  });
  for (const [key, value] of Object.entries(extras)) {
    if (value !== undefined) map[key] = value;
  }
  return map;
}
