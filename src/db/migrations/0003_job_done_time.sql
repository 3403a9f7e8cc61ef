-- Jobs are deleted max(keep)+1 h after they reached `done` (harvester-spec §9). modification_time
-- cannot tell when that was (any later write moves it), so record the moment explicitly.
ALTER TABLE jobs ADD COLUMN done_at timestamptz;

-- Rows already done when this migration runs: the best estimate we have is their last change.
UPDATE jobs SET done_at = modification_time WHERE sub_status = 'done' AND done_at IS NULL;

CREATE INDEX jobs_done_idx ON jobs (done_at) WHERE done_at IS NOT NULL;

-- The queue monitor maps the batch ids in one bulk squeue/condor_q answer back to workers.
CREATE INDEX workers_batch_idx ON workers (computing_site, batch_id) WHERE batch_id IS NOT NULL;

-- Harvester's errorDiag (<= 256 characters): the text that goes with errorCode, sent to PanDA in
-- place of diagMessage when errorCode is non-zero. WorkSpec gained the field after 0002 shipped.
ALTER TABLE workers ADD COLUMN error_diag text;
