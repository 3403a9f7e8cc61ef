/** Data access for a job's input/output files (Harvester's file_table). */
import type { FileSpec, FileType } from '../core/specs';
import { orUndefined, type Queryable, toSafeNumber } from './sql';

interface FileRow {
  file_id: string;
  panda_id: string;
  lfn: string;
  file_type: FileType;
  status: string;
  scope: string | null;
  fsize: string | null;
  chksum: string | null;
  path: string | null;
  worker_id: string | null;
  file_attributes: Record<string, unknown>;
}

function toFile(r: FileRow): FileSpec {
  return {
    fileID: toSafeNumber(r.file_id),
    PandaID: toSafeNumber(r.panda_id),
    lfn: r.lfn,
    fileType: r.file_type,
    status: r.status,
    scope: orUndefined(r.scope),
    fsize: r.fsize == null ? undefined : toSafeNumber(r.fsize),
    chksum: orUndefined(r.chksum),
    path: orUndefined(r.path),
    workerID: r.worker_id == null ? undefined : toSafeNumber(r.worker_id),
    fileAttributes: r.file_attributes,
  };
}

/** Inserts files of known jobs; returns them with their new fileIDs, in input order. */
export async function insertFiles(db: Queryable, files: readonly FileSpec[]): Promise<FileSpec[]> {
  if (files.length === 0) return [];
  const input = files.map((f, i) => ({
    ord: i,
    panda_id: f.PandaID,
    lfn: f.lfn,
    file_type: f.fileType,
    status: f.status,
    scope: f.scope ?? null,
    fsize: f.fsize ?? null,
    chksum: f.chksum ?? null,
    path: f.path ?? null,
    worker_id: f.workerID ?? null,
    file_attributes: f.fileAttributes ?? {},
  }));
  // file_id defaults are drawn as rows reach the INSERT, i.e. in the SELECT's ORDER BY: ids follow input order.
  const res = await db.query<FileRow>(
    `INSERT INTO files (panda_id, lfn, file_type, status, scope, fsize, chksum, path, worker_id, file_attributes)
     SELECT panda_id, lfn, file_type, status, scope, fsize, chksum, path, worker_id, COALESCE(file_attributes, '{}'::jsonb)
     FROM jsonb_to_recordset($1::jsonb) AS x(ord integer, panda_id bigint, lfn text, file_type text, status text,
        scope text, fsize bigint, chksum text, path text, worker_id bigint, file_attributes jsonb)
     ORDER BY ord
     RETURNING *`,
    [JSON.stringify(input)],
  );
  return res.rows.map(toFile).sort((a, b) => (a.fileID ?? 0) - (b.fileID ?? 0));
}

export async function listFilesOfJob(db: Queryable, pandaID: number): Promise<FileSpec[]> {
  const res = await db.query<FileRow>('SELECT * FROM files WHERE panda_id = $1 ORDER BY file_id', [pandaID]);
  return res.rows.map(toFile);
}

/** Sets the status of files (e.g. output files -> transferring). Returns how many rows changed. */
export async function updateFileStatus(
  db: Queryable,
  fileIDs: readonly number[],
  status: string,
): Promise<number> {
  if (fileIDs.length === 0) return 0;
  const res = await db.query(
    'UPDATE files SET status = $2, modification_time = now() WHERE file_id = ANY($1::bigint[]) AND status <> $2',
    [fileIDs, status],
  );
  return res.rowCount ?? 0;
}
