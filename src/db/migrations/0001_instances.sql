-- Harvester instances (one row per harvesterID) and a small event log that the
-- foundation's end-to-end test writes through an activity.
CREATE TABLE harvester_instances (
  harvester_id text PRIMARY KEY,
  hostname text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_heartbeat timestamptz NOT NULL DEFAULT now(),
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE harvester_events (
  event_id bigserial PRIMARY KEY,
  harvester_id text NOT NULL,
  workflow_id text NOT NULL,
  kind text NOT NULL,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX harvester_events_workflow_idx ON harvester_events (workflow_id);
