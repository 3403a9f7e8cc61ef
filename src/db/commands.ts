/**
 * Commands from PanDA (Harvester's command_table), with an at-least-once lifecycle:
 *   received      stored right after acquire_commands returned it;
 *   applied       the receiver's action took effect (workers marked, limits set, stats sent);
 *   acknowledged  PanDA accepted acknowledge_commands (only for ack_requested commands).
 * Harvester marks a command processed when it is read, so a crash before acting loses it; here each
 * step is recorded only after it happened, and a crash repeats the step (receivers are idempotent).
 */
import { isoOrUndefined, type Queryable, type TimeInput, toDateOrNull, toSafeNumber } from './sql';

export type CommandState = 'received' | 'applied' | 'acknowledged';

/** A command as acquire_commands returned it, plus the receiver its prefix maps to. */
export interface NewCommand {
  commandID: number;
  command: string;
  receiver: string;
  params: unknown;
  ackRequested: boolean;
  /** PanDA's creation_date. */
  createdAt?: TimeInput;
}

export interface CommandRecord {
  commandID: number;
  harvesterID: string;
  command: string;
  receiver: string;
  params: unknown;
  ackRequested: boolean;
  state: CommandState;
  result?: unknown;
  createdAt?: string;
  receivedAt: string;
  appliedAt?: string;
  acknowledgedAt?: string;
}

interface CommandRow {
  command_id: string;
  harvester_id: string;
  command: string;
  receiver: string;
  params: unknown;
  ack_requested: boolean;
  state: CommandState;
  result: unknown;
  created_at: Date | null;
  received_at: Date;
  applied_at: Date | null;
  acknowledged_at: Date | null;
}

function toCommand(r: CommandRow): CommandRecord {
  return {
    commandID: toSafeNumber(r.command_id),
    harvesterID: r.harvester_id,
    command: r.command,
    receiver: r.receiver,
    params: r.params,
    ackRequested: r.ack_requested,
    state: r.state,
    result: r.result ?? undefined,
    createdAt: isoOrUndefined(r.created_at),
    receivedAt: r.received_at.toISOString(),
    appliedAt: isoOrUndefined(r.applied_at),
    acknowledgedAt: isoOrUndefined(r.acknowledged_at),
  };
}

/**
 * Stores commands just acquired. A command already stored (PanDA handed it out again) is left
 * in whatever state it reached. Returns the ids stored now.
 */
export async function insertCommands(
  db: Queryable,
  harvesterID: string,
  commands: readonly NewCommand[],
): Promise<number[]> {
  if (commands.length === 0) return [];
  const input = commands.map((c) => ({
    command_id: c.commandID,
    command: c.command,
    receiver: c.receiver,
    // Wrapped so that a JSON null or a bare list survives jsonb_to_recordset unchanged.
    params: { v: c.params ?? null },
    ack_requested: c.ackRequested,
    created_at: toDateOrNull(c.createdAt)?.toISOString() ?? null,
  }));
  const res = await db.query<{ command_id: string }>(
    `INSERT INTO commands (command_id, harvester_id, command, receiver, params, ack_requested, created_at)
     SELECT x.command_id, $1, x.command, x.receiver, x.params -> 'v', x.ack_requested, x.created_at
     FROM jsonb_to_recordset($2::jsonb) AS x(command_id bigint, command text, receiver text, params jsonb,
        ack_requested boolean, created_at timestamptz)
     ON CONFLICT (command_id) DO NOTHING
     RETURNING command_id`,
    [harvesterID, JSON.stringify(input)],
  );
  return res.rows.map((r) => toSafeNumber(r.command_id)).sort((a, b) => a - b);
}

/** Commands received but not yet applied, oldest first (optionally for one receiver). */
export async function listPendingCommands(
  db: Queryable,
  harvesterID: string,
  receiver?: string,
): Promise<CommandRecord[]> {
  const res = await db.query<CommandRow>(
    `SELECT * FROM commands WHERE harvester_id = $1 AND state = 'received' AND ($2::text IS NULL OR receiver = $2)
     ORDER BY command_id`,
    [harvesterID, receiver ?? null],
  );
  return res.rows.map(toCommand);
}

/** Applied commands whose acknowledgement PanDA asked for and has not yet received. */
export async function listCommandsToAcknowledge(
  db: Queryable,
  harvesterID: string,
): Promise<CommandRecord[]> {
  const res = await db.query<CommandRow>(
    `SELECT * FROM commands WHERE harvester_id = $1 AND state = 'applied' AND ack_requested ORDER BY command_id`,
    [harvesterID],
  );
  return res.rows.map(toCommand);
}

export async function getCommand(db: Queryable, commandID: number): Promise<CommandRecord | null> {
  const res = await db.query<CommandRow>('SELECT * FROM commands WHERE command_id = $1', [commandID]);
  return res.rows[0] ? toCommand(res.rows[0]) : null;
}

/**
 * received -> applied, once the action took effect; result is kept for operators (e.g. the worker
 * ids a KILL_WORKERS marked). Returns false if the command was not in `received` (already applied).
 */
export async function markCommandApplied(
  db: Queryable,
  commandID: number,
  result?: unknown,
): Promise<boolean> {
  const res = await db.query(
    `UPDATE commands SET state = 'applied', applied_at = now(), result = $2::jsonb
     WHERE command_id = $1 AND state = 'received'`,
    [commandID, result === undefined ? null : JSON.stringify(result)],
  );
  return (res.rowCount ?? 0) > 0;
}

/**
 * applied -> acknowledged, after PanDA accepted acknowledge_commands. A command that was not
 * applied yet cannot be acknowledged: that would tell PanDA it took effect when it has not.
 * Returns the ids moved now.
 */
export async function markCommandAcknowledged(
  db: Queryable,
  commandIDs: readonly number[],
): Promise<number[]> {
  if (commandIDs.length === 0) return [];
  const res = await db.query<{ command_id: string }>(
    `UPDATE commands SET state = 'acknowledged', acknowledged_at = now()
     WHERE command_id = ANY($1::bigint[]) AND state = 'applied'
     RETURNING command_id`,
    [commandIDs],
  );
  return res.rows.map((r) => toSafeNumber(r.command_id)).sort((a, b) => a - b);
}
