/**
 * Versioned SQL migrations. Files in src/db/migrations are named NNNN_description.sql and are
 * applied in order, each in its own transaction, exactly once; the applied versions are kept in
 * harvester_schema_migrations with a checksum so an edited, already-applied file is reported
 * instead of silently ignored. A PostgreSQL advisory lock lets several processes start at once.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './pool';

export const MIGRATIONS_DIR = join(__dirname, 'migrations');
const MIGRATION_LOCK_ID = 0x4841525653; // "HARVS"

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  version: number;
  name: string;
  appliedAt: Date | null;
}

export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql'));
  const migrations = files.map((file) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file ${join(dir, file)}: name must look like 0001_description.sql`);
    const sql = readFileSync(join(dir, file), 'utf8');
    return {
      version: Number(m[1]),
      name: m[2],
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    };
  });
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new Error(`two migrations share version ${migrations[i].version} in ${dir}`);
    }
  }
  return migrations;
}

export async function ensureMigrationsTable(db: Db): Promise<void> {
  await db.query(`CREATE TABLE IF NOT EXISTS harvester_schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
}

/** Applies every migration not yet applied, up to `target` (default: all). Returns the versions applied now. */
export async function migrate(
  db: Db,
  opts: { target?: number; dir?: string; onApply?: (m: Migration) => void } = {},
): Promise<number[]> {
  const migrations = loadMigrations(opts.dir).filter(
    (m) => opts.target === undefined || m.version <= opts.target,
  );
  const client = await db.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await client.query(`CREATE TABLE IF NOT EXISTS harvester_schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Map<number, string>(
      (await client.query('SELECT version, checksum FROM harvester_schema_migrations')).rows.map((r) => [
        r.version as number,
        r.checksum as string,
      ]),
    );
    const done: number[] = [];
    for (const m of migrations) {
      const prior = applied.get(m.version);
      if (prior !== undefined) {
        if (prior !== m.checksum) {
          throw new Error(
            `migration ${m.version}_${m.name} was changed after it was applied (checksum differs); add a new migration instead`,
          );
        }
        continue;
      }
      opts.onApply?.(m);
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query(
          'INSERT INTO harvester_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
          [m.version, m.name, m.checksum],
        );
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`);
      }
      done.push(m.version);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
    client.release();
  }
}

export async function migrationStatus(db: Db, dir?: string): Promise<MigrationStatus[]> {
  await ensureMigrationsTable(db);
  const rows = (await db.query('SELECT version, applied_at FROM harvester_schema_migrations')).rows;
  const appliedAt = new Map<number, Date>(rows.map((r) => [r.version as number, r.applied_at as Date]));
  return loadMigrations(dir).map((m) => ({
    version: m.version,
    name: m.name,
    appliedAt: appliedAt.get(m.version) ?? null,
  }));
}
