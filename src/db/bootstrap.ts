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
  /** The embedded cluster's folder, and the data-folder link to it when it is elsewhere. */
  embeddedPgDir?: string;
  embeddedLinkedFrom?: string;
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
    embedded = await startEmbeddedPostgres(settings.dataDir, settings.embeddedPostgresPort, {
      relocateWhenUnreachable: !settings.dataDirExplicit,
    });
    url = embedded.url;
    for (const note of embedded.notes) log.warn({ pgDir: embedded.pgDir }, note);
    log.info(
      { ms: Date.now() - t0, port: settings.embeddedPostgresPort, pgDir: embedded.pgDir },
      'embedded PostgreSQL started',
    );
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
    embeddedPgDir: embedded?.pgDir,
    embeddedLinkedFrom: embedded?.linkedFrom,
    applied,
    close: async () => {
      await db.end();
      await embedded?.stop();
    },
  };
}
