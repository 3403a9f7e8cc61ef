/**
 * Slurm back-end: registered under our short module name and Harvester's module names, so a
 * Harvester queue config (`pandaharvester.harvestersubmitter.slurm_submitter` / `SlurmSubmitter`)
 * works unchanged.
 */
import type { PluginRegistry } from '../registry';
import { createSlurmMonitor } from './monitor';
import { createSlurmSubmitter } from './submitter';
import { createSlurmSweeper } from './sweeper';

export { createSlurmMonitor, mapOneWorker as mapSlurmWorker, SlurmMonitor } from './monitor';
export * from './parse';
export { createSlurmSubmitter, SlurmSubmitter } from './submitter';
export { createSlurmSweeper, SlurmSweeper } from './sweeper';

export function register(registry: PluginRegistry): void {
  registry.register('submitter', ['slurm', 'slurm_submitter'], 'SlurmSubmitter', (p, c) =>
    createSlurmSubmitter(p, c),
  );
  registry.register('monitor', ['slurm', 'slurm_monitor'], 'SlurmMonitor', (p, c) =>
    createSlurmMonitor(p, c),
  );
  // Harvester's squeue-based monitor: ours is squeue-based already (with the job history for jobs
  // that left squeue), so both Harvester names map to it.
  registry.register('monitor', ['slurm_squeue_monitor'], 'SlurmSqueueMonitor', (p, c) =>
    createSlurmMonitor(p, c),
  );
  registry.register('sweeper', ['slurm', 'slurm_sweeper'], 'SlurmSweeper', (p, c) =>
    createSlurmSweeper(p, c),
  );
}
