/**
 * The embedded PostgreSQL that `npm start` uses when HARVESTER_DATABASE_URL is not set: it starts
 * on a fresh machine (as root too: it then runs the server as a `postgres` system user), takes the
 * harvester's migrations, stops cleanly, and a second start on the same data folder finds the data.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startEmbeddedPostgres } from '../../src/db/embedded';
import { migrate, migrationStatus } from '../../src/db/migrate';
import { openDatabase } from '../../src/db/pool';
import { portInUse } from '../../src/util/net';

const dataDir = mkdtempSync(join(tmpdir(), 'harvester-embedded-pg-'));
// Like a folder in a checkout (mkdtemp makes it private): the server may run as another user.
chmodSync(dataDir, 0o755);
after(() => rmSync(dataDir, { recursive: true, force: true }));
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** A port no one listens on, away from the project's defaults (5433, 7233...). */
async function freePort(): Promise<number> {
  for (let port = 25_000 + Math.floor(Math.random() * 5000); ; port++) {
    if (!(await portInUse('127.0.0.1', port))) return port;
  }
}

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
  assert.ok(existsSync(join(dataDir, 'pg', 'PG_VERSION')), 'the data folder stays');
  assert.equal(await portInUse('127.0.0.1', port), false, 'nothing listens after stop');

  const second = await startEmbeddedPostgres(dataDir, port);
  try {
    const db = await openDatabase(second.url);
    try {
      assert.deepEqual(await migrate(db), [], 'nothing to migrate the second time');
      assert.ok((await migrationStatus(db)).every((m) => m.appliedAt !== null));
      const { rows } = await db.query<{ harvester_id: string }>(
        `SELECT harvester_id FROM harvester_instances WHERE harvester_id = 'embedded-test'`,
      );
      assert.equal(rows.length, 1, 'the row written before the restart is there');
    } finally {
      await db.end();
    }
  } finally {
    await second.stop();
  }
  assert.equal(await portInUse('127.0.0.1', port), false);
});

test('as root, a data folder the postgres user cannot reach is a clear error naming the folder, at once', {
  skip: !asRoot && 'only root runs the server as another user',
}, async () => {
  const privateDir = join(dataDir, 'private');
  mkdirSync(privateDir, { mode: 0o700 });
  await assert.rejects(
    startEmbeddedPostgres(join(privateDir, 'data'), await freePort()),
    /runs as the 'postgres' user, which cannot enter .*private \(mode 700\); set HARVESTER_DATA_DIR/,
  );
});
