#!/usr/bin/env bash
# cluster-start.sh TARGET BASEDIR N [BROKER_ONLY_COUNT]
#
# Starts a KRaft cluster of TARGET (kafka|fjord) in BASEDIR (deleted first):
# nodes 1..N combined (process.roles=broker,controller, all N are the
# controller.quorum.voters), then BROKER_ONLY_COUNT broker-only nodes
# (process.roles=broker) with ids N+1... Every node gets its
# server.properties from write_node_properties (compat/lib/common.sh), so
# both targets run the same configuration. Kafka nodes are formatted with one
# random cluster id; fjord formats its own data dir.
#
# Writes BASEDIR/cluster.env, BASEDIR/bootstrap (comma-separated client
# addresses of every node) and BASEDIR/nodeID/ (see cluster-node.sh); returns
# once every node answers and Metadata from every node lists all the brokers
# (at most CLUSTER_START_TIMEOUT_S, default 150 s). On failure it stops what
# it started and exits 1. Stop with cluster-stop.sh BASEDIR.
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
  echo "usage: $0 kafka|fjord BASEDIR N [BROKER_ONLY_COUNT]" >&2
  exit 2
fi
target="$1"
n="$3"
extra="${4:-0}"
lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$lib_dir/../.." && pwd)"
# shellcheck source=compat/lib/common.sh
. "$lib_dir/common.sh"
case "$target" in
  kafka) "$lib_dir/kafka-libs.sh" >/dev/null || { echo "cluster-start: could not resolve the Kafka jars" >&2; exit 1; } ;;
  fjord)
    bin="${FJORD_BIN:-$repo_root/target/release/fjord}"
    [ -x "$bin" ] || { echo "cluster-start: $bin not found; run 'cargo build --release'" >&2; exit 1; }
    ;;
  *) echo "cluster-start: TARGET must be kafka or fjord" >&2; exit 2 ;;
esac

[ -d "$2" ] && "$lib_dir/cluster-stop.sh" "$2" >/dev/null 2>&1 || true
rm -rf "$2"
mkdir -p "$2"
base="$(cd "$2" && pwd)"
deadline=$((SECONDS + ${CLUSTER_START_TIMEOUT_S:-150}))
total=$((n + extra))

fault_base="${CLUSTER_FAULT_BASE_PORT:-}"
if [ -n "$fault_base" ] && { [ "$n" -gt 5 ] || [ "$extra" -ne 0 ]; }; then
  echo "cluster-start: CLUSTER_FAULT_BASE_PORT takes at most 5 nodes, none broker-only" >&2
  exit 2
fi

# Two distinct loopback ports a node: client and controller.
declare -a port cport
taken=" "
pick() {
  local p
  while :; do
    p="$(free_loopback_port)"
    case "$taken" in *" $p "*) continue ;; esac
    taken="$taken$p "
    echo "$p"
    return
  done
}
for ((i = 1; i <= total; i++)); do
  if [ -n "$fault_base" ]; then
    port[i]=$fault_base
    cport[i]=$((fault_base + 1))
  elif [ -n "${CLUSTER_BASE_PORT:-}" ]; then
    port[i]=$((CLUSTER_BASE_PORT + 2 * (i - 1)))
    cport[i]=$((port[i] + 1))
  else
    port[i]="$(pick)"
    taken="$taken${port[i]} "
    cport[i]="$(pick)"
  fi
done

voters=""
for ((i = 1; i <= n; i++)); do voters="${voters:+$voters,}$i@127.0.0.1:${cport[i]}"; done
rf=$((n < 3 ? n : 3))
cluster_id="$(python3 -c 'import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break')"
cat >"$base/cluster.env" <<ENV
TARGET=$target
CLUSTER_ID=$cluster_id
VOTERS=$voters
INTERNAL_RF=$rf
FAULT_BASE_PORT=$fault_base
ENV

boot=""
for ((i = 1; i <= total; i++)); do
  mkdir -p "$base/node$i"
  echo "${port[i]}" >"$base/node$i/port"
  roles=broker,controller
  [ "$i" -gt "$n" ] && roles=broker
  if [ -n "$fault_base" ]; then
    echo "127.0.0.$i:${port[i]}" >"$base/node$i/addr"
    write_fault_node_properties "$base/node$i/server.properties" "$i" "$n" "$fault_base" "$base/node$i/log" "$rf"
    # Each node's controller.quorum.voters names other (proxy) addresses, so
    # fjord cannot derive one cluster id from them: it is given the id.
    [ "$target" != fjord ] || echo "cluster.id=$cluster_id" >>"$base/node$i/server.properties"
    boot="${boot:+$boot,}127.0.0.$i:$((fault_base + 20))"
  else
    echo "127.0.0.1:${port[i]}" >"$base/node$i/addr"
    write_node_properties "$base/node$i/server.properties" "$i" "$roles" "${port[i]}" "${cport[i]}" \
      "$voters" "$base/node$i/log" "$rf"
    boot="${boot:+$boot,}127.0.0.1:${port[i]}"
  fi
  [ -z "${CLUSTER_EXTRA_PROPS:-}" ] || printf '%s\n' "$CLUSTER_EXTRA_PROPS" >>"$base/node$i/server.properties"
done
echo "$boot" >"$base/bootstrap"
echo "cluster-start: $target, $n voters ($voters), $extra broker-only, in $base" >&2

fail() {
  echo "cluster-start: $*" >&2
  "$lib_dir/cluster-stop.sh" "$base" || true
  exit 1
}

# All at once: a combined Kafka node does not serve clients before the
# quorum has a leader, which takes a majority of the voters.
pids=()
for ((i = 1; i <= total; i++)); do
  CLUSTER_NO_WAIT=1 "$lib_dir/cluster-node.sh" "$base" start "$i" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a node did not start"; done

for ((i = 1; i <= total; i++)); do
  left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || fail "deadline passed"
  wait_for_broker "cluster-start node $i" "$(cat "$base/node$i/node.pid")" "$(cat "$base/node$i/addr")" \
    "$base/node$i/node.log" "$left" || fail "node $i does not answer"
done

# Every node's Metadata lists every broker.
for ((i = 1; i <= total; i++)); do
  while :; do
    got="$(python3 "$lib_dir/kafka-wire.py" metadata "$(cat "$base/node$i/addr")" 2>/dev/null |
      python3 -c 'import json, sys; print(len(json.load(sys.stdin)["brokers"]))' 2>/dev/null || echo 0)"
    [ "$got" = "$total" ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "Metadata from node $i lists $got brokers, not $total"
    sleep 0.5
  done
done
echo "cluster-start: $total nodes up, bootstrap $boot" >&2
