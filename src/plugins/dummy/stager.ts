/** Harvester's DummyStager: stage-out that always succeeds at once; every output file ends `finished`. */
import type { FileSpec, JobSpec } from '../../core/specs';
import type { PluginResult, Stager } from '../types';

export class DummyStager implements Stager {
  async triggerStageOut(_job: JobSpec, _files: FileSpec[]): Promise<PluginResult> {
    return { outcome: 'success', diag: '' };
  }

  async checkStageOutStatus(_job: JobSpec, files: FileSpec[]): Promise<PluginResult & { files: FileSpec[] }> {
    return { outcome: 'success', diag: '', files: files.map((f) => ({ ...f, status: 'finished' })) };
  }
}
