#!/usr/bin/env bash
# compat/java-txn/run.sh BOOTSTRAP
#
# The Java transactions suite (kafka-clients, the broker jars' version):
# transactional producers committing and aborting, read_committed and
# read_uncommitted consumers, a zombie producer fenced by a new instance of
# its transactional id, a transaction the broker aborts when it times out,
# and consume-transform-produce with sendOffsetsToTransaction across a
# rebalance. Builds compat/java-txn with Maven when its sources or pom
# changed, then runs every case in one JVM, printing RESULT lines on stdout;
# build output and client logs go to stderr.
#
# Env: COMPAT_TARGET (fjord|kafka, from compat/run), COMPAT_JAVA_TXN_ONLY (a
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
cases=(txn-commit-abort txn-zombie-fenced txn-timeout-abort txn-send-offsets)
selected() { [ -z "${COMPAT_JAVA_TXN_ONLY:-}" ] || [[ "$1" =~ $COMPAT_JAVA_TXN_ONLY ]]; }

jar="$here/target/compat-java-txn.jar"
fresh() { [ -f "$jar" ] && [ -z "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; }
if ! fresh; then
  mkdir -p "$here/target"
  # Runs against both targets may start at once: one build at a time, and
  # whoever waited looks again before building.
  if ! (
    flock 8
    fresh && exit 0
    echo "compat-java-txn: building" >&2
    rm -f "$jar"
    mvn -q -B -f "$here/pom.xml" package >&2
  ) 8>"$here/target/.build.lock"; then
    for c in "${cases[@]}"; do
      selected "$c" && echo "RESULT $c fail mvn package of compat/java-txn failed"
    done
    exit 0
  fi
fi

args=("$bootstrap")
[ -n "${COMPAT_JAVA_TXN_ONLY:-}" ] && args+=(--only "$COMPAT_JAVA_TXN_ONLY")

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# The cases keep their own deadlines (60 s each); this bound only catches a
# wedged JVM.
status=0
timeout -k 10 330 "$java_bin" -Xms64m -Xmx512m -XX:+UseSerialGC \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true \
  -cp "$jar:$here/target/lib/*" dev.fjord.compat.txn.Main "${args[@]}" | tee "$out" || status=$?
if [ "$status" -ne 0 ]; then
  echo "compat-java-txn: java exited with status $status" >&2
  for c in "${cases[@]}"; do
    selected "$c" || continue
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail java exited with status $status before this case finished"
  done
fi
exit 0
