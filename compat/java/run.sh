#!/usr/bin/env bash
# compat/java/run.sh BOOTSTRAP
#
# The Java client suite: builds compat/java once per kafka-clients line
# (4.x, the broker's version, and 3.9.x) when the sources changed, then runs
# every case with each, printing RESULT lines on stdout (3.9 cases carry the
# suffix -3.9). Build output and client logs go to stderr.
#
# compat/java/run.sh --classpath: only builds the 4.x line (if stale) and
# prints its classpath (for compat/cluster, which runs dev.fjord.compat.ClusterTest).
#
# Env: COMPAT_TARGET (fjord|kafka, from compat/run), COMPAT_JAVA_ONLY (a regex
# of case names to run), COMPAT_JAVA_SCALE (percent of the record counts of
# the round-trip cases, default 100), COMPAT_JAVA_LINES (default "4 3.9").
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BOOTSTRAP" >&2
  exit 2
fi
bootstrap="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
java_bin="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
version_of() { sed -n "s:.*<$1>\(.*\)</$1>.*:\1:p" "$here/pom.xml" | sed -n "${2}p"; }
# First <kafka.version> is the default (4.x), the second is the kafka39 profile's.
v4="$(version_of kafka.version 1)"
v39="$(version_of kafka.version 2)"

# build VERSION [MAVEN_ARGS...]: (re)builds target/kafka-VERSION unless it is
# newer than the pom and every source file.
build() {
  local version="$1"
  shift
  local jar="$here/target/kafka-$version/compat-java.jar"
  fresh() { [ -f "$jar" ] && [ -z "$(find "$here/src" "$here/pom.xml" -newer "$jar" -print -quit)" ]; }
  fresh && return 0
  mkdir -p "$here/target"
  # Runs against both targets may start at once: one build at a time, and
  # whoever waited looks again before building.
  (
    flock 8
    fresh && exit 0
    echo "compat-java: building against kafka-clients $version" >&2
    rm -f "$jar"
    mvn -q -B -f "$here/pom.xml" "$@" package >&2
  ) 8>"$here/target/.build-$version.lock"
}

# run_line VERSION SUFFIX: runs the cases with kafka-clients VERSION.
run_line() {
  local version="$1" suffix="$2"
  local dir="$here/target/kafka-$version"
  local args=("$bootstrap" --scale "${COMPAT_JAVA_SCALE:-100}")
  [ -n "$suffix" ] && args+=(--suffix "$suffix")
  [ -n "${COMPAT_JAVA_ONLY:-}" ] && args+=(--only "$COMPAT_JAVA_ONLY")
  "$java_bin" -Xms64m -Xmx768m -XX:+UseSerialGC \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -Dorg.slf4j.simpleLogger.showDateTime=true \
    -cp "$dir/compat-java.jar:$dir/lib/*" dev.fjord.compat.Main "${args[@]}"
}

# line VERSION SUFFIX [MAVEN_ARGS...]: builds and runs one client line; a
# failed build or a crashed JVM becomes a failing RESULT row of its own.
line() {
  local version="$1" suffix="$2"
  shift 2
  if ! build "$version" "$@"; then
    echo "RESULT build$suffix fail mvn package against kafka-clients $version failed"
    return 0
  fi
  local status=0
  run_line "$version" "$suffix" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "RESULT jvm$suffix fail java exited with status $status (kafka-clients $version)"
  fi
}

if [ "$bootstrap" = --classpath ]; then
  build "$v4"
  echo "$here/target/kafka-$v4/compat-java.jar:$here/target/kafka-$v4/lib/*"
  exit 0
fi

for l in ${COMPAT_JAVA_LINES:-4 3.9}; do
  case "$l" in
    4) line "$v4" "" ;;
    3.9) line "$v39" "-3.9" -Pkafka39 ;;
    *) echo "compat-java: unknown client line $l" >&2; exit 2 ;;
  esac
done
