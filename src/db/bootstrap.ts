/**
 * Opens the harvester database the settings name (HARVESTER_DATABASE_URL) or, without one, the
 * embedded PostgreSQL under the data folder, and applies pending migrations.
 */
import type { HarvesterSettings } from '../config/settings';
import type { Logger } from '../observability/logger';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded';
import { migrate } from './migrate';
import { type Db, describeDatabaseUrl, openDatabase } from './pool';

export interface HarvesterDatabase {
  /** Migration versions this open applied (empty when the database was up to date). */
  applied: number[];
  db: Db;
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export async function openHarvesterDatabase(
  settings: HarvesterSettings,
  log: Logger,
): Promise<HarvesterDatabase> {
  let embedded: EmbeddedDatabase | undefined;
  let url = settings.databaseUrl;
  if (!url) {
    const t0 = Date.now();
    embedded = await startEmbeddedPostgres(settings.dataDir, settings.embeddedPostgresPort);
    url = embedded.url;
    log.info({ ms: Date.now() - t0, port: settings.embeddedPostgresPort }, 'embedded PostgreSQL started');
  }
  let db: Db;
  try {
    db = await openDatabase(url);
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
  const applied = await migrate(db, {
    onApply: (m) => log.info({ migration: `${m.version}_${m.name}` }, 'applying migration'),
  });
  log.info({ database: describeDatabaseUrl(url), applied }, 'harvester database ready');
  return {
    db,
    url,
    embedded: Boolean(embedded),
    applied,
    close: async () => {
      await db.end();
      await embedded?.stop();
    },
  };
}
