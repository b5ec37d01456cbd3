#!/usr/bin/env bash
# compat/flink/run.sh BOOTSTRAP
#
# The Flink suite: a Flink job (flink-streaming-java + flink-clients, a local
# mini-cluster in one JVM) copies a pre-filled input topic to an output topic
# through KafkaSource and KafkaSink (flink-connector-kafka) with
# DeliveryGuarantee.EXACTLY_ONCE and checkpoints every second, across a
# restart from a checkpoint: a task that fails once (fixed-delay restart),
# with INCREMENTING and POOLING transactional ids, and a job cancelled and
# resumed from its retained checkpoint. A read_committed consumer then checks
# that the output holds every input value exactly once. Builds compat/flink
# with Maven when its sources or pom changed. RESULT lines on stdout; the
# build output, Flink's and the clients' logs (warnings and up) on stderr.
#
# Env: COMPAT_TARGET (fjord|kafka, from compat/run), COMPAT_FLINK_ONLY (a
# regex of case names to run).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BOOTSTRAP" >&2
  exit 2
fi
bootstrap="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
java_bin="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
cases=(flink-eos-failover flink-eos-cancel-resume flink-eos-pooling-failover flink-committer-recovery flink-writer-abort)
selected() { [ -z "${COMPAT_FLINK_ONLY:-}" ] || [[ "$1" =~ $COMPAT_FLINK_ONLY ]]; }

jar="$here/target/compat-flink.jar"
fresh() { [ -f "$jar" ] && [ -z "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; }
if ! fresh; then
  mkdir -p "$here/target"
  # Runs against both targets may start at once: one build at a time, and
  # whoever waited looks again before building.
  if ! (
    flock 8
    fresh && exit 0
    echo "compat-flink: building" >&2
    rm -f "$jar"
    mvn -q -B -f "$here/pom.xml" package >&2
  ) 8>"$here/target/.build.lock"; then
    for c in "${cases[@]}"; do
      selected "$c" && echo "RESULT $c fail mvn package of compat/flink failed"
    done
    exit 0
  fi
fi

# Checkpoints and Flink's temporary files, per run (two targets may run at once).
work="$(mktemp -d "$here/target/work.XXXXXX")"
out="$(mktemp)"
trap 'rm -rf "$work" "$out"' EXIT
args=("$bootstrap" --work "$work")
[ -n "${COMPAT_FLINK_ONLY:-}" ] && args+=(--only "$COMPAT_FLINK_ONLY")

# The cases keep their own deadlines (150 s each); this bound only catches a
# wedged JVM. slf4j-simple writes to stderr: WARN and up, except Flink's
# metric name collisions, delegation tokens and web UI notes (ERROR and up).
status=0
timeout -k 10 540 "$java_bin" -Xms128m -Xmx1g -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true \
  -Dorg.slf4j.simpleLogger.log.org.apache.flink.metrics=error \
  -Dorg.slf4j.simpleLogger.log.org.apache.flink.runtime.security.token=error \
  -Dorg.slf4j.simpleLogger.log.org.apache.flink.runtime.webmonitor=error \
  -cp "$jar:$here/target/lib/*" dev.fjord.compat.flink.Main "${args[@]}" | tee "$out" || status=$?
if [ "$status" -ne 0 ]; then
  echo "compat-flink: java exited with status $status" >&2
  for c in "${cases[@]}"; do
    selected "$c" || continue
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail java exited with status $status before this case finished"
  done
fi
exit 0
