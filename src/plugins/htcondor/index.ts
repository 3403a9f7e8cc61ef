/** HTCondor back-end, registered under our short name and Harvester's module names. */
import type { PluginRegistry } from '../registry';
import { createHTCondorMonitor } from './monitor';
import { createHTCondorSubmitter } from './submitter';
import { createHTCondorSweeper } from './sweeper';

export { createHTCondorMonitor, HTCondorMonitor } from './monitor';
export * from './parse';
export { buildSubmitDescription, createHTCondorSubmitter, HTCondorSubmitter } from './submitter';
export { createHTCondorSweeper, HTCondorSweeper } from './sweeper';

export function register(registry: PluginRegistry): void {
  registry.register('submitter', ['htcondor', 'htcondor_submitter'], 'HTCondorSubmitter', (p, c) =>
    createHTCondorSubmitter(p, c),
  );
  registry.register('monitor', ['htcondor', 'htcondor_monitor'], 'HTCondorMonitor', (p, c) =>
    createHTCondorMonitor(p, c),
  );
  registry.register('sweeper', ['htcondor', 'htcondor_sweeper'], 'HTCondorSweeper', (p, c) =>
    createHTCondorSweeper(p, c),
  );
}
