-- The queue monitor keeps no per-worker list in workflow history (issue 14). Two columns carry
-- what it needs between cycles instead:
-- monitor_unknown: the last bulk status query could not tell this worker's status (Harvester's
-- None); the worker was told once and is told again when its status can be told.
ALTER TABLE workers ADD COLUMN monitor_unknown boolean NOT NULL DEFAULT false;
-- monitor_seq: bumped whenever a column a monitor reads changes, so an edge node's mirror of a
-- queue's live workers is kept current by the rows changed since the sequence it last applied.
CREATE SEQUENCE worker_monitor_seq;
ALTER TABLE workers ADD COLUMN monitor_seq bigint NOT NULL DEFAULT 0;
UPDATE workers SET monitor_seq = nextval('worker_monitor_seq');
CREATE FUNCTION workers_monitor_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR ROW(NEW.status, NEW.native_status, NEW.batch_id, NEW.access_point,
      NEW.submission_host, NEW.computing_element, NEW.queue_name, NEW.submit_time, NEW.start_time,
      NEW.kill_time, NEW.swept_at, NEW.config_id, NEW.monitor_unknown)
    IS DISTINCT FROM ROW(OLD.status, OLD.native_status, OLD.batch_id, OLD.access_point,
      OLD.submission_host, OLD.computing_element, OLD.queue_name, OLD.submit_time, OLD.start_time,
      OLD.kill_time, OLD.swept_at, OLD.config_id, OLD.monitor_unknown) THEN
    NEW.monitor_seq := nextval('worker_monitor_seq');
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER workers_monitor_seq BEFORE INSERT OR UPDATE ON workers
  FOR EACH ROW EXECUTE FUNCTION workers_monitor_seq();
CREATE INDEX workers_monitor_seq_idx ON workers (computing_site, harvester_id, monitor_seq);
