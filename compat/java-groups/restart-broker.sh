#!/usr/bin/env bash
# compat/java-groups/restart-broker.sh TARGET PORT DATADIR
#
# Restarts a broker that compat/lib/TARGET-start.sh started on PORT with
# DATADIR: TARGET-stop.sh DATADIR (SIGTERM, a clean shutdown), then
# TARGET-start.sh PORT DATADIR, which keeps the data dir and returns once the
# broker answers ApiVersions. Everything is logged to stderr.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 TARGET PORT DATADIR" >&2
  exit 2
fi
lib="$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)"
echo "restart-broker: stopping $1 ($3)" >&2
"$lib/$1-stop.sh" "$3" >&2
echo "restart-broker: starting $1 on 127.0.0.1:$2 ($3)" >&2
"$lib/$1-start.sh" "$2" "$3" >&2
echo "restart-broker: $1 answers on 127.0.0.1:$2" >&2
