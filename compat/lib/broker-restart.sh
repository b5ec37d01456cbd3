#!/usr/bin/env bash
# compat/lib/broker-restart.sh TARGET PORT DATADIR [stop|kill]
#
# Restarts a broker that compat/lib/TARGET-start.sh started on PORT with
# DATADIR, keeping its data: `stop` (the default) shuts it down cleanly
# (TARGET-stop.sh DATADIR, SIGTERM), `kill` crashes it (TARGET-stop.sh
# DATADIR kill, SIGKILL: no clean close of logs, indexes or snapshots); then
# TARGET-start.sh PORT DATADIR, which keeps the data dir (Kafka is not
# formatted again) and returns once the broker answers ApiVersions. The PID
# file then names the new process. Everything is logged to stderr.
set -euo pipefail
if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: $0 TARGET PORT DATADIR [stop|kill]" >&2
  exit 2
fi
target="$1" port="$2" datadir="$3" how="${4:-stop}"
lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "$how" in
  stop) echo "broker-restart: stopping $target ($datadir)" >&2
    "$lib/$target-stop.sh" "$datadir" >&2 ;;
  kill) echo "broker-restart: killing $target with SIGKILL ($datadir)" >&2
    "$lib/$target-stop.sh" "$datadir" kill >&2 ;;
  *) echo "broker-restart: stop or kill, not '$how'" >&2; exit 2 ;;
esac
# A killed JVM's main thread can be gone (so the PID counts as exited) while
# its other threads, and so its sockets, take a moment longer.
# shellcheck source=compat/lib/common.sh
. "$lib/common.sh"
deadline=$((SECONDS + 15))
while port_in_use "$port" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
echo "broker-restart: starting $target on 127.0.0.1:$port ($datadir)" >&2
"$lib/$target-start.sh" "$port" "$datadir" >&2
echo "broker-restart: $target answers on 127.0.0.1:$port" >&2
