/** Harvester's DummyPreparator: stage-in that always succeeds at once (inputs are assumed to be in place). */
import type { FileSpec, JobSpec } from '../../core/specs';
import type { PluginResult, Preparator } from '../types';

export class DummyPreparator implements Preparator {
  async triggerPreparation(_job: JobSpec): Promise<PluginResult> {
    return { outcome: 'success', diag: '' };
  }

  async checkStageInStatus(_job: JobSpec): Promise<PluginResult> {
    return { outcome: 'success', diag: '' };
  }

  async resolveInputPaths(_job: JobSpec): Promise<PluginResult & { files?: FileSpec[] }> {
    return { outcome: 'success', diag: '' };
  }
}
