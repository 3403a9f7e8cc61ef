-- Domain tables: workers, jobs, files, job-worker relations, queues, queue config dumps,
-- commands, worker statistics and service metrics (harvester-spec §3, §6, §8, §9).
-- Column names are Harvester's attribute names in snake_case (workerID -> worker_id,
-- computingSite -> computing_site). Timestamps are timestamptz; free-form attributes are
-- JSONB so that a new pilot/PanDA attribute needs no migration.

-- Harvester's SEQ_workerID. Worker ids are allocated before the row is inserted (the id goes
-- into the batch job name so that a retried submit can find its own job), hence a sequence
-- rather than a serial column.
CREATE SEQUENCE harvester_worker_id_seq AS bigint START WITH 1;

CREATE TABLE workers (
  worker_id bigint PRIMARY KEY,
  harvester_id text NOT NULL,
  computing_site text NOT NULL,              -- PanDA queue
  config_id text NOT NULL,                   -- queue_config_dumps.config_id in force at creation
  map_type text NOT NULL CHECK (map_type IN ('NoJob', 'OneToOne', 'ManyToOne', 'OneToMany')),
  status text NOT NULL CHECK (status IN ('pending', 'submitted', 'idle', 'ready', 'running',
                                         'finished', 'failed', 'cancelled', 'missed')),
  resource_type text NOT NULL,
  job_type text NOT NULL,
  pilot_type text,
  prod_source_label text,
  n_core integer NOT NULL,
  min_ram_count integer,
  max_disk_count integer,
  max_walltime integer,
  batch_id text,
  queue_name text,                           -- batch queue / partition
  computing_element text,
  submission_host text,
  node_id text,
  access_point text,
  creation_time timestamptz NOT NULL DEFAULT now(),
  submit_time timestamptz,
  start_time timestamptz,                    -- set once, on the first move to running
  end_time timestamptz,                      -- set once, on the move to a final status
  native_status text,
  native_exit_code integer,
  diag_message text,                         -- <= 500 characters, as in Harvester
  error_code integer,
  work_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Kill marking (harvester-spec §9): set once on a non-final worker; the sweeper acts on it.
  kill_time timestamptz,
  kill_reason text,
  -- Harvester's lastUpdate: the state changed and PanDA has not seen the change yet.
  -- NULL = nothing left to propagate (a final worker whose final state PanDA accepted).
  last_update timestamptz,
  reported_at timestamptz,                   -- last successful update_workers for this worker
  modification_time timestamptz NOT NULL DEFAULT now(),
  -- Cleanup done (files removed, workflow completed). The row stays as the record.
  swept_at timestamptz
);

-- Live workers of a queue by status: the adjuster's counts and the monitor's list.
CREATE INDEX workers_live_idx ON workers (computing_site, harvester_id, status)
  WHERE swept_at IS NULL AND status IN ('pending', 'submitted', 'idle', 'ready', 'running');
-- Kill-marked workers still waiting for the kill to take effect.
CREATE INDEX workers_kill_idx ON workers (kill_time)
  WHERE kill_time IS NOT NULL AND status IN ('pending', 'submitted', 'idle', 'ready', 'running');
-- Final workers past their keep time (sweep selection).
CREATE INDEX workers_sweep_idx ON workers (end_time)
  WHERE swept_at IS NULL AND status IN ('finished', 'failed', 'cancelled', 'missed');
-- Workers with a change PanDA has not seen yet.
CREATE INDEX workers_propagate_idx ON workers (last_update) WHERE last_update IS NOT NULL;

-- Harvester's rule "the DB never overwrites a worker already in a final status", plus the two
-- reversals set_status refuses, enforced here as well as in the data-access code so that no
-- writer (a hand-written UPDATE, a future module) can break them. The data-access functions
-- filter these cases out before updating, so this only fires on a programming error.
CREATE FUNCTION workers_guard_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    IF OLD.status IN ('finished', 'failed', 'cancelled', 'missed') THEN
      RAISE EXCEPTION 'worker % is already %: a final status is never overwritten (attempted %)',
        OLD.worker_id, OLD.status, NEW.status USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'submitted' AND OLD.status IN ('running', 'idle') THEN
      RAISE EXCEPTION 'worker % is %: it cannot go back to submitted', OLD.worker_id, OLD.status
        USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'pending' THEN
      RAISE EXCEPTION 'worker % is %: it cannot go back to pending', OLD.worker_id, OLD.status
        USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER workers_guard_status BEFORE UPDATE OF status ON workers
  FOR EACH ROW EXECUTE FUNCTION workers_guard_status();

CREATE TABLE jobs (
  panda_id bigint PRIMARY KEY,
  task_id bigint,
  attempt_nr integer,
  status text NOT NULL CHECK (status IN ('starting', 'running', 'finished', 'failed', 'cancelled', 'missed')),
  sub_status text NOT NULL,
  computing_site text NOT NULL,
  config_id text,
  resource_type text,
  n_core integer,
  job_params jsonb NOT NULL DEFAULT '{}'::jsonb,      -- the full job dict PanDA returned
  job_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,  -- attributes reported by pilot/worker
  creation_time timestamptz NOT NULL DEFAULT now(),
  modification_time timestamptz NOT NULL DEFAULT now(),
  state_change_time timestamptz,
  start_time timestamptz,
  end_time timestamptz,
  -- Harvester's propagatorTime: when the job was last reported (or 'epoch' = report now).
  -- A heartbeat is due when it is older than the heartbeat interval; NULL = nothing more to send.
  propagator_time timestamptz
);
CREATE INDEX jobs_heartbeat_idx ON jobs (computing_site, propagator_time) WHERE propagator_time IS NOT NULL;
CREATE INDEX jobs_task_idx ON jobs (task_id);

