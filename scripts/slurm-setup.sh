#!/usr/bin/env bash
# A one-node Slurm on this machine, for the Slurm plugin's integration tests and the demo.
#
# Idempotent: run it as often as you like. Each step checks first and says what it did:
#   1. apt-get install slurm-wlm munge (apt-get update only when the package lists lack them)
#   2. /etc/slurm/slurm.conf for this host (rewritten only when its content would change)
#   3. munged, slurmctld, slurmd started if not running (as root: no systemd on these machines)
#   4. wait (bounded) until sinfo shows this node usable
#
# Must run as root on Debian 12 (Slurm 22.05) or 13 (Slurm 24.11; run unchanged in a trixie chroot,
# test/fixtures/slurm/README.md). See /work/shared/reference/machine-notes.md for why the
# configuration looks like this (proctrack/linuxproc and task/none: no cgroups, no systemd).
#
# Environment:
#   SLURM_SETUP_WAIT_SECONDS  how long to wait for the node (default 60)
#   SLURM_SETUP_FORCE_CONF=1  overwrite an /etc/slurm/slurm.conf this script did not write
#   SLURM_MIN_JOB_AGE         seconds a finished job stays in squeue (default 10, Slurm's is 300)
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# written by temporal-harvester scripts/slurm-setup.sh"
LOG_DIR=/var/log/slurm
JOBCOMP_FILE=$LOG_DIR/jobcomp.log
WAIT_SECONDS=${SLURM_SETUP_WAIT_SECONDS:-60}
MIN_JOB_AGE=${SLURM_MIN_JOB_AGE:-10}

say() { echo "slurm-setup: $*"; }
die() {
  echo "slurm-setup: ERROR: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts the Slurm daemons as root)"

# --- 1. packages -------------------------------------------------------------------------------
missing=()
for pkg in slurm-wlm munge; do
  # Output captured first: `cmd | grep -q` under pipefail fails when grep exits before cmd ends.
  pkg_status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [ "$pkg_status" != "install ok installed" ]; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  # Only refresh the lists when apt does not know a candidate: an update costs seconds and
  # needs the network, which a machine with warm lists can skip.
  policy=$(apt-cache policy "${missing[@]}" 2>/dev/null || true)
  if [ "$(grep -c 'Candidate: [0-9]' <<<"$policy")" -lt ${#missing[@]} ]; then
    say "apt-get update (no candidate for ${missing[*]} in the package lists)"
    apt-get -o DPkg::Lock::Timeout=300 update -qq || die "apt-get update failed"
  fi
  say "installing ${missing[*]}"
  # Daemons are started below by this script; keep the package scripts from trying (no systemd).
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends slurm-wlm munge \
    >/tmp/slurm-setup-apt.log 2>&1 || die "apt-get install slurm-wlm munge failed; see /tmp/slurm-setup-apt.log"
else
  say "packages slurm-wlm and munge already installed"
fi

# --- 2. configuration --------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(nproc)
# 90 % of physical memory: slurmd drains a node whose RealMemory is above what it measures.
MEM_MB=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)

mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd /run/munge /var/log/munge /var/lib/munge
touch "$JOBCOMP_FILE"

new_conf=$(
  cat <<EOF
$MARKER
# One node, everything as root. Regenerated when host, CPUs or memory change.
ClusterName=harvester
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
# Cores only: jobs that ask for no memory must not be held back by a memory count.
SelectTypeParameters=CR_Core
# Finished jobs leave squeue after MinJobAge (purged by slurmctld about once a minute); the
# jobcomp file keeps a line per finished job so the monitor can still tell how it ended.
MinJobAge=$MIN_JOB_AGE
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_FILE
# Short grace between SIGTERM and SIGKILL so cancelled and timed-out test jobs end quickly.
KillWait=5
# A node that was down (e.g. slurmd restarted) comes back by itself once it registers.
ReturnToService=2
SlurmdTimeout=60
NodeName=$HOST CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:64
EOF
)

conf_changed=0
if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$new_conf" ]; then
  say "$CONF is up to date"
else
  if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF" && [ "${SLURM_SETUP_FORCE_CONF:-0}" != 1 ]; then
    die "$CONF exists and was not written by this script; set SLURM_SETUP_FORCE_CONF=1 to replace it"
  fi
  printf '%s\n' "$new_conf" >"$CONF"
  conf_changed=1
  say "wrote $CONF (node $HOST, $CPUS CPUs, ${MEM_MB} MB)"
fi

# --- 3. daemons --------------------------------------------------------------------------------
running() { pgrep -x "$1" >/dev/null 2>&1; }

if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key >/dev/null
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  say "created /etc/munge/munge.key"
fi
# munged refuses keys and directories that others can read or write.
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
chown -R root:root /etc/munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge

if running munged; then
  say "munged already running"
else
  # --force: munged declines to run as root otherwise; on this machine everything is root.
  munged --force || die "munged did not start; see /var/log/munge/munged.log"
  say "started munged"
fi

if running slurmctld; then
  if [ "$conf_changed" = 1 ]; then
    scontrol reconfigure || die "scontrol reconfigure failed after $CONF changed; see $LOG_DIR/slurmctld.log"
    say "slurmctld already running; told it to re-read $CONF"
  else
    say "slurmctld already running"
  fi
else
  slurmctld || die "slurmctld did not start; see $LOG_DIR/slurmctld.log"
  say "started slurmctld"
fi

if running slurmd; then
  say "slurmd already running"
else
  slurmd || die "slurmd did not start; see $LOG_DIR/slurmd.log"
  say "started slurmd"
fi

# --- 4. wait for the node ----------------------------------------------------------------------
deadline=$((SECONDS + WAIT_SECONDS))
resumed=0
state=""
while :; do
  state=$(sinfo -h -n "$HOST" -o '%T' 2>/dev/null | head -n1 || true)
  case "$state" in
  idle | mixed | allocated | completing)
    say "node $HOST is $state; Slurm is ready (jobcomp file $JOBCOMP_FILE)"
    exit 0
    ;;
  down* | drain* | drained*)
    # Left over from an earlier run (e.g. slurmd killed): resume once, then keep waiting.
    if [ "$resumed" = 0 ]; then
      scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
      resumed=1
      say "node $HOST was $state; asked Slurm to resume it"
    fi
    ;;
  esac
  if [ $SECONDS -ge $deadline ]; then
    reason=$(sinfo -h -n "$HOST" -o '%E' 2>/dev/null || true)
    die "node $HOST not usable after ${WAIT_SECONDS}s (state '${state:-no answer from slurmctld}', reason '${reason}'); see $LOG_DIR/slurmctld.log and $LOG_DIR/slurmd.log"
  fi
  sleep 1
done
