#!/usr/bin/env bash
# fjord-start.sh PORT DATADIR
#
# Starts fjord from the same server.properties as kafka-start.sh writes
# (single node, node.id=1, a PLAINTEXT listener on 127.0.0.1:PORT, logs
# under DATADIR/log), logs to
# DATADIR/fjord.log, records the PID in DATADIR/fjord.pid and returns once
# it answers requests (at most FJORD_START_TIMEOUT_S, default 60 s).
#
# Env: FJORD_BIN (default: <repo>/target/release/fjord, which
# `cargo build --release` makes), RUST_LOG (passed through).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PORT DATADIR" >&2
  exit 2
fi
port="$1"
mkdir -p "$2"
datadir="$(cd "$2" && pwd)"
lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$lib_dir/../.." && pwd)"
# shellcheck source=compat/lib/common.sh
. "$lib_dir/common.sh"

fjord_bin="${FJORD_BIN:-$repo_root/target/release/fjord}"
pidfile="$datadir/fjord.pid"
logfile="$datadir/fjord.log"

if [ ! -x "$fjord_bin" ]; then
  echo "fjord-start: $fjord_bin not found; run 'cargo build --release' first" >&2
  exit 1
fi
if [ -f "$pidfile" ] && is_alive "$(cat "$pidfile")"; then
  echo "fjord-start: already running with pid $(cat "$pidfile") ($pidfile)" >&2
  exit 1
fi
if port_in_use "$port"; then
  echo "fjord-start: 127.0.0.1:$port is already in use" >&2
  exit 1
fi

# setsid: fjord gets its own session, so a timeout or ^C aimed at the
# caller's process group does not take it down; fjord-stop.sh ends it by PID.
controller_port="$(free_loopback_port)"
while [ "$controller_port" = "$port" ]; do controller_port="$(free_loopback_port)"; done
props="$datadir/server.properties"
write_server_properties "$props" "$port" "$controller_port" "$datadir/log"

setsid "$fjord_bin" --config "$props" </dev/null >>"$logfile" 2>&1 &
echo $! >"$pidfile"

if ! wait_for_broker fjord-start "$(cat "$pidfile")" "$port" "$logfile" "${FJORD_START_TIMEOUT_S:-60}"; then
  stop_by_pidfile fjord-start "$pidfile" 30 "$props"
  exit 1
fi
