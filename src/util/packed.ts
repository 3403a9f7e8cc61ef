/**
 * A value travelling through a workflow's history that the workflow only passes on: gzip'd JSON
 * in base64. Lists of similar records (worker specs, status changes) shrink several times, and the
 * workflow code never needs to look inside. Packed and unpacked in activities only (node:zlib).
 */
import { gunzipSync, gzipSync } from 'node:zlib';

/** T is what the packed value holds (only for the type checker). */
export interface Packed<T> {
  gzipBase64: string;
  /** Never set: ties the packed value to its type. */
  readonly __holds?: T;
}

export function pack<T>(value: T): Packed<T> {
  return { gzipBase64: gzipSync(Buffer.from(JSON.stringify(value), 'utf8')).toString('base64') };
}

/** @param what names the value in the error when it is not a packed value */
export function unpack<T>(packed: Packed<T>, what: string): T {
  if (typeof packed?.gzipBase64 !== 'string') throw new Error(`${what}: expected {"gzipBase64": "<...>"}`);
  try {
    return JSON.parse(gunzipSync(Buffer.from(packed.gzipBase64, 'base64')).toString('utf8')) as T;
  } catch (err) {
    throw new Error(`${what}: not gzip'd JSON in base64 (${(err as Error).message})`);
  }
}

/**
 * The largest packed value sent through a workflow's history in one piece. Temporal refuses a
 * payload above 2 MB (and warns above 256 KB); 1 MiB leaves room for the rest of the event.
 */
export const MAX_PACKED_BYTES = 1024 * 1024;

/**
 * Packs a list as few values of at most maxBytes each (a push-mode cycle's job descriptions can
 * outgrow one): the whole list if it fits, else halves, recursively. One item that alone packs to
 * more than the bound is an error naming it (whatOf) and its size.
 */
export function packInChunks<I, T>(
  items: readonly I[],
  build: (slice: readonly I[]) => T,
  whatOf: (item: I) => string,
  maxBytes = MAX_PACKED_BYTES,
): Packed<T>[] {
  if (items.length === 0) return [];
  const packed = pack(build(items));
  if (packed.gzipBase64.length <= maxBytes) return [packed];
  if (items.length === 1)
    throw new Error(
      `${whatOf(items[0])} packs to ${packed.gzipBase64.length} bytes, over the ${maxBytes}-byte bound of one workflow history payload`,
    );
  const half = Math.ceil(items.length / 2);
  return [
    ...packInChunks(items.slice(0, half), build, whatOf, maxBytes),
    ...packInChunks(items.slice(half), build, whatOf, maxBytes),
  ];
}
