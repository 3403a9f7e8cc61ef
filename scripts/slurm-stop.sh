#!/usr/bin/env bash
# Stops what scripts/slurm-setup.sh started: slurmd, slurmctld (via `scontrol shutdown`, which
# asks both to exit cleanly) and munged (by its pid file). Idempotent; leaves the configuration
# and packages in place so the next slurm-setup.sh is quick.
set -euo pipefail

say() { echo "slurm-stop: $*"; }
running() { pgrep -x "$1" >/dev/null 2>&1; }

[ "$(id -u)" -eq 0 ] || {
  echo "slurm-stop: ERROR: must run as root" >&2
  exit 1
}

if running slurmctld || running slurmd; then
  scontrol shutdown >/dev/null 2>&1 || say "scontrol shutdown failed; stopping daemons by pid file"
fi

# Wait up to 15 s for a clean exit, then fall back to the pid files the daemons wrote.
stop_by_pidfile() {
  local name=$1 pidfile=$2
  for _ in $(seq 1 15); do
    running "$name" || {
      say "$name stopped"
      return 0
    }
    sleep 1
  done
  if [ -s "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
    sleep 1
  fi
  if running "$name"; then
    echo "slurm-stop: ERROR: $name still running" >&2
    return 1
  fi
  say "$name stopped (by pid file)"
}

status=0
stop_by_pidfile slurmd /run/slurmd.pid || status=1
stop_by_pidfile slurmctld /run/slurmctld.pid || status=1

if running munged; then
  pidfile=/run/munge/munged.pid
  if [ -s "$pidfile" ]; then
    kill "$(cat "$pidfile")" 2>/dev/null || true
  fi
  for _ in $(seq 1 10); do running munged || break; sleep 0.5; done
  if running munged; then
    echo "slurm-stop: ERROR: munged still running" >&2
    status=1
  else
    say "munged stopped"
  fi
else
  say "munged not running"
fi
exit $status
