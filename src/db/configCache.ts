/**
 * The config_cache table (Harvester's cache_table): the last good copy of each document fetched
 * from PanDA for an instance, with when it was fetched and the latest failure since.
 */
import type { Queryable } from './sql';

export interface CachedDocument {
  sourceUrl: string;
  data: unknown;
  fetchedAt: Date;
  lastError: string | null;
  lastErrorAt: Date | null;
}

interface CacheRow {
  source_url: string;
  data: unknown;
  fetched_at: Date;
  last_error: string | null;
  last_error_at: Date | null;
}

export async function getCachedDocument(
  db: Queryable,
  harvesterID: string,
  key: string,
): Promise<CachedDocument | null> {
  const { rows } = await db.query<CacheRow>(
    `SELECT source_url, data, fetched_at, last_error, last_error_at FROM config_cache
     WHERE harvester_id = $1 AND cache_key = $2`,
    [harvesterID, key],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    sourceUrl: r.source_url,
    data: r.data,
    fetchedAt: r.fetched_at,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
  };
}

/** Replaces the stored copy with a freshly fetched good one and clears the error. */
export async function saveCachedDocument(
  db: Queryable,
  harvesterID: string,
  key: string,
  doc: { sourceUrl: string; data: unknown; fetchedAt: Date },
): Promise<void> {
  await db.query(
    `INSERT INTO config_cache (harvester_id, cache_key, source_url, data, fetched_at)
     VALUES ($1, $2, $3, $4::jsonb, $5)
     ON CONFLICT (harvester_id, cache_key) DO UPDATE
       SET source_url = EXCLUDED.source_url, data = EXCLUDED.data, fetched_at = EXCLUDED.fetched_at,
           last_error = NULL, last_error_at = NULL`,
    [harvesterID, key, doc.sourceUrl, JSON.stringify(doc.data), doc.fetchedAt],
  );
}

/** Notes a failed fetch on the stored copy (which is kept); no row yet = nothing to note it on. */
export async function recordCacheError(
  db: Queryable,
  harvesterID: string,
  key: string,
  message: string,
  at: Date,
): Promise<void> {
  await db.query(
    `UPDATE config_cache SET last_error = $3, last_error_at = $4 WHERE harvester_id = $1 AND cache_key = $2`,
    [harvesterID, key, message, at],
  );
}
