#!/usr/bin/env bash
# compat/cluster/scenario.sh [TARGET] — what `make cluster-test` runs.
#
# Starts a three-node KRaft cluster of TARGET (fjord, the default, or kafka)
# with compat/lib/cluster-start.sh in target/cluster-test/<target>/, then
# runs the steps below, one line each: "PASS|FAIL <step> (<seconds>s) <detail>".
# Shell drives the processes (compat/lib/cluster-node.sh), Java drives the
# Kafka clients (dev.fjord.compat.ClusterTest in compat/java), and
# compat/lib/kafka-wire.py sends Metadata/CreateTopics/FindCoordinator to one
# chosen node. Every wait has a deadline; the whole run is bounded by
# CLUSTER_TEST_BUDGET_S (default 480: a step that would start after it fails
# at once). Everything started is stopped on exit, whatever happens; node logs
# stay in target/cluster-test/<target>/node*/node.log.
#
#   a-one-cluster        Metadata from each node lists brokers 1,2,3 and one cluster id
#   b-topic-propagates   a topic created through node 2 is in node 3's Metadata within 1 s
#   c-produce-consume    6 partitions RF 1 led by all three nodes; 6,000 keyed records,
#                        acks=all, from a client bootstrapped at node 1, all read back
#   d-group-on-node3     a group whose coordinator (FindCoordinator at node 1) is node 3
#                        consumes, commits, and its committed offsets read back
#   d2-replicated-failover RF 3, min ISR 2: a Java producer with default settings keeps
#                        producing through the SIGKILL of a partition leader with no failed
#                        send; every record is read once; the node returns to the ISR; a
#                        group commits, its coordinator gets SIGKILL, and a new member
#                        resumes at the committed offsets (ClusterTest failover)
#   e-leader-killed      the DescribeQuorum leader gets SIGKILL; a new leader within 15 s;
#                        CreateTopics works again
#   f-leader-rejoins     the killed node restarts from its data dir, is in every node's
#                        Metadata, and its log end offset reaches the high watermark
#   g-broker-only-node   node 4 (process.roles=broker) joins: in Metadata, an observer
#                        in DescribeQuorum, never a voter
#   h-wiped-node         a follower's data dir is wiped: it is refused (exits) or
#                        rejoins; every topic so far is still listed by every node,
#                        and the wiped node is not the leader right after rejoining
#
# Exit status: 0 when every step passed, 1 otherwise, 2 on a usage error.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib="$root/compat/lib"
target="${1:-${TARGET:-fjord}}"
case "$target" in
  kafka | fjord) ;;
  *) echo "usage: $0 [fjord|kafka]" >&2; exit 2 ;;
esac
base="$root/target/cluster-test/$target"
budget_s="${CLUSTER_TEST_BUDGET_S:-480}"
run="$(printf '%x' "$(date +%s)")"
log="$root/target/cluster-test/$target.log"
mkdir -p "$root/target/cluster-test"
: >"$log"

started_cluster=0
cleanup() {
  if [ "$started_cluster" = 1 ]; then
    # The data is not needed any more: do not wait long for a clean shutdown.
    CLUSTER_STOP_TIMEOUT_S=10 "$lib/cluster-stop.sh" "$base" >>"$log" 2>&1
  fi
}
trap cleanup EXIT
trap 'echo "cluster-test: interrupted" >&2; exit 130' INT TERM

failed=0
passed=0
# step NAME FUNCTION: runs FUNCTION (which sets $detail and returns nonzero
# on failure) and prints its PASS/FAIL line.
step() {
  local name="$1" fn="$2" t0=$SECONDS
  detail=""
  if [ "$SECONDS" -ge "$budget_s" ]; then
    detail="not started: the ${budget_s}s budget is spent"
    false
  else
    echo "# ---- step $name ----" >>"$log"
    "$fn" 2>>"$log"
  fi
  local rc=$?
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "PASS $name ($((SECONDS - t0))s) $detail"
  else
    failed=$((failed + 1))
    echo "FAIL $name ($((SECONDS - t0))s) $detail"
  fi
  return "$rc"
}
# fail MESSAGE: set the step's detail and return 1 (use as `fail ...; return`).
fail() { detail="$*"; return 1; }

