#!/usr/bin/env bash
# compat/spark/run.sh BOOTSTRAP
#
# The Spark suite: PySpark Structured Streaming and batch reads with Spark's
# Kafka connector (spark-sql-kafka-0-10) in local mode against BOOTSTRAP.
#
#   spark-stream-resume    a streaming job (subscribe, startingOffsets=earliest,
#                          value -> upper(value) + suffix, Kafka sink, trigger
#                          availableNow) run twice from one checkpoint, in two
#                          processes, with more records produced in between: the
#                          sink must hold every transformed record exactly once
#   spark-batch-offsets    batch read with startingOffsets/endingOffsets as JSON
#                          per partition (assign)
#   spark-batch-timestamp  batch reads with startingTimestamp (subscribePattern) and
#                          with startingOffsetsByTimestamp/endingOffsetsByTimestamp
#
# Installs PySpark and confluent-kafka (requirements.txt) into
# compat/spark/.venv when the pins change, and resolves the connector that
# matches the installed PySpark's Spark and Scala versions with Maven
# (pom.xml) into compat/.cache/spark-kafka-<spark>-<scala>/. Records are
# produced and read back with confluent-kafka, so Spark's output is never
# checked with Spark. RESULT lines on stdout, the rest on stderr.
#
# Env: COMPAT_TARGET (fjord|kafka, from compat/run; on fjord a case whose
# failure is the broker lacking a transaction API is xfail, any other
# failure is fail), COMPAT_SPARK_CASE_TIMEOUT_S (bound of one Spark query,
# default 120).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BOOTSTRAP" >&2
  exit 2
fi
boot="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
venv="$here/.venv"
stamp="$venv/.requirements"
py="$venv/bin/python"
cases=(spark-stream-resume spark-batch-offsets spark-batch-timestamp)

fail_all() {
  for c in "${cases[@]}"; do echo "RESULT $c fail $1"; done
  exit 0
}

# Idempotent install: pip runs only when the pinned requirements change.
if ! [ -x "$py" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "[spark] installing $(tr '\n' ' ' <"$here/requirements.txt")into $venv" >&2
  { [ -x "$py" ] || python3 -m venv "$venv"; } >&2 &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2 &&
    cp "$here/requirements.txt" "$stamp"
  cmp -s "$here/requirements.txt" "$stamp" || fail_all "could not install $(head -1 "$here/requirements.txt") into compat/spark/.venv"
fi

# The connector must match the installed Spark and its Scala version.
spark_jars="$("$py" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')" ||
  fail_all "pyspark in compat/spark/.venv does not import"
spark_version="$("$py" -c 'import pyspark; print(pyspark.__version__)')"
scala_jar="$(ls "$spark_jars"/scala-library-*.jar 2>/dev/null | head -1)"
scala_binary="$(basename "$scala_jar" | sed -nE 's/^scala-library-([0-9]+\.[0-9]+)\..*/\1/p')"
[ -n "$scala_binary" ] || fail_all "no scala-library jar in $spark_jars"
cache="$compat/.cache/spark-kafka-$spark_version-$scala_binary"
if ! [ -f "$cache/.resolved" ]; then
  mkdir -p "$compat/.cache"
  if ! (
    flock 8
    [ -f "$cache/.resolved" ] && exit 0
    echo "[spark] resolving spark-sql-kafka-0-10_$scala_binary:$spark_version into ${cache#"$compat"/}" >&2
    rm -rf "$cache.tmp"
    mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -Dspark.version="$spark_version" \
      -Dscala.binary.version="$scala_binary" -DoutputDirectory="$cache.tmp" >&2 &&
      touch "$cache.tmp/.resolved" && rm -rf "$cache" && mv "$cache.tmp" "$cache"
  ) 8>"$compat/.cache/.spark-kafka.lock"; then
    fail_all "mvn could not resolve spark-sql-kafka-0-10_$scala_binary:$spark_version"
  fi
fi

# What PySpark already ships (Hadoop client, Scala, compression codecs,
# slf4j) stays PySpark's; the connector adds only the rest, as Spark's
# --packages would.
artifact() { basename "$1" | sed -E 's/-[0-9]+\.[0-9].*$//'; }
declare -A shipped=()
for j in "$spark_jars"/*.jar; do shipped["$(artifact "$j")"]=1; done
jars=()
for j in "$cache"/*.jar; do
  [ -n "${shipped["$(artifact "$j")"]:-}" ] || jars+=("$j")
done
COMPAT_SPARK_JARS="$(IFS=,; echo "${jars[*]}")"
export COMPAT_SPARK_JARS
echo "[spark] PySpark $spark_version (Scala $scala_binary), adding $(for j in "${jars[@]}"; do basename "$j"; done | tr '\n' ' ')" >&2

work="$(mktemp -d "${TMPDIR:-/tmp}/compat-spark.XXXXXX")"
out="$work/stdout"
trap 'rm -rf "$work"' EXIT
export COMPAT_SPARK_LOG4J="$here/log4j2.properties"
export PYSPARK_PYTHON="$py" SPARK_LOCAL_IP=127.0.0.1 SPARK_LOCAL_DIRS="$work/local"
unset SPARK_HOME PYSPARK_SUBMIT_ARGS

# phase NAME BACKSTOP_S CASES...: runs one phase of suite.py. The queries
# carry their own bounds; the backstop only catches a wedged process, and
# cases that printed no RESULT by then are reported here.
phase() {
  local name="$1" backstop="$2"
  shift 2
  : >"$out"
  (cd "$work" && timeout -k 10 "$backstop" "$py" -u "$here/suite.py" "$name" "$boot" "$work") | tee "$out"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] && return 0
  echo "[spark] suite.py $name exited with status $rc" >&2
  for c in "$@"; do
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail suite.py $name exited with status $rc before this case finished"
  done
  return 1
}

if phase first 600 "${cases[@]}"; then
  # The first phase reports spark-stream-resume itself if it failed there;
  # otherwise the second phase (run 2 from the same checkpoint) reports it.
  if ! grep -q '^RESULT spark-stream-resume ' "$out"; then
    phase second 300 spark-stream-resume || true
  fi
fi
exit 0
