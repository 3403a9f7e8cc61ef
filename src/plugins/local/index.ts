/** Local back-end (workers are processes on this machine): the demo default. */
import type { PluginRegistry } from '../registry';
import { createLocalMonitor } from './monitor';
import { createLocalSubmitter } from './submitter';
import { createLocalSweeper } from './sweeper';

export { createLocalMonitor, LocalMonitor, localExitStatus } from './monitor';
export { LOCAL_FILES } from './process';
export { createLocalSubmitter, DEFAULT_PILOT_TEMPLATE, LocalSubmitter } from './submitter';
export { createLocalSweeper, LocalSweeper } from './sweeper';

export function register(registry: PluginRegistry): void {
  registry.register('submitter', ['local', 'local_submitter'], 'LocalSubmitter', (p, c) =>
    createLocalSubmitter(p, c),
  );
  registry.register('monitor', ['local', 'local_monitor'], 'LocalMonitor', (p, c) =>
    createLocalMonitor(p, c),
  );
  registry.register('sweeper', ['local', 'local_sweeper'], 'LocalSweeper', (p, c) =>
    createLocalSweeper(p, c),
  );
}
