/**
 * One workflow per harvester instance: keeps a queue workflow running for each active queue of
 * the instance's config (re-read every qconf interval, or at once on `reloadQueues`), fetches and
 * applies PanDA's commands, and sends the instance heartbeat to PanDA.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { InstanceCentralActivities } from '../activities/instanceCentral';
import {
  type InstanceWorkflowInput,
  type InstanceWorkflowState,
  instanceStateQuery,
  reloadQueuesSignal,
} from './instanceMessages';

const central = proxyActivities<InstanceCentralActivities>({
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
});

export async function instanceWorkflow(input: InstanceWorkflowInput): Promise<void> {
  const { harvesterID } = input;
  const nowIso = () => new Date(Date.now()).toISOString();
  const s: InstanceWorkflowState = input.state ?? {
    nextSyncAt: nowIso(),
    nextCommandsAt: nowIso(),
    nextHeartbeatAt: nowIso(),
    commandsApplied: 0,
  };
  let reload = false;
  setHandler(reloadQueuesSignal, () => {
    reload = true;
  });
  setHandler(instanceStateQuery, () => s);

  const due = (iso: string) => Date.now() >= Date.parse(iso);
  const after = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();

  for (;;) {
    const next = Math.min(
      Date.parse(s.nextSyncAt),
      Date.parse(s.nextCommandsAt),
      Date.parse(s.nextHeartbeatAt),
    );
    await condition(() => reload, Math.max(next - Date.now(), 1));
    if (reload || due(s.nextSyncAt)) {
      reload = false;
      try {
        s.lastSync = { ...(await central.syncQueues({ harvesterID })), at: nowIso() };
      } catch (err) {
        log.error('queue sync failed', { error: (err as Error).message });
      }
      s.nextSyncAt = after(input.queueSyncIntervalSeconds);
    }
    if (due(s.nextCommandsAt)) {
      try {
        const r = await central.processPandaCommands({ harvesterID });
        s.commandsApplied += r.applied;
        s.lastCommands = { ...r, at: nowIso() };
      } catch (err) {
        log.warn('PanDA command cycle failed; retried next cycle', { error: (err as Error).message });
      }
      s.nextCommandsAt = after(input.commandIntervalSeconds);
    }
    if (due(s.nextHeartbeatAt)) {
      await central.pandaInstanceHeartbeat({ harvesterID }).catch(() => false);
      s.nextHeartbeatAt = after(input.pandaHeartbeatIntervalSeconds);
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return await continueAsNew<typeof instanceWorkflow>({ ...input, state: s });
    }
  }
}
