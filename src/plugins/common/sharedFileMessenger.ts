/**
 * Harvester's SharedFileMessenger (basics): Harvester and the pilot talk through files in the worker's
 * access point on a shared file system. File names are Harvester's [payload_interaction] defaults, so
 * existing pilots and wrappers keep working; each may be overridden by the same key in the messenger
 * section. Not done here (yet): pool file catalog and input symlinks in feed_jobs, event-service files,
 * output scanning for stage-out, post-processing tarballs.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { JobSpec, WorkSpec } from '../../core/specs';
import { heartbeatAlive } from '../../core/stuckRules';
import type { Messenger, PluginContext, PluginParams, PluginResult } from '../types';
import { workerAccessPoint } from './accessPoint';
import { errorCode, errorText, exists, readTextIfExists, writeFileAtomic } from './files';
import { optionalString, PluginParamError } from './params';

const PLUGIN = 'SharedFileMessenger';

/** Harvester's [payload_interaction] defaults (panda_harvester.cfg template). */
export const PAYLOAD_FILES = {
  workerAttributesFile: 'worker_attributes.json',
  jobReportFile: 'jobReport.json',
  jobRequestFile: 'worker_requestjob.json',
  jobSpecFile: 'HPCJobs.json',
  pandaIDsFile: 'worker_pandaids.json',
  killWorkerFile: 'kill_worker.json',
  heartbeatFile: 'worker_heartbeat.json',
} as const;

/** Extra job attributes written by the payload's post-processing, merged into the work attributes. */
export const POST_PROCESS_ATTRS_FILE = 'post_process_job_attrs.json';

/** The grid pilot reads its job from this file in the "cgi" (URL-encoded) format. */
export const CGI_JOB_SPEC_FILE = 'pandaJobData.out';

export type JobSpecFileFormat = 'json' | 'cgi';

type PayloadFileNames = { -readonly [K in keyof typeof PAYLOAD_FILES]: string };

async function readJsonIfExists(file: string): Promise<unknown> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // The pilot may be writing the file right now; Harvester also treats an unreadable file as absent.
    return undefined;
  }
}

/** URL-encodes a job description the way the pilot's cgi reader expects (Python urlencode of the dict). */
export function encodeJobParamsCgi(jobParams: Record<string, unknown>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(jobParams)) {
    if (value === undefined) continue;
    search.append(key, value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value));
  }
  return search.toString();
}

export class SharedFileMessenger implements Messenger {
  private readonly accessPoint?: string;
  private readonly files: PayloadFileNames;
  private readonly jobSpecFileFormat: JobSpecFileFormat;
  private readonly now: () => Date;

  constructor(params: PluginParams, ctx: PluginContext) {
    this.accessPoint = optionalString(params, PLUGIN, 'accessPoint');
    const format = optionalString(params, PLUGIN, 'jobSpecFileFormat') ?? 'json';
    if (format !== 'json' && format !== 'cgi')
      throw new PluginParamError(PLUGIN, 'jobSpecFileFormat', 'json or cgi', format);
    this.jobSpecFileFormat = format;
    const files: PayloadFileNames = { ...PAYLOAD_FILES };
    // The cgi format goes with the grid pilot's file name unless the config names another.
    if (format === 'cgi') files.jobSpecFile = CGI_JOB_SPEC_FILE;
    for (const key of Object.keys(PAYLOAD_FILES) as Array<keyof PayloadFileNames>) {
      const override = optionalString(params, PLUGIN, key);
      if (override !== undefined) files[key] = override;
    }
    this.files = files;
    this.now = ctx.now ?? (() => new Date());
  }

  /** The worker's directory (template resolved). */
  workerDirectory(worker: WorkSpec): string {
    return workerAccessPoint(worker, this.accessPoint, PLUGIN);
  }

  /** Harvester's get_access_point(ws, PandaID): ManyToOne workers get one sub-directory per job. */
  jobDirectory(worker: WorkSpec, pandaID: number): string {
    const dir = this.workerDirectory(worker);
    return worker.mapType === 'ManyToOne' ? path.join(dir, String(pandaID)) : dir;
  }

  async setupAccessPoints(workers: WorkSpec[]): Promise<boolean> {
    for (const worker of workers) {
      await fs.mkdir(this.workerDirectory(worker), { recursive: true });
      for (const pandaID of worker.pandaIDs ?? []) {
        await fs.mkdir(this.jobDirectory(worker, pandaID), { recursive: true });
      }
    }
    return true;
  }

