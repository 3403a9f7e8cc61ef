/**
 * Queue attributes whose written form needs more than a type check: Harvester's CSV and
 * "k=v" strings, and the label weight/priority lists.
 */
import { TRUE_PILOT_NO_HEARTBEAT } from './defaults';
import type { FieldReader } from './fieldReader';
import { isPlainObject } from './json';

/** CSV (Harvester's form) or a list; truePilot with nothing set gets Harvester's fill-in. */
export function readNoHeartbeat(reader: FieldReader, truePilot: boolean): string[] {
  const fallback = truePilot ? [...TRUE_PILOT_NO_HEARTBEAT] : [];
  if (!reader.has('noHeartbeat')) return fallback;
  const raw = reader.raw('noHeartbeat');
  let statuses: string[];
  if (typeof raw === 'string') statuses = raw.split(',');
  else if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) statuses = raw;
  else {
    reader.error('noHeartbeat', 'a comma-separated string of job statuses, e.g. "running,finished"');
    return fallback;
  }
  const cleaned = statuses.map((s) => s.trim()).filter((s) => s !== '');
  return cleaned.length === 0 ? fallback : cleaned;
}

/** Harvester's "k=v,k2=v2" getJobCriteria, parsed as it does (an item without exactly one '=' crashes Harvester; here it is an error). */
export function readGetJobCriteria(reader: FieldReader): Record<string, string> | null {
  if (!reader.has('getJobCriteria')) return null;
  const raw = reader.raw('getJobCriteria');
  if (typeof raw !== 'string') {
    reader.error('getJobCriteria', 'a string "key=value,key2=value2"');
    return null;
  }
  if (raw.trim() === '') return null;
  const criteria: Record<string, string> = {};
  for (const item of raw.split(',')) {
    const parts = item.split('=');
    if (parts.length !== 2 || parts[0]!.trim() === '') {
      reader.error('getJobCriteria', `items of the form key=value separated by commas ("${item}" is not)`);
      return null;
    }
    criteria[parts[0]!.trim()] = parts[1]!.trim();
  }
  return criteria;
}

export function readPermilleWeights(reader: FieldReader): Record<string, number> {
  const key = 'prodSourceLabelRandomWeightsPermille';
  if (!reader.has(key)) return {};
  const raw = reader.raw(key);
  if (
    isPlainObject(raw) &&
    Object.values(raw).every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1000)
  ) {
    return raw as Record<string, number>;
  }
  reader.error(key, 'an object of prodSourceLabel -> whole number of permille (0..1000)');
  return {};
}

export function readStringList(reader: FieldReader, key: string, fallback: readonly string[]): string[] {
  if (!reader.has(key)) return [...fallback];
  const raw = reader.raw(key);
  if (Array.isArray(raw) && raw.every((s) => typeof s === 'string')) return [...raw];
  reader.error(key, 'a list of strings');
  return [...fallback];
}
