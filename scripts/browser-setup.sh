#!/usr/bin/env bash
# Debian's chromium for the UI end-to-end test (test/integration/ui.test.ts), driven there by the
# npm package playwright-core. `npx playwright install` cannot download a browser on these machines
# (no internet except the package registries), so the browser comes from Debian.
#
# Idempotent: does nothing when /usr/bin/chromium is already there. Otherwise installs the Debian
# package `chromium`, running apt-get update only when the package lists have no candidate for it.
#
# Must run as root on Debian 12 (the project's machines; see /work/shared/reference/machine-notes.md).
#
# Environment:
#   HARVESTER_CHROMIUM  browser to check for instead of /usr/bin/chromium (then nothing is installed)
set -euo pipefail

CHROMIUM=${HARVESTER_CHROMIUM:-/usr/bin/chromium}
APT_LOG=/tmp/browser-setup-apt.log

say() { echo "browser-setup: $*"; }
die() {
  echo "browser-setup: ERROR: $*" >&2
  exit 1
}

check_browser() {
  local version
  # --version starts no window and needs no display; it proves the binary and its libraries load.
  version=$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) ||
    die "$CHROMIUM is there but does not run ('$CHROMIUM --version' failed); reinstall with: apt-get install --reinstall -y chromium"
  say "$version at $CHROMIUM"
}

if [ -x "$CHROMIUM" ]; then
  check_browser
  exit 0
fi
if [ -n "${HARVESTER_CHROMIUM:-}" ]; then
  die "HARVESTER_CHROMIUM=$CHROMIUM is not an executable file (unset it to use Debian's chromium)"
fi

[ "$(id -u)" -eq 0 ] || die "$CHROMIUM is missing and installing it needs root: run 'apt-get install -y chromium' as root"
command -v apt-get >/dev/null 2>&1 || die "$CHROMIUM is missing and there is no apt-get here (Debian 12 expected)"

# Refresh the lists only when apt knows no candidate: an update costs seconds and the network.
policy=$(apt-cache policy chromium 2>/dev/null || true)
if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
  say "apt-get update (no candidate for chromium in the package lists)"
  apt-get -o DPkg::Lock::Timeout=300 update -qq >"$APT_LOG" 2>&1 || die "apt-get update failed; see $APT_LOG"
fi

say "installing Debian's chromium (about 100 MB with its libraries)"
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >"$APT_LOG" 2>&1 ||
  die "apt-get install chromium failed; see $APT_LOG"
[ -x "$CHROMIUM" ] || die "apt-get install chromium succeeded but $CHROMIUM is still missing"
check_browser
