#!/usr/bin/env bash
# Resolves the Apache Kafka broker and tools jars, plus what they need at
# run time, into compat/.cache/kafka-libs/ (once; later calls are no-ops).
#
#   source compat/lib/kafka-libs.sh   # exports KAFKA_LIBS_CP, KAFKA_VERSION; prints nothing
#   compat/lib/kafka-libs.sh          # prints the classpath (compat/.cache/kafka-libs/*)
#
# The version is pinned in compat/lib/kafka-pom.xml (kafka.version). Maven
# uses its default local repository (~/.m2) unless MAVEN_OPTS/-Dmaven.repo.local
# say otherwise. On failure Maven's output goes to stderr and the status is 1.

_kafka_libs_main() {
  local lib_dir root pom dest stamp want
  lib_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  root="$(cd "$lib_dir/.." && pwd)"
  pom="$lib_dir/kafka-pom.xml"
  dest="$root/.cache/kafka-libs"
  stamp="$dest/.resolved"
  # The stamp holds a digest of the pom, so editing the pom re-resolves.
  want="$(sha256sum "$pom" | cut -d' ' -f1)"

  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    local tmp="$dest.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" >"$tmp.out" 2>&1; then
      cat "$tmp.out" >&2
      echo "kafka-libs: resolving Kafka jars with $pom failed" >&2
      rm -rf "$tmp" "$tmp.out"
      return 1
    fi
    rm -f "$tmp.out"
    echo "$want" >"$tmp/.resolved"
    rm -rf "$dest"
    mv "$tmp" "$dest"
  fi

  KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")"
  KAFKA_LIBS_CP="$dest/*"
  export KAFKA_VERSION KAFKA_LIBS_CP
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _kafka_libs_main
  echo "$KAFKA_LIBS_CP"
else
  _kafka_libs_main
fi
