/**
 * Activities that run in the central worker: they talk to the harvester DB and to PanDA.
 * Built by a factory that receives its dependencies, so tests and the worker wire them alike.
 */
import { activityInfo } from '@temporalio/activity';
import type { Db } from '../db/pool';
import type { Logger } from '../observability/logger';

export interface CentralActivityDeps {
  db: Db;
  log: Logger;
  harvesterID: string;
}

export interface RecordEventInput {
  kind: string;
  payload: Record<string, unknown>;
}

export function createCentralActivities(deps: CentralActivityDeps) {
  return {
    /** Writes one row to harvester_events; returns its id. Used by the end-to-end pipes check. */
    async recordEvent(input: RecordEventInput): Promise<{ eventId: number }> {
      const info = activityInfo();
      const { rows } = await deps.db.query<{ event_id: string }>(
        `INSERT INTO harvester_events (harvester_id, workflow_id, kind, payload) VALUES ($1, $2, $3, $4) RETURNING event_id`,
        [
          deps.harvesterID,
          info.workflowExecution?.workflowId ?? 'none',
          input.kind,
          JSON.stringify(input.payload),
        ],
      );
      return { eventId: Number(rows[0].event_id) };
    },
  };
}

export type CentralActivities = ReturnType<typeof createCentralActivities>;
