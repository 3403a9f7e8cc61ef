-- Export of the workers and jobs tables to a central monitoring database (Harvester's "mirror of
-- the harvester DB for the PanDA monitor"; src/monitoring/exportToCentral.ts).

-- Where each instance's export of each table got to. The high-water mark is the (modification_time,
-- key) of the last row sent, so a run cut short by its row bound resumes exactly there. `target`
-- names the central database (no password): pointing the export at another database starts over.
CREATE TABLE monitor_export_state (
  harvester_id text NOT NULL,
  table_name text NOT NULL CHECK (table_name IN ('workers', 'jobs')),
  target text NOT NULL,
  hwm_time timestamptz,
  hwm_key bigint,
  -- false = the last run stopped at its row bound; the next one continues from the exact key
  -- instead of re-reading the overlap window.
  caught_up boolean NOT NULL DEFAULT true,
  -- Highest monitor_export_tombstones.seq already marked deleted in the central database.
  tombstone_seq bigint NOT NULL DEFAULT 0,
  last_export_at timestamptz,
  rows_exported bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (harvester_id, table_name)
);

-- Deleted rows leave no trace to export, so a trigger records their keys. Each instance reads
-- them past its own tombstone_seq (several instances may share this DB); they are purged by age.
CREATE TABLE monitor_export_tombstones (
  seq bigserial PRIMARY KEY,
  table_name text NOT NULL CHECK (table_name IN ('workers', 'jobs')),
  row_key bigint NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitor_export_tombstones_age_idx ON monitor_export_tombstones (deleted_at);

-- Records nothing until an export has run once (a state row exists), so an instance without a
-- monitoring database pays one index probe per deleted row and stores nothing.
CREATE FUNCTION monitor_export_record_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM monitor_export_state WHERE table_name = TG_ARGV[0]) THEN
    IF TG_ARGV[0] = 'jobs' THEN
      INSERT INTO monitor_export_tombstones (table_name, row_key) VALUES ('jobs', OLD.panda_id);
    ELSE
      INSERT INTO monitor_export_tombstones (table_name, row_key) VALUES ('workers', OLD.worker_id);
    END IF;
  END IF;
  RETURN OLD;
END
$$;
CREATE TRIGGER jobs_monitor_export_delete AFTER DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION monitor_export_record_delete('jobs');
CREATE TRIGGER workers_monitor_export_delete AFTER DELETE ON workers
  FOR EACH ROW EXECUTE FUNCTION monitor_export_record_delete('workers');

-- The incremental read walks rows in (modification_time, key) order from the high-water mark.
CREATE INDEX workers_modification_idx ON workers (modification_time, worker_id);
CREATE INDEX jobs_modification_idx ON jobs (modification_time, panda_id);
