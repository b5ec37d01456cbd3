#!/usr/bin/env bash
# fjord-stop.sh DATADIR [kill]
#
# Stops the fjord that fjord-start.sh started with DATADIR: SIGTERM to the
# PID in DATADIR/fjord.pid, waits (at most FJORD_STOP_TIMEOUT_S, default
# 30 s) for it to exit, then SIGKILL. A missing or stale PID file is not an error.
#
# With `kill`: SIGKILL at once, a crash instead of a clean shutdown (what a
# case that restarts a killed broker on the same data dir needs).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ] || { [ $# -eq 2 ] && [ "$2" != kill ]; }; then
  echo "usage: $0 DATADIR [kill]" >&2
  exit 2
fi
[ -d "$1" ] || exit 0
datadir="$(cd "$1" && pwd)"
lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=compat/lib/common.sh
. "$lib_dir/common.sh"

if [ "${2:-}" = kill ]; then
  kill_by_pidfile fjord-stop "$datadir/fjord.pid" "$datadir/server.properties"
  exit
fi
stop_by_pidfile fjord-stop "$datadir/fjord.pid" "${FJORD_STOP_TIMEOUT_S:-30}" "$datadir/server.properties"
