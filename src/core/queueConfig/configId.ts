/**
 * configID: a stable id per distinct resolved config. Harvester stores an md5 of the config
 * minus queueStatus and hands workers the row id; workers then keep using the plugin
 * parameters they were created with even after the file changes. Here the id is the hash
 * itself (sha256 of canonical JSON), so it needs no table to be stable across restarts and
 * instances. queueStatus (and `active`, derived from it) is left out as Harvester does: taking
 * a queue offline and back must not look like a new config.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './json';
import type { QueueConfig } from './types';

/** Fields that do not define the config itself. */
const EXCLUDED_FROM_ID: ReadonlySet<string> = new Set(['queueStatus', 'active', 'configID']);

export function configIdOf(queue: Omit<QueueConfig, 'configID'> | QueueConfig): string {
  const hashed: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(queue)) {
    if (!EXCLUDED_FROM_ID.has(key)) hashed[key] = value;
  }
  return createHash('sha256').update(canonicalJson(hashed)).digest('hex');
}
