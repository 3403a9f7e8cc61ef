/**
 * A worker's access point: the directory shared between Harvester and the pilot (job description in,
 * status, attributes and heartbeat files out). Configs give it as a template, e.g.
 * `/data/wdirs/${harvesterID}/${_workerID_3.2}/${workerID}`, expanded with the queue config's placeholder
 * rules (Harvester's WorkSpec.get_access_point, but an unresolvable placeholder is an error instead of
 * being left in the path).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { expandPlaceholders } from '../../core/queueConfig/placeholders';
import type { WorkSpec } from '../../core/specs';

export class AccessPointError extends Error {
  readonly type = 'access_point';
  constructor(message: string) {
    super(message);
    this.name = 'AccessPointError';
  }
}

export function resolveAccessPoint(template: string, worker: WorkSpec): string {
  try {
    return path.resolve(expandPlaceholders(template, worker, { hostname: os.hostname() }));
  } catch (err) {
    throw new AccessPointError(`accessPoint of worker ${worker.workerID}: ${(err as Error).message}`);
  }
}

/**
 * The worker's access point directory: the worker's own accessPoint (set from the messenger section at
 * submission), else the plugin's configured template. Throws when neither is there, naming both places.
 */
export function workerAccessPoint(
  worker: WorkSpec,
  fallbackTemplate: string | undefined,
  plugin: string,
): string {
  const template = worker.accessPoint ?? fallbackTemplate;
  if (template === undefined || template === '') {
    throw new AccessPointError(
      `${plugin}: worker ${worker.workerID} has no accessPoint; set "accessPoint" in the queue's messenger section`,
    );
  }
  return resolveAccessPoint(template, worker);
}
