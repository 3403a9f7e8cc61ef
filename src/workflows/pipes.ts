import { proxyActivities } from '@temporalio/workflow';
import type { CentralActivities, RecordEventInput } from '../activities/central';

const { recordEvent } = proxyActivities<CentralActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5 },
});

/** Proves the pipes: workflow → activity → PostgreSQL, result back into the history. */
export async function recordEventWorkflow(input: RecordEventInput): Promise<{ eventId: number }> {
  return await recordEvent(input);
}
