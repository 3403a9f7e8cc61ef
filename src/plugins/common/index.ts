/**
 * Back-end independent plugins (Harvester's shared_file_messenger, simple_worker_maker, simple_throttler),
 * registered under Harvester's module names and our short ones.
 */
import type { PluginRegistry } from '../registry';
import { SharedFileMessenger } from './sharedFileMessenger';
import { SimpleThrottler } from './simpleThrottler';
import { SimpleWorkerMaker } from './simpleWorkerMaker';

export { SharedFileMessenger, SimpleThrottler, SimpleWorkerMaker };

export function register(registry: PluginRegistry): void {
  registry.register(
    'messenger',
    ['shared_file', 'shared_file_messenger'],
    'SharedFileMessenger',
    (p, c) => new SharedFileMessenger(p, c),
  );
  registry.register(
    'workerMaker',
    ['simple', 'simple_worker_maker'],
    'SimpleWorkerMaker',
    (p) => new SimpleWorkerMaker(p),
  );
  registry.register(
    'throttler',
    ['simple', 'simple_throttler'],
    'SimpleThrottler',
    (p, c) => new SimpleThrottler(p, c),
  );
}
