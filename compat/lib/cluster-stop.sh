#!/usr/bin/env bash
# cluster-stop.sh BASEDIR — stops every node of the cluster in BASEDIR that
# cluster-start.sh started (SIGTERM to all at once, SIGKILL after
# CLUSTER_STOP_TIMEOUT_S, default 30 s), by
# the PIDs in BASEDIR/node*/node.pid. Keeps the data and logs. A node that is
# not running is not an error.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BASEDIR" >&2
  exit 2
fi
[ -f "$1/cluster.env" ] || exit 0
lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pids=()
for d in "$1"/node*/; do
  [ -f "$d/node.pid" ] || continue
  id="${d%/}"
  id="${id##*/node}"
  "$lib_dir/cluster-node.sh" "$1" stop "$id" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
exit 0
