import pg from 'pg';

export type Db = pg.Pool;

/** A short, password-free description of a connection string, for error messages and logs. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '<unparseable database URL>';
  }
}

export class DatabaseConnectError extends Error {
  override name = 'DatabaseConnectError';
}

/**
 * Opens a pool and proves it works with one round trip, so that a wrong URL fails here, within
 * connectTimeoutMs, with a message that names the server, instead of on the first real query.
 */
export async function openDatabase(
  url: string,
  opts: { max?: number; connectTimeoutMs?: number; applicationName?: string } = {},
): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    application_name: opts.applicationName ?? 'temporal-harvester',
  });
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw new DatabaseConnectError(
      `cannot connect to the harvester database ${describeDatabaseUrl(url)} (HARVESTER_DATABASE_URL): ${(err as Error).message}`,
    );
  }
  return pool;
}

/** Runs fn in one transaction; rolls back on any error. */
export async function inTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
