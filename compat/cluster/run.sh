#!/usr/bin/env bash
# cluster suite: Apache Kafka's CLI tools against a three-node KRaft cluster
# of $COMPAT_TARGET that this suite starts itself (compat/lib/cluster-start.sh,
# in target/compat/<target>-cluster/) and stops on exit. The single broker
# that compat/run starts (and the <bootstrap> argument) are not used: this
# directory has an OWN_BROKERS file, so compat/run does not start one for it.
#
# Usage: compat/cluster/run.sh [<bootstrap, ignored>] [case ...]
# Prints "RESULT <case> <pass|fail> <message>" per case on stdout.
# Cases check structure and invariants (a leader among the voters, three
# voters, leaders spread over the nodes), not values that legitimately differ
# between runs or targets (ids of the leader, epochs, offsets, ports).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
root="$(cd "$compat/.." && pwd)"
[ $# -gt 0 ] && shift
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
base="$root/target/compat/$COMPAT_TARGET-cluster"
run_id="$(printf '%x%04x' "$(date +%s)" $(($$ & 0xffff)))"
work="$(mktemp -d "${TMPDIR:-/tmp}/compat-cluster.XXXXXX")"

ALL_CASES=(quorum_status quorum_replication topics_describe cluster_id broker_api_versions features_describe
  reassign_partitions leader_election_preferred under_replicated_partitions)

log() { echo "[cluster] $*" >&2; }
cleanup() {
  CLUSTER_STOP_TIMEOUT_S=10 "$compat/lib/cluster-stop.sh" "$base" >&2
  rm -rf "$work"
}
trap cleanup EXIT
# compat/run's timeout sends SIGTERM: exit through the EXIT trap, which stops
# the nodes (they run in sessions of their own and would outlive the suite).
trap 'exit 143' TERM INT

# shellcheck source=compat/lib/kafka-libs.sh
if ! . "$compat/lib/kafka-libs.sh" >&2; then
  for c in "${ALL_CASES[@]}"; do echo "RESULT $c fail could not resolve the Kafka jars"; done
  exit 0
fi
if ! "$compat/lib/cluster-start.sh" "$COMPAT_TARGET" "$base" 3 >&2; then
  for c in "${ALL_CASES[@]}"; do
    echo "RESULT $c fail a three-node $COMPAT_TARGET cluster did not start (see $base/node*/node.log)"
  done
  exit 0
fi
boot="$(cat "$base/bootstrap")"
addr() { "$compat/lib/cluster-node.sh" "$base" addr "$1"; }
log "Kafka tools $KAFKA_VERSION, target $COMPAT_TARGET, cluster $boot, run $run_id"

JAVA_BIN="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
JVM_OPTS=(-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms32m -Xmx256m
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=$compat/cli/log4j2-tools.properties")
TOOL_TIMEOUT=40
QUORUM=org.apache.kafka.tools.MetadataQuorumCommand
TOPICS=org.apache.kafka.tools.TopicCommand
CLUSTER=org.apache.kafka.tools.ClusterTool
API_VERSIONS=org.apache.kafka.tools.BrokerApiVersionsCommand
FEATURES=org.apache.kafka.tools.FeatureCommand
REASSIGN=org.apache.kafka.tools.reassign.ReassignPartitionsCommand
ELECTION=org.apache.kafka.tools.LeaderElectionCommand
OFFSETS=org.apache.kafka.tools.GetOffsetShell
PERF=org.apache.kafka.tools.ProducerPerformance

fail() {
  printf '%s\n' "$*" >"$work/fail"
  exit 1
}
# tool MAIN_CLASS ARGS...: stdout in $work/out, stderr to the log.
tool() {
  local main="$1"
  shift
  echo "[cluster]   \$ ${main##*.} $*" >&2
  timeout -k 5 "$TOOL_TIMEOUT" "$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$main" "$@" \
    </dev/null >"$work/out" 2>"$work/err"
  local rc=$?
  sed 's/^/[cluster]     /' "$work/out" "$work/err" >&2
  return $rc
}
# check WHAT: runs compat/cluster/check.py WHAT on $work/out; its message fails the case.
check() {
  local msg
  msg="$(python3 "$here/check.py" "$@" <"$work/out" 2>&1)" || fail "$msg"
}

case_quorum_status() {
  tool "$QUORUM" --bootstrap-server "$boot" describe --status || fail "describe --status exited $?"
  check status 1,2,3
}
case_quorum_replication() {
  tool "$QUORUM" --bootstrap-server "$boot" describe --replication || fail "describe --replication exited $?"
  check replication 1,2,3
}
case_topics_describe() {
  local t="compat-cluster-$run_id"
  tool "$TOPICS" --bootstrap-server "$(addr 2)" --create --topic "$t" --partitions 6 --replication-factor 1 ||
    fail "create through node 2 exited $?"
  # The topic may take a moment to reach every broker: retry the describe.
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    tool "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t" &&
      python3 "$here/check.py" topic "$t" 6 1,2,3 <"$work/out" >/dev/null 2>&1 && return 0
    sleep 1
  done
  check topic "$t" 6 1,2,3
}
case_cluster_id() {
  tool "$CLUSTER" cluster-id --bootstrap-server "$boot" || fail "cluster-id exited $?"
  local want
  want="$(python3 "$compat/lib/kafka-wire.py" metadata "$(addr 1)" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["cluster_id"])')"
  check cluster-id "$want"
}
case_broker_api_versions() {
  tool "$API_VERSIONS" --bootstrap-server "$boot" || fail "exited $?"
  check api-versions "1=$(addr 1),2=$(addr 2),3=$(addr 3)"
}
# Kafka 4.1's released features: what a Kafka 4.1 broker lists, and fjord
# lists the same names (its levels differ: see src/metadata/features.rs and
# compat/README.md).
FEATURE_NAMES=eligible.leader.replicas.version,group.version,kraft.version,metadata.version,share.version,transaction.version
case_features_describe() {
  tool "$FEATURES" --bootstrap-server "$boot" describe || fail "describe exited $?"
  check features "$FEATURE_NAMES" "$COMPAT_TARGET"
}

# until SECONDS CHECK-ARGS... -- TOOL-ARGS...: runs the tool until check.py
# accepts its output (once a second, for at most SECONDS), then checks once more
# so that the last message fails the case.
until_ok() {
  local secs="$1" i
  shift
  local -a what=()
  while [ "$1" != -- ]; do
    what+=("$1")
    shift
  done
  shift
  for ((i = 0; i < secs; i++)); do
    tool "$@" && python3 "$here/check.py" "${what[@]}" <"$work/out" >/dev/null 2>&1 && return 0
    sleep 1
  done
  tool "$@"
  check "${what[@]}"
}

# kafka-reassign-partitions --execute, then --verify until it reports the
# reassignment completed, while a producer (acks=all, idempotent) writes the
# partition: replicas 1,2 -> 2,3, so the leader (1) leaves. Every record
# written is there afterwards.
case_reassign_partitions() {
  local t="compat-reassign-$run_id" records=8000
  tool "$TOPICS" --bootstrap-server "$boot" --create --topic "$t" --replica-assignment 1:2 ||
    fail "create with --replica-assignment 1:2 exited $?"
  until_ok 30 assignment "$t" 0 1,2 -- "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  timeout -k 5 120 "$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$PERF" --topic "$t" \
    --num-records "$records" --throughput 800 --record-size 100 \
    --producer-props "bootstrap.servers=$boot" acks=all linger.ms=5 \
    </dev/null >"$work/perf.out" 2>"$work/perf.err" &
  local perf=$!
  sleep 3
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[2,3]}]}\n' "$t" >"$work/move.json"
  tool "$REASSIGN" --bootstrap-server "$boot" --reassignment-json-file "$work/move.json" --execute ||
    fail "--execute exited $?"
  grep -q "Successfully started partition reassignment for $t-0" "$work/out" ||
    fail "--execute did not report the reassignment started: $(tail -n 1 "$work/out")"
  local i done=0
  for i in $(seq 1 60); do
    tool "$REASSIGN" --bootstrap-server "$boot" --reassignment-json-file "$work/move.json" --verify ||
      fail "--verify exited $?"
    if grep -q "Reassignment of partition $t-0 is completed." "$work/out"; then
      done=1
      break
    fi
    grep -q "Reassignment of partition $t-0 is still in progress." "$work/out" ||
      fail "--verify: $(grep "$t-0" "$work/out" | head -n 1)"
    sleep 1
  done
  [ $done = 1 ] || fail "the reassignment did not complete within 60 s"
  until_ok 30 assignment "$t" 0 2,3 -- "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  wait "$perf" || fail "the producer exited $?: $(tail -n 1 "$work/perf.err")"
  sed 's/^/[cluster]     perf: /' "$work/perf.out" >&2
  grep -q "^$records records sent" "$work/perf.out" || fail "the producer did not send $records records"
  until_ok 20 offsets "$t" "$records" -- "$OFFSETS" --bootstrap-server "$boot" --topic "$t"
}

