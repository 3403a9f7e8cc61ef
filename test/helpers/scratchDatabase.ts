/**
 * A fresh PostgreSQL database for one run (tests, benches, the history-fixture recorder), created
 * on a server and dropped again afterwards: runs never see each other's rows.
 */
import pg from 'pg';

export interface ScratchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * @param serverUrl any database URL on the server (its path is replaced by the new database's name)
 * @param prefix the new database's name starts with it, then time and pid
 * @param setting what the user changes to point elsewhere, named in the error (e.g. an env variable)
 */
export async function createScratchDatabase(
  serverUrl: string,
  prefix: string,
  setting: string,
): Promise<ScratchDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`cannot connect to PostgreSQL at ${serverUrl} (${setting}): ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
