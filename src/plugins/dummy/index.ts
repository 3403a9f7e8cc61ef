/** The dummy back-end: registered under our short module name `dummy` and Harvester's module names. */
import type { PluginRegistry } from '../registry';
import { DummyMonitor } from './monitor';
import { DummyPreparator } from './preparator';
import { DummyStager } from './stager';
import { DummySubmitter } from './submitter';
import { DummySweeper } from './sweeper';

export { DummyMonitor, DummyPreparator, DummyStager, DummySubmitter, DummySweeper };

export function register(registry: PluginRegistry): void {
  registry.register(
    'submitter',
    ['dummy', 'dummy_submitter'],
    'DummySubmitter',
    (p, c) => new DummySubmitter(p, c),
  );
  registry.register('monitor', ['dummy', 'dummy_monitor'], 'DummyMonitor', (p, c) => new DummyMonitor(p, c));
  registry.register('sweeper', ['dummy', 'dummy_sweeper'], 'DummySweeper', (p, c) => new DummySweeper(p, c));
  registry.register(
    'preparator',
    ['dummy', 'dummy_preparator'],
    'DummyPreparator',
    () => new DummyPreparator(),
  );
  registry.register('stager', ['dummy', 'dummy_stager'], 'DummyStager', () => new DummyStager());
}
