/**
 * Lists of similar records in a compact form for workflow history: the fields every record shares
 * once, and per record only the fields that differ. A submitter cycle's worker specs differ in
 * little more than the worker id and the access point; its submission outcomes in the batch id.
 * Pure, so workflow-free and unit-tested; packing (gzip) is the activities' (util/packed).
 */

export interface CompactRecords<T extends object> {
  /** Fields with the same value in every record (compared as JSON). */
  common: Partial<T>;
  /** Per record, in order: the fields not in `common`. */
  each: Partial<T>[];
}

export function compactRecords<T extends object>(records: readonly T[]): CompactRecords<T> {
  const common: Record<string, unknown> = {};
  if (records.length > 1) {
    const first = records[0] as Record<string, unknown>;
    for (const [key, value] of Object.entries(first)) {
      if (value === undefined) continue;
      const json = JSON.stringify(value);
      if (records.every((r) => key in r && JSON.stringify((r as Record<string, unknown>)[key]) === json))
        common[key] = value;
    }
  }
  const each = records.map((r) => {
    const own: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(r))
      if (!(key in common) && value !== undefined) own[key] = value;
    return own as Partial<T>;
  });
  return { common: common as Partial<T>, each };
}

/** The records again, each its own object (`common` values are copied, not shared). */
export function expandRecords<T extends object>(c: CompactRecords<T>, what: string): T[] {
  if (typeof c !== 'object' || c === null || typeof c.common !== 'object' || !Array.isArray(c.each))
    throw new Error(`${what}: expected {"common": {...}, "each": [...]}`);
  const common = JSON.stringify(c.common);
  return c.each.map((own) => ({ ...JSON.parse(common), ...own }) as T);
}

/**
 * Ids as ranges [first, last]: the ids one allocateWorkerIds call returns come from one sequence
 * and are nearly always consecutive, so a cycle's 1,000 ids pass through history as a few numbers.
 */
export type IdRanges = [number, number][];

export function idRanges(ids: readonly number[]): IdRanges {
  const out: IdRanges = [];
  for (const id of ids) {
    if (!Number.isSafeInteger(id)) throw new RangeError(`idRanges: not an integer id: ${id}`);
    const last = out[out.length - 1];
    if (last && id === last[1] + 1) last[1] = id;
    else out.push([id, id]);
  }
  return out;
}

export function idsOfRanges(ranges: IdRanges, what: string): number[] {
  if (!Array.isArray(ranges)) throw new Error(`${what}: expected [[first, last], ...]`);
  const out: number[] = [];
  for (const r of ranges) {
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !Number.isSafeInteger(r[0]) ||
      !Number.isSafeInteger(r[1]) ||
      r[1] < r[0]
    )
      throw new Error(`${what}: expected [first, last] with first <= last, got ${JSON.stringify(r)}`);
    for (let id = r[0]; id <= r[1]; id++) out.push(id);
  }
  return out;
}
