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
