#!/usr/bin/env bash
# compat/streams/run.sh BOOTSTRAP
#
# The Kafka Streams suite: a word-count application (kafka-streams, the same
# version as the broker jars and compat/java) run twice against BOOTSTRAP,
# with processing.guarantee=at_least_once (streams-wordcount-alos) and
# exactly_once_v2 (streams-wordcount-eos). Each case produces a known corpus
# into a fresh input topic and passes once the output topic's latest count
# of every word equals the expected count. Builds compat/streams with Maven
# when its sources or pom changed. RESULT lines on stdout, the rest on stderr.
#
# Env: COMPAT_TARGET (fjord|kafka, from compat/run), COMPAT_STREAMS_TIMEOUT_S
# (bound of one case; default 120),
# COMPAT_STREAMS_ONLY (a regex of case names to run).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BOOTSTRAP" >&2
  exit 2
fi
bootstrap="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
java_bin="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
cases=(streams-wordcount-alos streams-wordcount-eos)

jar="$here/target/compat-streams.jar"
fresh() { [ -f "$jar" ] && [ -z "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; }
if ! fresh; then
  mkdir -p "$here/target"
  # Runs against both targets may start at once: one build at a time, and
  # whoever waited looks again before building.
  if ! (
    flock 8
    fresh && exit 0
    echo "compat-streams: building" >&2
    rm -f "$jar"
    mvn -q -B -f "$here/pom.xml" package >&2
  ) 8>"$here/target/.build.lock"; then
    for c in "${cases[@]}"; do echo "RESULT $c fail mvn package of compat/streams failed"; done
    exit 0
  fi
fi

timeout_s="${COMPAT_STREAMS_TIMEOUT_S:-120}"
args=("$bootstrap" --timeout "$timeout_s" --state-dir "$here/target/state")
[ -n "${COMPAT_STREAMS_ONLY:-}" ] && args+=(--only "$COMPAT_STREAMS_ONLY")

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# The cases keep their own deadlines; this bound only catches a wedged JVM.
status=0
timeout -k 10 $((2 * (timeout_s + 90))) \
  "$java_bin" -Xms64m -Xmx512m -XX:+UseSerialGC \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true \
  -cp "$jar:$here/target/lib/*" dev.fjord.compat.streams.Main "${args[@]}" | tee "$out" || status=$?
if [ "$status" -ne 0 ]; then
  echo "compat-streams: java exited with status $status" >&2
  for c in "${cases[@]}"; do
    if [ -n "${COMPAT_STREAMS_ONLY:-}" ] && ! [[ "$c" =~ $COMPAT_STREAMS_ONLY ]]; then continue; fi
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail java exited with status $status before this case finished"
  done
fi
exit 0