-- Jobs and workers are many-to-many (ManyToOne, OneToMany). No foreign key to jobs: in pull
-- mode PanDA tells us which PandaIDs a worker ran without the job ever being in our table.
CREATE TABLE job_workers (
  panda_id bigint NOT NULL,
  worker_id bigint NOT NULL REFERENCES workers (worker_id) ON DELETE CASCADE,
  relation_type text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (panda_id, worker_id)
);
CREATE INDEX job_workers_worker_idx ON job_workers (worker_id);

CREATE TABLE files (
  file_id bigserial PRIMARY KEY,
  panda_id bigint NOT NULL REFERENCES jobs (panda_id) ON DELETE CASCADE,
  lfn text NOT NULL,
  file_type text NOT NULL CHECK (file_type IN ('input', 'aux_input', 'output', 'log', 'zip_output',
                                               'checkpoint', 'es_output')),
  status text NOT NULL,
  scope text,
  fsize bigint,
  chksum text,
  path text,
  worker_id bigint,
  file_attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  modification_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_job_idx ON files (panda_id);
CREATE INDEX files_lfn_idx ON files (lfn);
CREATE INDEX files_worker_idx ON files (worker_id) WHERE worker_id IS NOT NULL;

-- One row per (instance, PanDA queue). Limits are the values PanDA/CRIC set for the queue;
-- NULL = not set. Pause/drain are operator flags, kept apart from PanDA's own queue status.
CREATE TABLE queues (
  harvester_id text NOT NULL,
  queue_name text NOT NULL,
  config_id text NOT NULL,
  site_name text,
  panda_status text,                         -- e.g. online / offline / brokeroff, as PanDA reports it
  paused boolean NOT NULL DEFAULT false,
  draining boolean NOT NULL DEFAULT false,
  pause_reason text,
  n_queue_limit_job integer,
  n_queue_limit_job_ratio integer,
  n_queue_limit_job_max integer,
  n_queue_limit_job_min integer,
  n_queue_limit_worker integer,
  n_queue_limit_worker_ratio integer,
  n_queue_limit_worker_max integer,
  n_queue_limit_worker_min integer,
  max_workers integer,
  max_new_workers_per_cycle integer,
  limits_updated_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (harvester_id, queue_name)
);

-- nNewWorkers per (jobType, resourceType), as set by SET_N_WORKERS_JOBTYPE (Harvester keeps
-- these in cloned pq_table rows; a child table says the same thing without the clones).
CREATE TABLE queue_new_workers (
  harvester_id text NOT NULL,
  queue_name text NOT NULL,
  job_type text NOT NULL,
  resource_type text NOT NULL,
  n_new_workers integer NOT NULL CHECK (n_new_workers >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (harvester_id, queue_name, job_type, resource_type),
  FOREIGN KEY (harvester_id, queue_name) REFERENCES queues (harvester_id, queue_name) ON DELETE CASCADE
);

-- Every queue configuration a worker was created under, so that a worker is always handled
-- with the config it was submitted with, even after the queue's config changed.
CREATE TABLE queue_config_dumps (
  config_id text PRIMARY KEY,
  queue_name text NOT NULL,
  checksum text NOT NULL,                    -- of the config without queueStatus
  data jsonb NOT NULL,
  creation_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX queue_config_dumps_lookup_idx ON queue_config_dumps (queue_name, checksum);

-- Commands from PanDA. Unlike Harvester (marks processed on read: at-most-once), a command
-- moves received -> applied only after it took effect, and applied -> acknowledged only after
-- PanDA accepted the acknowledgement, so a crash in between repeats the step instead of losing it.
CREATE TABLE commands (
  command_id bigint PRIMARY KEY,             -- PanDA's id
  harvester_id text NOT NULL,
  command text NOT NULL,
  receiver text NOT NULL,
  params jsonb,
  ack_requested boolean NOT NULL DEFAULT false,
  state text NOT NULL DEFAULT 'received' CHECK (state IN ('received', 'applied', 'acknowledged')),
  result jsonb,
  created_at timestamptz,                    -- PanDA's creation_date
  received_at timestamptz NOT NULL DEFAULT now(),
  applied_at timestamptz,
  acknowledged_at timestamptz
);
CREATE INDEX commands_pending_idx ON commands (harvester_id, state, command_id) WHERE state <> 'acknowledged';

-- Last worker statistics reported to PanDA per (instance, queue), replaced as a whole on each
-- report (as PanDA's Harvester_Worker_Stats is), so operators can see what PanDA was told.
CREATE TABLE worker_stats (
  harvester_id text NOT NULL,
  computing_site text NOT NULL,
  job_type text NOT NULL,
  resource_type text NOT NULL,
  status text NOT NULL,
  n_workers integer NOT NULL,
  reported_at timestamptz NOT NULL,
  PRIMARY KEY (harvester_id, computing_site, job_type, resource_type, status)
);

-- Service metrics (Harvester's sm_table): pushed to PanDA every 300 s, purged after a week.
CREATE TABLE service_metrics (
  metric_id bigserial PRIMARY KEY,
  harvester_id text NOT NULL,
  host_name text NOT NULL,
  creation_time timestamptz NOT NULL DEFAULT now(),
  metrics jsonb NOT NULL
);
CREATE INDEX service_metrics_time_idx ON service_metrics (harvester_id, creation_time);
