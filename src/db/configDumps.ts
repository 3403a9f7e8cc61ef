/**
 * Queue configuration dumps (Harvester's qcdump_table): each config a worker was created under is
 * kept under its configID, so a worker is handled with the config it was submitted with even
 * after the queue's config changed. A configID's content never changes.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from './sql';

export interface ConfigDump {
  configID: string;
  queueName: string;
  checksum: string;
  data: Record<string, unknown>;
  creationTime: string;
}

interface ConfigDumpRow {
  config_id: string;
  queue_name: string;
  checksum: string;
  data: Record<string, unknown>;
  creation_time: Date;
}

function toDump(r: ConfigDumpRow): ConfigDump {
  return {
    configID: r.config_id,
    queueName: r.queue_name,
    checksum: r.checksum,
    data: r.data,
    creationTime: r.creation_time.toISOString(),
  };
}

export class ConfigDumpConflictError extends Error {
  override name = 'ConfigDumpConflictError';
}

/** JSON with object keys sorted at every level, so equal configs hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Checksum of a queue config, ignoring queueStatus as Harvester does (a status flip from PanDA is
 * not a new configuration). sha256 instead of Harvester's md5; it is only compared with itself.
 */
export function configChecksum(data: Record<string, unknown>): string {
  const { queueStatus: _ignored, ...rest } = data;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/**
 * Stores a config under configID. Repeating the call with the same content is a no-op; the same
 * configID with different content is an error (ConfigDumpConflictError), because workers created
 * under that id would silently change configuration.
 */
export async function saveConfigDump(
  db: Queryable,
  configID: string,
  queueName: string,
  data: Record<string, unknown>,
): Promise<ConfigDump> {
  const checksum = configChecksum(data);
  await db.query(
    `INSERT INTO queue_config_dumps (config_id, queue_name, checksum, data) VALUES ($1, $2, $3, $4::jsonb)
     ON CONFLICT (config_id) DO NOTHING`,
    [configID, queueName, checksum, JSON.stringify(data)],
  );
  const stored = await getConfigDump(db, configID);
  if (!stored) throw new Error(`config dump ${configID} vanished right after it was saved`);
  if (stored.checksum !== checksum || stored.queueName !== queueName) {
    throw new ConfigDumpConflictError(
      `config ${configID} is already stored for queue ${stored.queueName} with different content (checksum ${stored.checksum}, new ${checksum}); a config id must never change its content`,
    );
  }
  return stored;
}

export async function getConfigDump(db: Queryable, configID: string): Promise<ConfigDump | null> {
  const res = await db.query<ConfigDumpRow>('SELECT * FROM queue_config_dumps WHERE config_id = $1', [
    configID,
  ]);
  return res.rows[0] ? toDump(res.rows[0]) : null;
}

/** The newest stored config of a queue with this content, to reuse its id instead of making a new one. */
export async function findConfigDumpByChecksum(
  db: Queryable,
  queueName: string,
  checksum: string,
): Promise<ConfigDump | null> {
  const res = await db.query<ConfigDumpRow>(
    `SELECT * FROM queue_config_dumps WHERE queue_name = $1 AND checksum = $2
     ORDER BY creation_time DESC, config_id DESC LIMIT 1`,
    [queueName, checksum],
  );
  return res.rows[0] ? toDump(res.rows[0]) : null;
}
