/**
 * The central process's two task queues. The main one (HARVESTER_TASK_QUEUE) carries the worker
 * lifecycles and their activities, which at scale are thousands of workflow tasks deep; the
 * control one carries the queue and instance workflows and their activities, so a monitor cycle,
 * a submitter cycle or a PanDA command never waits behind that backlog (docs/decisions.md,
 * "The control loop has its own task queue").
 *
 * The control queue's name is derived from the main one here and nowhere else, and has no setting
 * of its own: a queue or instance workflow started before the control queue existed knows only the
 * main queue it runs on (workflowInfo().taskQueue), and finds its way to the control queue with
 * this function (workflows/queue.ts, workflows/instance.ts). A separately configurable name would
 * send those runs to a queue nobody polls. Pure, so workflow code may import it.
 */
const CONTROL_SUFFIX = '-control';

export function controlTaskQueueOf(mainTaskQueue: string): string {
  return `${mainTaskQueue}${CONTROL_SUFFIX}`;
}

/** A control queue's name; a main task queue may not look like one (settings refuses it). */
export function isControlTaskQueueName(taskQueue: string): boolean {
  return taskQueue.endsWith(CONTROL_SUFFIX);
}

/**
 * The task queue a queue or instance workflow belongs on: the one its input names (every start
 * since the control queue exists names it); else the queue it runs on when that is a control
 * queue (a start that left the field out), or, for a run started before the control queue
 * existed, the control queue of the main queue it runs on.
 */
export function controlTaskQueueFor(input: { controlTaskQueue?: string }, runningOn: string): string {
  if (input.controlTaskQueue !== undefined) return input.controlTaskQueue;
  return isControlTaskQueueName(runningOn) ? runningOn : controlTaskQueueOf(runningOn);
}

/** The patch that moves a queue or instance workflow running on the main task queue to the control one. */
export const MOVE_TO_CONTROL_TASK_QUEUE = 'move-to-control-task-queue';
