/**
 * Push mode: which jobs go to which new workers (Harvester's get_job_chunks_for_workers plus the
 * worker maker's nJobsPerWorker / nWorkersPerJob), as a pure function.
 *
 *   OneToOne   one job per worker.
 *   ManyToOne  up to nJobsPerWorker jobs per worker (Harvester's MultiJobs), highest priority first;
 *              jobs of one task stay together unless allowJobMixture. A task with fewer jobs left
 *              than nJobsPerWorker still gets its worker (a short chunk), rather than its jobs
 *              waiting while PanDA's watcher counts down on them.
 *   OneToMany  one job run by nWorkersPerJob workers (Harvester's MultiWorkers, e.g. a multi-node
 *              HPC job); a job is only started with all of its workers.
 *
 * Jobs not placed in a chunk stay for the next cycle.
 */
import type { MapType } from './specs';

export interface ChunkableJob {
  PandaID: number;
  taskID?: number;
  currentPriority?: number;
}

export interface JobChunkSettings {
  mapType: Exclude<MapType, 'NoJob'>;
  /** How many new workers the cycle may make. */
  nWorkers: number;
  nJobsPerWorker: number;
  nWorkersPerJob: number;
  allowJobMixture: boolean;
}

export interface JobChunk<J> {
  jobs: J[];
  /** Workers that run this chunk: 1, or nWorkersPerJob for OneToMany. */
  nWorkers: number;
}

export interface JobChunkPlan<J> {
  chunks: JobChunk<J>[];
  /** Jobs left for a later cycle. */
  leftover: J[];
}

/** Jobs the cycle needs for nWorkers new workers. */
export function jobsNeeded(s: Omit<JobChunkSettings, 'allowJobMixture'>): number {
  if (s.nWorkers <= 0) return 0;
  switch (s.mapType) {
    case 'OneToOne':
      return s.nWorkers;
    case 'ManyToOne':
      return s.nWorkers * s.nJobsPerWorker;
    case 'OneToMany':
      return Math.floor(s.nWorkers / s.nWorkersPerJob);
  }
}

/** Harvester's order: currentPriority DESC, taskID, PandaID. */
function byPriority(a: ChunkableJob, b: ChunkableJob): number {
  return (
    (b.currentPriority ?? 0) - (a.currentPriority ?? 0) ||
    (a.taskID ?? 0) - (b.taskID ?? 0) ||
    a.PandaID - b.PandaID
  );
}

export function jobChunksForWorkers<J extends ChunkableJob>(
  jobs: readonly J[],
  s: JobChunkSettings,
): JobChunkPlan<J> {
  for (const [name, value] of [
    ['nJobsPerWorker', s.nJobsPerWorker],
    ['nWorkersPerJob', s.nWorkersPerJob],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`workerMaker.${name} must be a whole number ≥ 1, got ${JSON.stringify(value)}`);
  }
  const sorted = [...jobs].sort(byPriority);
  const chunks: JobChunk<J>[] = [];
  const used = new Set<number>();
  let workersLeft = Math.max(0, s.nWorkers);

  if (s.mapType === 'OneToOne' || s.mapType === 'OneToMany') {
    const perJob = s.mapType === 'OneToOne' ? 1 : s.nWorkersPerJob;
    for (const job of sorted) {
      if (workersLeft < perJob) break;
      chunks.push({ jobs: [job], nWorkers: perJob });
      used.add(job.PandaID);
      workersLeft -= perJob;
    }
  } else {
    // ManyToOne: walk the jobs in priority order; a task's jobs fill chunks together.
    const groups = new Map<string, J[]>();
    for (const job of sorted) {
      const key = s.allowJobMixture ? 'all' : String(job.taskID ?? `job-${job.PandaID}`);
      const list = groups.get(key) ?? [];
      list.push(job);
      groups.set(key, list);
    }
    for (const list of groups.values()) {
      for (let i = 0; i < list.length && workersLeft > 0; i += s.nJobsPerWorker) {
        const chunk = list.slice(i, i + s.nJobsPerWorker);
        chunks.push({ jobs: chunk, nWorkers: 1 });
        for (const j of chunk) used.add(j.PandaID);
        workersLeft--;
      }
      if (workersLeft === 0) break;
    }
  }
  return { chunks, leftover: sorted.filter((j) => !used.has(j.PandaID)) };
}
