#!/usr/bin/env bash
# compat/java-groups/run.sh BOOTSTRAP
#
# The Java consumer-group suite (kafka-clients, the broker jars' version):
# groups of several consumers under load, a member killed without leaving,
# a member joining, a broker restart, cooperative rebalancing and static
# membership. Builds compat/java-groups with Maven when its sources or pom
# changed, then runs every case, printing RESULT lines on stdout; build
# output and client logs go to stderr.
#
# The broker-restart case restarts the broker the driver started: when the
# PID file in target/compat/<target>-data names a live broker listening on
# BOOTSTRAP's port, it runs compat/lib/<target>-stop.sh and -start.sh with
# that data dir and port, exactly as compat/run does (data survive; the PID
# file then names the new process, which compat/run stops at the end).
# Otherwise (run by hand against some other broker) that case starts a
# private broker of the same target on a free port with its own data dir
# and restarts that one.
#
# Env: COMPAT_TARGET (fjord|kafka, from compat/run), COMPAT_ROOT,
# COMPAT_JAVA_GROUPS_ONLY (a regex of case names to run).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BOOTSTRAP" >&2
  exit 2
fi
bootstrap="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
root="${COMPAT_ROOT:-$(cd "$compat/.." && pwd)}"
target="${COMPAT_TARGET:-fjord}"
export COMPAT_TARGET="$target"
java_bin="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
# shellcheck source=compat/lib/common.sh
. "$compat/lib/common.sh"
cases=(group-failover-range group-failover-cooperative-sticky group-broker-restart-resume group-static-member-restart)

jar="$here/target/compat-java-groups.jar"
fresh() { [ -f "$jar" ] && [ -z "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; }
if ! fresh; then
  mkdir -p "$here/target"
  # Runs against both targets may start at once: one build at a time, and
  # whoever waited looks again before building.
  if ! (
    flock 8
    fresh && exit 0
    echo "compat-java-groups: building" >&2
    rm -f "$jar"
    mvn -q -B -f "$here/pom.xml" package >&2
  ) 8>"$here/target/.build.lock"; then
    for c in "${cases[@]}"; do echo "RESULT $c fail mvn package of compat/java-groups failed"; done
    exit 0
  fi
fi

selected() { [ -z "${COMPAT_JAVA_GROUPS_ONLY:-}" ] || [[ "$1" =~ $COMPAT_JAVA_GROUPS_ONLY ]]; }

# The broker the restart case restarts.
port="${bootstrap##*:}"
datadir="$root/target/compat/$target-data"
pid="$(cat "$datadir/$target.pid" 2>/dev/null || echo 0)"
driver_broker=false
if [ "$pid" != 0 ] && is_alive "$pid"; then
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  # Both targets start from DATADIR/server.properties (compat/lib/common.sh).
  [[ "$cmdline" == *"$datadir/server.properties"* ]] &&
    grep -q "^listeners=PLAINTEXT://127.0.0.1:$port," "$datadir/server.properties" 2>/dev/null &&
    driver_broker=true
fi
restart_args=()
private_dir=""
cleanup() {
  if [ -n "$private_dir" ]; then
    "$compat/lib/$target-stop.sh" "$private_dir" >&2 || true
    rm -rf "$private_dir"
  fi
}
trap cleanup EXIT
if $driver_broker; then
  echo "compat-java-groups: the restart case restarts the driver's $target (pid $pid, ${datadir#"$root"/})" >&2
  restart_args=(--restart-bootstrap "$bootstrap" --restart-cmd "$here/restart-broker.sh $target $port $datadir")
elif selected group-broker-restart-resume; then
  private_dir="$(mktemp -d "${TMPDIR:-/tmp}/compat-java-groups-$target.XXXXXX")"
  private_port="$(free_loopback_port)"
  echo "compat-java-groups: no driver-started broker on $bootstrap; the restart case uses a private $target on 127.0.0.1:$private_port ($private_dir)" >&2
  if "$compat/lib/$target-start.sh" "$private_port" "$private_dir" >&2; then
    restart_args=(--restart-bootstrap "127.0.0.1:$private_port"
      --restart-cmd "$here/restart-broker.sh $target $private_port $private_dir")
  else
    echo "compat-java-groups: the private $target did not start" >&2
  fi
fi

args=("$bootstrap" "${restart_args[@]}")
[ -n "${COMPAT_JAVA_GROUPS_ONLY:-}" ] && args+=(--only "$COMPAT_JAVA_GROUPS_ONLY")

out="$(mktemp)"
trap 'rm -f "$out"; cleanup' EXIT
# The cases keep their own deadlines; this bound only catches a wedged JVM.
status=0
timeout -k 10 900 "$java_bin" -Xms64m -Xmx768m -XX:+UseSerialGC \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true \
  -cp "$jar:$here/target/lib/*" dev.fjord.compat.groups.Main "${args[@]}" | tee "$out" || status=$?
if [ "$status" -ne 0 ]; then
  echo "compat-java-groups: java exited with status $status" >&2
  for c in "${cases[@]}"; do
    selected "$c" || continue
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail java exited with status $status before this case finished"
  done
fi
exit 0