  /**
   * Writes each job's description (json: `{PandaID: jobParams}`; cgi: URL-encoded) into the job's
   * directory, the list of PandaIDs into the worker's, and removes the worker's job request (it is answered).
   */
  async feedJobs(worker: WorkSpec, jobs: JobSpec[]): Promise<boolean> {
    const pandaIDs: number[] = [];
    for (const job of jobs) {
      const dir = this.jobDirectory(worker, job.PandaID);
      await fs.mkdir(dir, { recursive: true });
      const content =
        this.jobSpecFileFormat === 'cgi'
          ? encodeJobParamsCgi(job.jobParams)
          : JSON.stringify({ [job.PandaID]: job.jobParams });
      await writeFileAtomic(path.join(dir, this.files.jobSpecFile), content);
      pandaIDs.push(job.PandaID);
    }
    const workerDir = this.workerDirectory(worker);
    await writeFileAtomic(path.join(workerDir, this.files.pandaIDsFile), JSON.stringify(pandaIDs));
    await fs.rm(path.join(workerDir, this.files.jobRequestFile), { force: true });
    return true;
  }

  /** Number of jobs the worker asks for: 0 without a request file, `nJobs` from it, 1 if unreadable. */
  async jobRequested(worker: WorkSpec): Promise<number> {
    const file = path.join(this.workerDirectory(worker), this.files.jobRequestFile);
    if (!(await exists(file))) return 0;
    const request = await readJsonIfExists(file);
    const nJobs = (request as { nJobs?: unknown } | undefined)?.nJobs;
    return typeof nJobs === 'number' && Number.isInteger(nJobs) && nJobs >= 0 ? nJobs : 1;
  }

  /**
   * Attributes per PandaID: worker_attributes.json, with jobReport.json under `metaData` and the
   * post-processing attributes merged on top. Only the worker's bound PandaIDs are read, as in Harvester.
   */
  async getWorkAttributes(worker: WorkSpec): Promise<Record<string, unknown>> {
    const all: Record<string, unknown> = {};
    for (const pandaID of worker.pandaIDs ?? []) {
      const dir = this.jobDirectory(worker, pandaID);
      const attrs = await readJsonIfExists(path.join(dir, this.files.workerAttributesFile));
      const entry: Record<string, unknown> = isPlainObject(attrs) ? { ...attrs } : {};
      const report = await readJsonIfExists(path.join(dir, this.files.jobReportFile));
      if (report !== undefined) entry.metaData = report;
      const post = await readJsonIfExists(path.join(dir, POST_PROCESS_ATTRS_FILE));
      if (isPlainObject(post)) Object.assign(entry, post);
      all[String(pandaID)] = entry;
    }
    return all;
  }

  /** Output scanning is not implemented yet: nothing to stage out (the dummy stager path needs none). */
  async getFilesToStageOut(
    _worker: WorkSpec,
  ): Promise<Record<string, Record<string, Array<Record<string, unknown>>>>> {
    return {};
  }

  /** PandaIDs the pilot reports it ran (pull mode); none when the file is missing or unreadable. */
  async getPandaIDs(worker: WorkSpec): Promise<number[]> {
    const ids = await readJsonIfExists(path.join(this.workerDirectory(worker), this.files.pandaIDsFile));
    return Array.isArray(ids) ? ids.filter((id): id is number => typeof id === 'number') : [];
  }

  async killRequested(worker: WorkSpec): Promise<boolean> {
    return exists(path.join(this.workerDirectory(worker), this.files.killWorkerFile));
  }

  /**
   * Harvester's is_alive: true while the heartbeat file is younger than the limit, false when older;
   * without a file, true until the worker has been running longer than the limit, then null (no sign of life).
   */
  async isAlive(worker: WorkSpec, timeLimitMinutes: number): Promise<boolean | null> {
    const file = path.join(this.workerDirectory(worker), this.files.heartbeatFile);
    try {
      const stat = await fs.stat(file);
      return heartbeatAlive({ lastHeartbeat: stat.mtime.toISOString() }, this.now(), timeLimitMinutes);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') return null;
    }
    return heartbeatAlive({ startTime: worker.startTime }, this.now(), timeLimitMinutes) ? true : null;
  }

  /** Modification time of the heartbeat file (ISO-8601), for the lost-heartbeat stuck rule. */
  async lastHeartbeat(worker: WorkSpec): Promise<string | undefined> {
    try {
      const stat = await fs.stat(path.join(this.workerDirectory(worker), this.files.heartbeatFile));
      return stat.mtime.toISOString();
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Removes the worker's access point; one that is already gone counts as cleaned (the call is repeated). */
  async cleanUp(worker: WorkSpec): Promise<PluginResult> {
    let dir: string;
    try {
      dir = this.workerDirectory(worker);
    } catch (err) {
      return { outcome: 'permanentFailure', diag: errorText(err) };
    }
    try {
      const stat = await fs.stat(dir);
      if (!stat.isDirectory()) return { outcome: 'permanentFailure', diag: `${dir} is not a directory` };
      await fs.rm(dir, { recursive: true, force: true });
      return { outcome: 'success', diag: '' };
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { outcome: 'success', diag: `${dir} already gone` };
      return { outcome: 'temporaryFailure', diag: `failed to remove ${dir}: ${errorText(err)}` };
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
