/**
 * sweep_worker for back-ends whose only leftovers are the access point directory. Deleting a
 * directory tree from a config-derived path deserves care: refuse shallow paths (a template that
 * resolved to `/` or `/tmp` would otherwise wipe far more than one worker).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { WorkSpec } from '../../core/specs';
import type { PluginResult } from '../types';
import { workerAccessPoint } from './accessPoint';
import { errorText } from './files';

/** Fewer path components than this is never one worker's directory. */
const MIN_DEPTH = 2;

export async function removeAccessPoint(
  worker: WorkSpec,
  fallbackTemplate: string | undefined,
  plugin: string,
): Promise<PluginResult> {
  let dir: string;
  try {
    dir = workerAccessPoint(worker, fallbackTemplate, plugin);
  } catch (err) {
    // No access point configured means nothing was written: nothing to clean.
    return { outcome: 'success', diag: `nothing to clean: ${errorText(err)}` };
  }
  const depth = dir.split(path.sep).filter((p) => p !== '').length;
  if (depth < MIN_DEPTH) {
    return {
      outcome: 'permanentFailure',
      diag: `${plugin}: refusing to delete ${dir} for worker ${worker.workerID}: path too short`,
    };
  }
  try {
    await fs.rm(dir, { recursive: true, force: true });
    return { outcome: 'success', diag: '' };
  } catch (err) {
    return { outcome: 'temporaryFailure', diag: `${plugin}: cannot delete ${dir}: ${errorText(err)}` };
  }
}
