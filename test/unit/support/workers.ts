/** Builders for the specs the plugin and core tests feed in. */
import type { JobSpec, WorkSpec } from '../../../src/core/specs';

export function makeWorker(overrides: Partial<WorkSpec> = {}): WorkSpec {
  return {
    workerID: 1,
    computingSite: 'TEST_PQ',
    harvesterID: 'test-harvester',
    configID: 'cfg-1',
    mapType: 'NoJob',
    status: 'pending',
    resourceType: 'SCORE',
    jobType: 'managed',
    nCore: 1,
    creationTime: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

export function makeJob(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    PandaID: 1001,
    status: 'starting',
    subStatus: 'prepared',
    computingSite: 'TEST_PQ',
    jobParams: {},
    jobAttributes: {},
    ...overrides,
  };
}

/** A clock the test moves by hand. */
export class ManualClock {
  private t: number;
  constructor(iso = '2026-01-01T00:00:00.000Z') {
    this.t = Date.parse(iso);
  }
  now = (): Date => new Date(this.t);
  advanceSeconds(seconds: number): void {
    this.t += seconds * 1000;
  }
}

/** `${name}` as it appears in config templates (built here so linters do not take it for a JS template). */
export function placeholder(name: string): string {
  return `\${${name}}`;
}
