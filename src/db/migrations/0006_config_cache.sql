-- Documents fetched from PanDA for this instance (Harvester's cache_table, filled by its Cacher):
-- the instance's remote queue config under the key 'queues_config_file'. Only a reply that parsed
-- is stored, so after a restart while PanDA is unreachable (or answers garbage) the last good copy
-- is still there. source_url tells a copy of another URL from the one configured now.
CREATE TABLE config_cache (
  harvester_id text NOT NULL,
  cache_key text NOT NULL,
  source_url text NOT NULL,
  data jsonb NOT NULL,
  fetched_at timestamptz NOT NULL,
  -- The latest failed fetch since fetched_at (NULL once a fetch succeeds again), for operators.
  last_error text,
  last_error_at timestamptz,
  PRIMARY KEY (harvester_id, cache_key)
);
