/**
 * Harvester's SimpleWorkerMaker, reduced to what our queues use: the resource request of a new worker.
 * nCore: the jobs' core counts summed (push mode: the worker must fit its jobs), else the `nCore` param,
 * else 1. minRamCount likewise from the jobs (sum) or the param; maxDiskCount, maxWalltime and pilotType
 * from params. nJobsPerWorker / nWorkersPerJob default to 1 as in Harvester.
 */
import type { JobSpec, WorkSpec } from '../../core/specs';
import type { PluginParams, WorkerMaker } from '../types';
import { numberParam, optionalNumber, optionalString } from './params';

const PLUGIN = 'SimpleWorkerMaker';

type WorkerRequest = Pick<WorkSpec, 'nCore' | 'minRamCount' | 'maxDiskCount' | 'maxWalltime' | 'pilotType'>;

/** A job's value for a resource, from our JobSpec field or PanDA's job description. */
function jobNumber(job: JobSpec, field: 'nCore' | 'minRamCount'): number | undefined {
  if (field === 'nCore' && typeof job.nCore === 'number') return job.nCore;
  const pandaKey = field === 'nCore' ? 'coreCount' : 'minRamCount';
  const value = job.jobParams[pandaKey];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function sumOverJobs(jobs: JobSpec[], field: 'nCore' | 'minRamCount'): number | undefined {
  const values = jobs.map((j) => jobNumber(j, field)).filter((v): v is number => v !== undefined);
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

export class SimpleWorkerMaker implements WorkerMaker {
  private readonly nCore?: number;
  private readonly minRamCount?: number;
  private readonly maxDiskCount?: number;
  private readonly maxWalltime?: number;
  private readonly pilotType?: string;
  private readonly nJobsPerWorker: number;
  private readonly nWorkersPerJob: number;

  constructor(params: PluginParams) {
    this.nCore = optionalNumber(params, PLUGIN, 'nCore');
    this.minRamCount = optionalNumber(params, PLUGIN, 'minRamCount');
    this.maxDiskCount = optionalNumber(params, PLUGIN, 'maxDiskCount');
    this.maxWalltime = optionalNumber(params, PLUGIN, 'maxWalltime');
    this.pilotType = optionalString(params, PLUGIN, 'pilotType');
    this.nJobsPerWorker = numberParam(params, PLUGIN, 'nJobsPerWorker', 1);
    this.nWorkersPerJob = numberParam(params, PLUGIN, 'nWorkersPerJob', 1);
  }

  async makeWorker(jobs: JobSpec[], _jobType: string, _resourceType: string): Promise<WorkerRequest | null> {
    const request: WorkerRequest = { nCore: sumOverJobs(jobs, 'nCore') ?? this.nCore ?? 1 };
    const ram = sumOverJobs(jobs, 'minRamCount') ?? this.minRamCount;
    if (ram !== undefined) request.minRamCount = ram;
    if (this.maxDiskCount !== undefined) request.maxDiskCount = this.maxDiskCount;
    if (this.maxWalltime !== undefined) request.maxWalltime = this.maxWalltime;
    if (this.pilotType !== undefined) request.pilotType = this.pilotType;
    return request;
  }

  getNumJobsPerWorker(_nWorkers: number): number {
    return this.nJobsPerWorker;
  }

  getNumWorkersPerJob(_nWorkers: number): number {
    return this.nWorkersPerJob;
  }
}