# A reordering reassignment (1,2 -> 2,1) completes at once and keeps the
# leader (1); kafka-leader-election --election-type preferred then moves
# leadership to the new preferred replica (2), and answers that partitions
# already led by theirs need no election.
case_leader_election_preferred() {
  local t="compat-elect-$run_id"
  tool "$TOPICS" --bootstrap-server "$boot" --create --topic "$t" --replica-assignment 1:2,2:3 ||
    fail "create exited $?"
  until_ok 30 assignment "$t" 0 1,2 1 -- "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"replicas":[2,1]}]}\n' "$t" >"$work/swap.json"
  tool "$REASSIGN" --bootstrap-server "$boot" --reassignment-json-file "$work/swap.json" --execute ||
    fail "--execute exited $?"
  until_ok 30 assignment "$t" 0 2,1 1 -- "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  tool "$ELECTION" --bootstrap-server "$boot" --election-type preferred --topic "$t" --partition 0 ||
    fail "preferred election exited $?"
  grep -q "Successfully completed leader election (PREFERRED) for partitions $t-0" "$work/out" ||
    fail "election: $(head -n 1 "$work/out")"
  until_ok 30 assignment "$t" 0 2,1 2 -- "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  tool "$ELECTION" --bootstrap-server "$boot" --election-type preferred --topic "$t" --partition 1 ||
    fail "second election exited $?"
  grep -q "Valid replica already elected for partitions $t-1" "$work/out" ||
    fail "election not needed: $(head -n 1 "$work/out")"
}

