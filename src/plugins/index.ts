/**
 * The plugin registry with every back-end this build has. Each back-end folder exports
 * `register(registry)`; add a new one to BACKENDS (one line) when its folder lands.
 */
import { register as registerCommon } from './common';
import { register as registerDummy } from './dummy';
import { register as registerHTCondor } from './htcondor';
import { register as registerLocal } from './local';
import { PluginRegistry, type RegisterPlugins } from './registry';
import { register as registerSlurm } from './slurm';

export { PluginRegistry, UnknownPluginError } from './registry';

const BACKENDS: readonly RegisterPlugins[] = [
  registerCommon,
  registerDummy,
  registerLocal,
  registerSlurm,
  registerHTCondor,
];

/** A fresh registry with all built-in plugins; the worker processes build one at start-up. */
export function createPluginRegistry(): PluginRegistry {
  const registry = new PluginRegistry();
  for (const register of BACKENDS) register(registry);
  return registry;
}
