/**
 * Small helpers shared by the data-access modules (workers.ts, jobs.ts, ...): what they accept as
 * a connection, how they run several statements atomically, and how column values become the
 * plain JSON-safe values that cross the Temporal payload boundary.
 */
import pg from 'pg';
import { type Db, inTransaction } from './pool';

/**
 * Anything a data-access function can run a query on: the pool, or a client the caller holds
 * inside its own transaction (BEGIN already sent), so that several calls commit together.
 */
export type Queryable = Db | pg.PoolClient;

/** A point in time as callers have it: a Date, or the ISO-8601 string used in specs. */
export type TimeInput = Date | string;

/**
 * Runs fn atomically. Given the pool, opens a transaction of its own; given a client, the caller
 * owns the transaction (it must have sent BEGIN) and fn simply runs on that client.
 */
export async function withTransaction<T>(
  q: Queryable,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  if (q instanceof pg.Pool) return inTransaction(q, fn);
  return fn(q as pg.PoolClient);
}

/** timestamptz column -> ISO string; NULL -> undefined (optional fields of the specs). */
export function isoOrUndefined(value: Date | null | undefined): string | undefined {
  return value == null ? undefined : value.toISOString();
}

/** Nullable text/integer column -> optional field. */
export function orUndefined<T>(value: T | null | undefined): T | undefined {
  return value == null ? undefined : value;
}

/**
 * int8 columns come back from pg as strings (they can exceed 2^53). Ids and counts here stay far
 * below that, so they are converted, but a value that would lose precision is an error rather
 * than a silently wrong id.
 */
export function toSafeNumber(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n))
    throw new RangeError(`database integer ${value} is not a safe JavaScript integer`);
  return n;
}

export function toDate(value: TimeInput): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new RangeError(`invalid time: ${String(value)}`);
  return d;
}

export function toDateOrNull(value: TimeInput | null | undefined): Date | null {
  return value == null ? null : toDate(value);
}