# kafka-topics --describe --under-replicated-partitions lists the
# partitions of an RF 3 topic while node 3 is killed, and nothing once it
# is back and in sync again.
case_under_replicated_partitions() {
  local t="compat-urp-$run_id"
  tool "$TOPICS" --bootstrap-server "$boot" --create --topic "$t" --partitions 3 --replication-factor 3 ||
    fail "create exited $?"
  until_ok 30 under-replicated "$t" 0 -- "$TOPICS" --bootstrap-server "$boot" --describe --under-replicated-partitions --topic "$t"
  "$compat/lib/cluster-node.sh" "$base" kill 3 >&2 || fail "kill node 3 failed"
  local live="$(addr 1),$(addr 2)"
  until_ok 60 under-replicated "$t" 3 -- "$TOPICS" --bootstrap-server "$live" --describe --under-replicated-partitions --topic "$t"
  "$compat/lib/cluster-node.sh" "$base" start 3 >&2 || fail "restart of node 3 failed"
  until_ok 90 under-replicated "$t" 0 -- "$TOPICS" --bootstrap-server "$boot" --describe --under-replicated-partitions --topic "$t"
}

for c in "${ALL_CASES[@]}"; do
  if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
  log "case $c"
  rm -f "$work/fail"
  ("case_$c")
  rc=$?
  msg="$(head -n 1 "$work/fail" 2>/dev/null)"
  [ $rc -ne 0 ] && [ -z "$msg" ] && msg="exited with status $rc"
  if [ $rc -eq 0 ]; then
    echo "RESULT $c pass"
  else
    echo "RESULT $c fail $msg"
  fi
done
exit 0
