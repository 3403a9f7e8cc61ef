/**
 * Which schedd a worker's job lives on. Harvester writes submissionHost as `<schedd>,<pool>`
 * (`<schedd>` alone for the local pool); the monitor groups workers by it so each schedd gets one
 * condor_q and one condor_history per cycle.
 */

import { optionalString } from '../common/params';
import type { PluginParams } from '../types';

export interface ScheddRef {
  schedd?: string;
  pool?: string;
}

export function scheddFromParams(params: PluginParams, plugin: string): ScheddRef {
  return {
    schedd: optionalString(params, plugin, 'condorSchedd'),
    pool: optionalString(params, plugin, 'condorPool'),
  };
}

export function submissionHostOf(ref: ScheddRef, localName: string): string {
  const schedd = ref.schedd ?? localName;
  return ref.pool ? `${schedd},${ref.pool}` : schedd;
}

/** `-name`/`-pool` arguments for a submissionHost; none for the local schedd. */
export function scheddArgs(submissionHost: string | undefined, localName: string): string[] {
  if (!submissionHost || submissionHost === localName) return [];
  const [schedd, pool] = submissionHost.split(',', 2);
  const args: string[] = [];
  if (schedd && schedd !== localName) args.push('-name', schedd);
  if (pool) args.push('-pool', pool);
  return args;
}

/** ClassAd string literal; a harvester id or other value cannot break out of the quotes. */
export function classAdString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