# ct COMMAND ARGS...: one ClusterTest command (Java); its summary line in $out.
ct() {
  out="$(timeout -k 5 "${ct_timeout_s:-120}" java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms32m -Xmx256m \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$java_cp" dev.fjord.compat.ClusterTest "$@")"
  local rc=$?
  echo "ClusterTest $*: $out (exit $rc)" >>"$log"
  [ "$rc" -eq 0 ] || { [ -n "$out" ] || out="FAIL: ClusterTest $1 exited with status $rc"; }
  return "$rc"
}
# meta ID PYTHON_EXPR: evaluates PYTHON_EXPR on m, node ID's Metadata (see kafka-wire.py).
meta() {
  timeout 10 python3 "$lib/kafka-wire.py" metadata "$(addr "$1")" |
    python3 -c "import json, sys; m = json.load(sys.stdin); print($2)"
}
addr() { "$lib/cluster-node.sh" "$base" addr "$1"; }
node() { "$lib/cluster-node.sh" "$base" "$@"; }
boot_of() { local b="" i; for i in "$@"; do b="${b:+$b,}$(addr "$i")"; done; echo "$b"; }
# until_ok DEADLINE_S COMMAND...: retries COMMAND every 0.25 s until it succeeds.
until_ok() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.25
  done
}
# brokers_are ID "1,2,3": node ID's Metadata lists exactly those brokers.
brokers_are() { [ "$(meta "$1" '",".join(sorted(m["brokers"], key=int))' 2>/dev/null)" = "$2" ]; }
# lists_topics ID T...: node ID's Metadata lists every topic T (without a topic error).
lists_topics() {
  local id="$1"
  shift
  [ "$(meta "$id" "all(t in m['topics'] and m['topics'][t]['error'] == 0 for t in '$*'.split())" 2>/dev/null)" = True ]
}
quorum_leader() { ct quorum "$(boot_of "$@")" && sed -n 's/^leader=\([-0-9]*\) .*/\1/p' <<<"$out"; }

# ---------------------------------------------------------------------------

prepare() {
  if [ "$target" = kafka ]; then
    "$lib/kafka-libs.sh" >/dev/null || { fail "could not resolve the Kafka jars"; return; }
  fi
  java_cp="$("$root/compat/java/run.sh" --classpath)" || { fail "building compat/java failed"; return; }
  started_cluster=1
  CLUSTER_START_TIMEOUT_S="${CLUSTER_START_TIMEOUT_S:-90}" "$lib/cluster-start.sh" "$target" "$base" 3 || { fail "cluster-start.sh failed (see $log)"; return; }
  detail="bootstrap $(cat "$base/bootstrap")"
}

step_a() {
  local i ids cid first=""
  for i in 1 2 3; do
    ids="$(meta "$i" '",".join(sorted(m["brokers"], key=int))')" || { fail "no Metadata from node $i"; return; }
    [ "$ids" = 1,2,3 ] || { fail "node $i lists brokers $ids"; return; }
    [ "$(meta "$i" 'm["brokers"]["'"$i"'"]')" = "$(addr "$i")" ] || { fail "node $i advertises the wrong address"; return; }
    cid="$(meta "$i" 'm["cluster_id"]')"
    [ -n "$cid" ] && [ "$cid" != None ] || { fail "node $i has no cluster id"; return; }
    first="${first:-$cid}"
    [ "$cid" = "$first" ] || { fail "cluster ids differ: $first vs $cid (node $i)"; return; }
  done
  detail="brokers 1,2,3 from every node, cluster id $first"
}

topic_b="cluster-test-b-$run"
step_b() {
  local ms
  ms="$(timeout 20 python3 "$lib/kafka-wire.py" propagate "$(addr 2)" "$(addr 3)" "$topic_b" 3 1)" ||
    { fail "$topic_b, created through node 2, not in node 3's Metadata within 1 s (see the log)"; return; }
  detail="$topic_b in node 3's Metadata $ms ms after node 2 answered CreateTopics"
}

topic_c="cluster-test-c-$run"
records_c=6000
step_c() {
  ct roundtrip "$(addr 1)" "$topic_c" 6 "$records_c" 1,2,3 || { fail "$out"; return; }
  detail="$out"
}

step_d() {
  local group
  group="$(timeout 40 python3 "$lib/kafka-wire.py" find-group "$(addr 1)" "cluster-test-d-$run-" 3 30)" ||
    { fail "no group id with coordinator 3 (FindCoordinator at node 1)"; return; }
  ct group "$(addr 1)" "$topic_c" "$records_c" "$group" 3 || { fail "$out"; return; }
  detail="$out"
}

step_d2() {
  ct_timeout_s=240 ct failover "$(addr 1),$(addr 2),$(addr 3)" "cluster-test-d2-$run" 4000 "cluster-test-d2-$run" \
    "$lib/cluster-node.sh $base kill {id}" "$lib/cluster-node.sh $base start {id}" || { fail "$out"; return; }
  detail="$out"
}

