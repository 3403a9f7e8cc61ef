#!/bin/sh
# One-shot Temporal set-up, run in the temporalio/admin-tools image (busybox sh, no bash).
#
#   setup-temporal.sh schema      create + migrate the `temporal` and `temporal_visibility`
#                                 databases (temporal-sql-tool, plugin postgres12). Needs only
#                                 PostgreSQL; run it before the server starts and again with the
#                                 new admin-tools image before every server upgrade.
#   setup-temporal.sh namespace   wait for the frontend, create the namespace if missing and
#                                 register the harvester's custom search attributes. Needs a
#                                 running server.
#
# Both phases are idempotent: `create` ignores an existing database, setup-schema does not go
# below the recorded version, update-schema applies only newer versions, and the server skips a
# search attribute that is already registered.
#
# Environment (schema):    POSTGRES_SEEDS, DB_PORT (5432), POSTGRES_USER, SQL_PASSWORD (read by
#                          temporal-sql-tool itself, so it never shows in `ps`), DBNAME (temporal),
#                          VISIBILITY_DBNAME (temporal_visibility), SQL_TLS* for TLS to PostgreSQL.
# Environment (namespace): TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, NAMESPACE_RETENTION (168h),
#                          SEARCH_ATTRIBUTES ("Name=Type Name=Type ..."), TEMPORAL_TLS_* /
#                          TEMPORAL_API_KEY (read by the temporal CLI itself).
set -eu

ATTEMPTS=${SETUP_ATTEMPTS:-60}
SLEEP=${SETUP_SLEEP_SECONDS:-2}

log() { echo "setup-temporal: $*"; }
die() { echo "setup-temporal: ERROR: $*" >&2; exit 1; }

# retry WHAT CMD...: runs CMD until it succeeds, at most $ATTEMPTS times.
retry() {
  what=$1
  shift
  n=1
  until "$@"; do
    [ "$n" -ge "$ATTEMPTS" ] && die "$what: still failing after $ATTEMPTS attempts"
    log "$what: not yet (attempt $n/$ATTEMPTS), retrying in ${SLEEP}s"
    n=$((n + 1))
    sleep "$SLEEP"
  done
}

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" "$@"
}

setup_database() {
  db=$1
  schema_dir=$2
  log "database $db: create (if missing), set up, migrate with $schema_dir"
  retry "create database $db" sql_tool --db "$db" create
  sql_tool --db "$db" setup-schema -v 0.0
  sql_tool --db "$db" update-schema -d "$schema_dir"
}

phase_schema() {
  : "${POSTGRES_SEEDS:?POSTGRES_SEEDS (PostgreSQL host) is required}"
  : "${POSTGRES_USER:?POSTGRES_USER is required}"
  : "${SQL_PASSWORD:?SQL_PASSWORD (the PostgreSQL password, read by temporal-sql-tool) is required}"
  retry "PostgreSQL port ${POSTGRES_SEEDS}:${DB_PORT:-5432}" nc -z -w 5 "$POSTGRES_SEEDS" "${DB_PORT:-5432}"
  setup_database "${DBNAME:-temporal}" /etc/temporal/schema/postgresql/v12/temporal/versioned
  setup_database "${VISIBILITY_DBNAME:-temporal_visibility}" /etc/temporal/schema/postgresql/v12/visibility/versioned
  log "schema set-up complete"
}

search_attribute_listed() {
  temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE" 2>/dev/null | grep -qw "$1"
}

phase_namespace() {
  : "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS (host:port of the frontend) is required}"
  : "${TEMPORAL_NAMESPACE:?TEMPORAL_NAMESPACE is required}"
  : "${SEARCH_ATTRIBUTES:?SEARCH_ATTRIBUTES (Name=Type ...) is required}"
  export TEMPORAL_ADDRESS TEMPORAL_NAMESPACE
  retry "cluster health at $TEMPORAL_ADDRESS" temporal operator cluster health

  if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
    log "namespace $TEMPORAL_NAMESPACE exists; retention left as it is"
  else
    log "creating namespace $TEMPORAL_NAMESPACE (retention ${NAMESPACE_RETENTION:-168h})"
    retry "create namespace $TEMPORAL_NAMESPACE" \
      temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" --retention "${NAMESPACE_RETENTION:-168h}"
  fi

  for pair in $SEARCH_ATTRIBUTES; do
    name=${pair%%=*}
    type=${pair#*=}
    [ -n "$name" ] && [ -n "$type" ] && [ "$name" != "$pair" ] || die "SEARCH_ATTRIBUTES entry '$pair': expected Name=Type"
    if search_attribute_listed "$name"; then
      log "search attribute $name already registered"
    else
      log "registering search attribute $name ($type)"
      retry "create search attribute $name" \
        temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" --name "$name" --type "$type"
    fi
  done

  # The frontend caches namespace metadata: wait until every attribute is visible, so workers
  # started after this job never see "search attribute not defined".
  for pair in $SEARCH_ATTRIBUTES; do
    retry "search attribute ${pair%%=*} visible" search_attribute_listed "${pair%%=*}"
  done
  log "namespace $TEMPORAL_NAMESPACE ready with search attributes: $SEARCH_ATTRIBUTES"
}

case "${1:-}" in
  schema) phase_schema ;;
  namespace) phase_namespace ;;
  *) die "usage: $0 schema|namespace" ;;
esac
