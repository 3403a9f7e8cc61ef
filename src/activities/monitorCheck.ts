/**
 * One bulk status call and its comparison with the last known states, as both monitor paths run
 * it: in the central monitorQueue activity (queues without an edge task queue) and in the edge's
 * monitorEdgeQueue activity. Harvester's monitor step: check_workers, then the messenger's
 * job_requested (late binding) and is_alive (worker_heartbeat) for the workers it names.
 */
import { log } from '@temporalio/activity';
import type { MonitoredWorkerRecord, MonitorGroupParams } from '../core/edgeMirror';
import { diffMonitorResults, type HeartbeatReadings, type WorkerChange } from '../core/monitorDiff';
import { isFinalWorkerStatus } from '../core/workerStatus';
import type { PluginRegistry } from '../plugins/registry';
import type { CheckResult, PluginParams } from '../plugins/types';
import { mapWithConcurrency } from '../util/concurrency';
import type { CheckWorkersActivityReply, CheckWorkersCall } from './lifecycleTypes';

export interface MonitorContext {
  registry: PluginRegistry;
  harvesterID: string;
  queueName: string;
}

/** What one status call over some workers found: the changes to signal, or why it failed. */
export type BatchCheck =
  | { ok: true; changes: WorkerChange[]; unknownNow: number[] }
  | { ok: false; diag: string };

function plugin<K extends 'monitor' | 'messenger'>(ctx: MonitorContext, kind: K, params: PluginParams) {
  return ctx.registry.create(kind, params, { harvesterID: ctx.harvesterID, queueName: ctx.queueName });
}

/**
 * The bulk status query for these workers (one squeue / condor_q), with job requests and heartbeat
 * files when the call asks for them.
 */
export async function checkWorkersWithMessenger(
  ctx: MonitorContext,
  call: CheckWorkersCall,
): Promise<CheckWorkersActivityReply> {
  const reply: CheckWorkersActivityReply = await plugin(ctx, 'monitor', call.params).checkWorkers(
    call.workers,
  );
  if (reply.ok && call.jobRequests && call.jobRequests.workerIDs.length > 0) {
    // Late binding (Harvester's monitor: job_requested → ready): the pilot runs and asks for work.
    const messenger = plugin(ctx, 'messenger', call.jobRequests.messenger);
    const asking = new Set(call.jobRequests.workerIDs);
    for (const [i, w] of call.workers.entries()) {
      const r = reply.results[i];
      if (!asking.has(w.workerID) || !r || r.status === null || isFinalWorkerStatus(r.status)) continue;
      if ((await messenger.jobRequested(w)) > 0) reply.results[i] = { ...r, status: 'ready' };
    }
  }
  if (reply.ok && call.heartbeats && call.heartbeats.workerIDs.length > 0) {
    reply.heartbeats = await readHeartbeats(ctx, call, call.heartbeats, reply.results);
  }
  return reply;
}

/**
 * One status call over a config's workers and the comparison with what the DB last knew of them.
 * A failed or throwing call is a failed batch (counts unknown), never an empty one.
 */
export async function checkBatch(
  ctx: MonitorContext,
  group: MonitorGroupParams,
  workers: readonly MonitoredWorkerRecord[],
): Promise<BatchCheck> {
  const specs = workers.map((w) => w.spec);
  try {
    const reply = await checkWorkersWithMessenger(ctx, {
      params: group.monitor,
      harvesterID: ctx.harvesterID,
      queueName: ctx.queueName,
      workers: specs,
      jobRequests: group.lateBindingMessenger
        ? {
            messenger: group.lateBindingMessenger,
            workerIDs: workers.filter((w) => !w.hasJobs).map((w) => w.spec.workerID),
          }
        : undefined,
      heartbeats: group.heartbeat
        ? { ...group.heartbeat, workerIDs: workers.filter((w) => !w.killed).map((w) => w.spec.workerID) }
        : undefined,
    });
    if (!reply.ok) return { ok: false, diag: reply.diag || 'monitor reported failure' };
    const unknownBefore = new Set(workers.filter((w) => w.unknown).map((w) => w.spec.workerID));
    // A running worker whose pilot went quiet past worker_heartbeat gets lostHeartbeat.
    const diff = diffMonitorResults(specs, reply.results, unknownBefore, reply.heartbeats);
    return { ok: true, changes: diff.changes, unknownNow: diff.unknownNow };
  } catch (err) {
    return { ok: false, diag: (err as Error).message };
  }
}

/**
 * Harvester's monitor asks the messenger is_alive for running workers when worker_heartbeat is
 * set. Here the heartbeat files' times are read on this host (next to the access points) and
 * returned with the time of reading, taken before the first read so no file looks older than it
 * is; the rule itself is core's (monitorDiff). A file that cannot be read is left out: no worker is
 * killed for a heartbeat nobody could read.
 */
async function readHeartbeats(
  ctx: MonitorContext,
  call: CheckWorkersCall,
  asked: NonNullable<CheckWorkersCall['heartbeats']>,
  results: readonly CheckResult[],
): Promise<HeartbeatReadings | undefined> {
  const messenger = plugin(ctx, 'messenger', asked.messenger);
  if (!messenger.lastHeartbeat) {
    log.warn('the messenger cannot tell heartbeat times: worker_heartbeat is not applied', {
      queueName: call.queueName,
      messenger: `${asked.messenger.module}/${asked.messenger.name}`,
    });
    return undefined;
  }
  const checkedAt = new Date().toISOString();
  const wanted = new Set(asked.workerIDs);
  const running = call.workers.filter((w, i) => wanted.has(w.workerID) && results[i]?.status === 'running');
  const lastHeartbeat: Record<string, string | null> = {};
  // A shared file system answers one stat at a time slowly: a few in flight, not thousands.
  await mapWithConcurrency(running, 16, async (w) => {
    try {
      lastHeartbeat[String(w.workerID)] = (await messenger.lastHeartbeat!(w)) ?? null;
    } catch (err) {
      log.warn('heartbeat file not readable: the worker is not judged this cycle', {
        queueName: call.queueName,
        workerID: w.workerID,
        error: (err as Error).message,
      });
    }
  });
  return { limitMinutes: asked.limitMinutes, checkedAt, lastHeartbeat };
}
