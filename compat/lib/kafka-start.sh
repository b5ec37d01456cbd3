#!/usr/bin/env bash
# kafka-start.sh PORT DATADIR
#
# Starts a single-node Apache Kafka (KRaft, combined broker+controller,
# node.id=1) in the background with a PLAINTEXT listener on 127.0.0.1:PORT
# and its controller listener on another free loopback port. Writes
# DATADIR/server.properties, formats DATADIR/log with kafka.tools.StorageTool
# (random cluster id) unless it is already formatted, logs to
# DATADIR/kafka.log, records the PID in DATADIR/kafka.pid and returns once
# the broker answers requests (at most KAFKA_START_TIMEOUT_S, default 120 s).
#
# Env: KAFKA_HEAP_OPTS (default -Xms256m -Xmx1G), JAVA (default: java from
# JAVA_HOME or PATH).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 PORT DATADIR" >&2
  exit 2
fi
port="$1"
mkdir -p "$2"
datadir="$(cd "$2" && pwd)"
lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=compat/lib/common.sh
. "$lib_dir/common.sh"
# shellcheck source=compat/lib/kafka-libs.sh
. "$lib_dir/kafka-libs.sh"

java_bin="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
pidfile="$datadir/kafka.pid"
logfile="$datadir/kafka.log"
props="$datadir/server.properties"

if [ -f "$pidfile" ] && is_alive "$(cat "$pidfile")"; then
  echo "kafka-start: already running with pid $(cat "$pidfile") ($pidfile)" >&2
  exit 1
fi
if port_in_use "$port"; then
  echo "kafka-start: 127.0.0.1:$port is already in use" >&2
  exit 1
fi

controller_port="$(free_loopback_port)"
while [ "$controller_port" = "$port" ]; do controller_port="$(free_loopback_port)"; done

write_server_properties "$props" "$port" "$controller_port" "$datadir/log"

jvm_opts=(${KAFKA_HEAP_OPTS:--Xms256m -Xmx1G} -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$lib_dir/log4j2.properties")

if [ ! -f "$datadir/log/meta.properties" ]; then
  # A Kafka cluster id is 16 random bytes, URL-safe base64 without padding;
  # Kafka itself never hands out one that starts with '-'.
  cluster_id="$(python3 -c 'import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break')"
  if ! "$java_bin" "${jvm_opts[@]}" -cp "$KAFKA_LIBS_CP" kafka.tools.StorageTool \
      format -t "$cluster_id" -c "$props" >"$datadir/format.log" 2>&1; then
    echo "kafka-start: formatting storage failed:" >&2
    cat "$datadir/format.log" >&2
    exit 1
  fi
fi

# setsid: the broker gets its own session, so a timeout or ^C aimed at the
# caller's process group does not take it down; kafka-stop.sh ends it by PID.
setsid "$java_bin" "${jvm_opts[@]}" -Dkafka.logs.dir="$datadir" \
  -cp "$KAFKA_LIBS_CP" kafka.Kafka "$props" </dev/null >>"$logfile" 2>&1 &
echo $! >"$pidfile"

if ! wait_for_broker kafka-start "$(cat "$pidfile")" "$port" "$logfile" "${KAFKA_START_TIMEOUT_S:-120}"; then
  stop_by_pidfile kafka-start "$pidfile" 30 "$props"
  exit 1
fi