killed=""
topic_e="cluster-test-e-$run"
step_e() {
  local leader survivors
  leader="$(quorum_leader 1 2 3)" && [ -n "$leader" ] || { fail "no DescribeQuorum leader: $out"; return; }
  case "$leader" in 1 | 2 | 3) ;; *) fail "DescribeQuorum leader $leader is not a voter"; return ;; esac
  killed="$leader"
  node kill "$leader"
  survivors="$(for i in 1 2 3; do [ "$i" = "$leader" ] || echo "$i"; done | xargs)"
  ct wait-leader "$(boot_of $survivors)" "$leader" 15 || { fail "after SIGKILL of leader $leader: $out"; return; }
  local new="$out"
  ct create-topic "$(boot_of $survivors)" "$topic_e" 3 30 || { fail "CreateTopics after the failover: $out"; return; }
  detail="killed leader $leader; new: $new; $out"
}

step_f() {
  [ -n "$killed" ] || { fail "step e killed no node"; return; }
  node start "$killed" || { fail "node $killed did not restart"; return; }
  local i
  for i in 1 2 3; do
    until_ok 30 brokers_are "$i" 1,2,3 || { fail "node $i does not list node $killed again"; return; }
  done
  ct wait-caught-up "$(boot_of 1 2 3)" "$killed" voter 30 || { fail "$out"; return; }
  detail="node $killed back in every node's Metadata; $out"
}

step_g() {
  node add-broker 4 || { fail "broker-only node 4 did not start"; return; }
  local i
  for i in 1 2 3 4; do
    until_ok 30 brokers_are "$i" 1,2,3,4 || { fail "node $i does not list broker 4"; return; }
  done
  ct wait-caught-up "$(boot_of 1 2 3 4)" 4 observer 30 || { fail "$out"; return; }
  grep -q '^process.roles=broker$' "$base/node4/server.properties" || { fail "node 4 is not broker-only"; return; }
  detail="node 4 in every node's Metadata, observer: $out"
}

step_h() {
  local leader victim="" i
  leader="$(quorum_leader 1 2 3 4)" && [ -n "$leader" ] || { fail "no DescribeQuorum leader: $out"; return; }
  for i in 3 2 1; do [ "$i" = "$leader" ] || { victim="$i"; break; }; done
  node stop "$victim"
  node wipe "$victim"
  CLUSTER_NO_WAIT=1 node start "$victim" || { fail "node $victim could not be started again"; return; }
  local pid end=$((SECONDS + 90)) how=""
  pid="$(cat "$base/node$victim/node.pid")"
  while [ -z "$how" ]; do
    if ! is_alive "$pid"; then
      how=refused
    elif timeout 5 python3 "$lib/broker-ping.py" "$(addr "$victim")" 2 2>/dev/null; then
      how=rejoined
    elif [ "$SECONDS" -ge "$end" ]; then
      fail "wiped node $victim neither exits nor answers after 90 s"
      return
    else
      sleep 0.25
    fi
  done
  local live="1 2 3 4"
  if [ "$how" = refused ]; then
    local why
    why="$(grep -v '^#' "$base/node$victim/node.log" | tail -n 1 | cut -c1-160)"
    [ -n "$why" ] || { fail "wiped node $victim exited without a message"; return; }
    live="$(for i in 1 2 3 4; do [ "$i" = "$victim" ] || echo "$i"; done | xargs)"
    detail="wiped node $victim refused: $why;"
  else
    local now
    now="$(quorum_leader 1 2 3 4)" || { fail "no DescribeQuorum after node $victim rejoined: $out"; return; }
    [ "$now" != "$victim" ] || { fail "wiped node $victim is the leader right after rejoining"; return; }
    detail="wiped node $victim rejoined (leader $now);"
  fi
  for i in $live; do
    until_ok 30 lists_topics "$i" "$topic_b" "$topic_c" "$topic_e" ||
      { fail "$detail node $i does not list $topic_b $topic_c $topic_e"; return; }
  done
  detail="$detail nodes $live list $topic_b $topic_c $topic_e"
}

# ---------------------------------------------------------------------------

. "$lib/common.sh"
echo "cluster-test: $target, details in ${log#"$root"/}"
if step start prepare; then
  step a-one-cluster step_a
  step b-topic-propagates step_b
  step c-produce-consume step_c
  step d-group-on-node3 step_d
  step d2-replicated-failover step_d2
  step e-leader-killed step_e
  step f-leader-rejoins step_f
  step g-broker-only-node step_g
  step h-wiped-node step_h
fi
echo "cluster-test: $target: $passed passed, $failed failed in ${SECONDS}s"
[ "$failed" -eq 0 ]
