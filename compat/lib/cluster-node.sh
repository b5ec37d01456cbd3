#!/usr/bin/env bash
# cluster-node.sh BASEDIR ACTION ID — one node of a cluster that
# cluster-start.sh laid out in BASEDIR (see compat/README.md, "Clusters").
#
# Actions:
#   start ID      start node ID from BASEDIR/nodeID/server.properties (Kafka:
#                 formats nodeID/log with the cluster's id first if it is
#                 empty); waits until it answers ApiVersions, unless
#                 CLUSTER_NO_WAIT=1
#   stop ID       SIGTERM, wait (at most CLUSTER_STOP_TIMEOUT_S, default 30 s), then SIGKILL
#   kill ID       SIGKILL, and wait for the process to be gone
#   restart ID    stop then start
#   wipe ID       delete nodeID/log (the node must not be running)
#   add-broker ID write a broker-only node (process.roles=broker) on a new
#                 port, add it to BASEDIR/bootstrap, and start it
#   alive ID      exit 0 if the node's process runs
#   addr ID       print the node's own client address (127.0.0.1:PORT; in the
#                 fault layout 127.0.0.ID:PORT, not the proxy's)
#   pause ID      SIGSTOP; resume ID: SIGCONT
#
# Layout: BASEDIR/cluster.env (TARGET, CLUSTER_ID, VOTERS, INTERNAL_RF),
# BASEDIR/bootstrap, BASEDIR/nodeID/{server.properties,port,addr,node.pid,node.log,log/}.
#
# Env: FJORD_BIN (default <repo>/target/release/fjord), CLUSTER_JVM_OPTS
# (Kafka nodes; default -Xms128m -Xmx512m, serial GC, C1 only),
# CLUSTER_NODE_TIMEOUT_S (start deadline, default 90), CLUSTER_BASE_PORT
# (if set, node ID listens on BASE+2*(ID-1) and its controller on the next
# port; else free loopback ports are picked).
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BASEDIR start|stop|kill|restart|wipe|add-broker|alive|addr|pause|resume ID" >&2
  exit 2
fi
base="$(cd "$1" && pwd)"
action="$2"
id="$3"
lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$lib_dir/../.." && pwd)"
# shellcheck source=compat/lib/common.sh
. "$lib_dir/common.sh"
# shellcheck source=/dev/null
. "$base/cluster.env"

node="$base/node$id"
props="$node/server.properties"
pidfile="$node/node.pid"
logfile="$node/node.log"
say() { echo "cluster-node[$id]: $*" >&2; }

jvm_opts=(${CLUSTER_JVM_OPTS:--Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}
  -Djava.awt.headless=true -Dlog4j2.configurationFile="$lib_dir/log4j2.properties")
java_bin="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"

pid_of() { cat "$pidfile" 2>/dev/null || echo 0; }
# The node's own client address (clusters laid out before nodeID/addr existed: 127.0.0.1:port).
addr() { cat "$node/addr" 2>/dev/null || echo "127.0.0.1:$(cat "$node/port")"; }
running() { is_alive "$(pid_of)"; }

format_kafka() {
  # shellcheck source=compat/lib/kafka-libs.sh
  . "$lib_dir/kafka-libs.sh"
  if ! "$java_bin" "${jvm_opts[@]}" -cp "$KAFKA_LIBS_CP" kafka.tools.StorageTool \
      format -t "$CLUSTER_ID" -c "$props" >"$node/format.log" 2>&1; then
    say "formatting storage failed:"
    cat "$node/format.log" >&2
    return 1
  fi
}

start() {
  [ -f "$props" ] || { say "no $props"; return 1; }
  if running; then say "already running (pid $(pid_of))"; return 1; fi
  local port
  port="$(addr)"
  if port_in_use "$port"; then say "$port is already in use"; return 1; fi
  echo "# ---- start $(date '+%H:%M:%S') ----" >>"$logfile"
  case "$TARGET" in
    kafka)
      [ -f "$node/log/meta.properties" ] || format_kafka
      # shellcheck source=compat/lib/kafka-libs.sh
      . "$lib_dir/kafka-libs.sh"
      # setsid: its own session, so a ^C or timeout aimed at the caller does
      # not reach it; it is ended by PID only.
      setsid "$java_bin" "${jvm_opts[@]}" -Dkafka.logs.dir="$node" \
        -cp "$KAFKA_LIBS_CP" kafka.Kafka "$props" </dev/null >>"$logfile" 2>&1 &
      ;;
    fjord)
      local bin="${FJORD_BIN:-$repo_root/target/release/fjord}"
      [ -x "$bin" ] || { say "$bin not found; run 'cargo build --release'"; return 1; }
      setsid "$bin" --config "$props" </dev/null >>"$logfile" 2>&1 &
      ;;
  esac
  echo $! >"$pidfile"
  say "started $TARGET pid $(pid_of) on $port"
  [ "${CLUSTER_NO_WAIT:-0}" = 1 ] && return 0
  wait_for_broker "cluster-node[$id]" "$(pid_of)" "$port" "$logfile" "${CLUSTER_NODE_TIMEOUT_S:-90}"
}

stop() {
  stop_by_pidfile "cluster-node[$id]" "$pidfile" "${CLUSTER_STOP_TIMEOUT_S:-30}" "$props"
}

kill_node() {
  local pid
  pid="$(pid_of)"
  if is_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$props"; then
    kill -KILL "$pid"
    local deadline=$((SECONDS + 10))
    while is_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    say "killed pid $pid (SIGKILL)"
  fi
  rm -f "$pidfile"
}

add_broker() {
  [ -e "$node" ] && { say "$node exists already"; return 1; }
  mkdir -p "$node"
  local port
  if [ -n "${CLUSTER_BASE_PORT:-}" ]; then port=$((CLUSTER_BASE_PORT + 2 * (id - 1))); else port="$(free_loopback_port)"; fi
  echo "$port" >"$node/port"
  echo "127.0.0.1:$port" >"$node/addr"
  write_node_properties "$props" "$id" broker "$port" 0 "$VOTERS" "$node/log" "$INTERNAL_RF"
  echo "$(cat "$base/bootstrap"),127.0.0.1:$port" >"$base/bootstrap"
  start
}

case "$action" in
  start) start ;;
  stop) stop ;;
  kill) kill_node ;;
  restart) stop; start ;;
  wipe)
    if running; then say "refusing to wipe a running node"; exit 1; fi
    rm -rf "$node/log"
    say "wiped $node/log"
    ;;
  add-broker) add_broker ;;
  alive) running ;;
  addr) addr ;;
  pause | resume)
    pid="$(pid_of)"
    if is_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$props"; then
      if [ "$action" = pause ]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi
      say "$action pid $pid"
    else
      say "not running"; exit 1
    fi
    ;;
  *) echo "cluster-node: unknown action '$action'" >&2; exit 2 ;;
esac
