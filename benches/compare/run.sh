#!/usr/bin/env bash
# benches/compare/run.sh — the same loads against Apache Kafka and fjord on
# this machine, one broker after the other; prints the fjord/Kafka table and
# writes target/bench/compare.{md,csv,png}. `make bench-compare` builds fjord
# (cargo build --release) and runs this. See benches/compare/README.md.
#
# Needs: Java 17+ with Maven (Kafka jars, resolved once by
# compat/lib/kafka-libs.sh), Go (the franz-go load generator), Python 3,
# taskset, and two CPUs. Knobs (environment): BENCH_SCALE, BENCH_BROKERS,
# BENCH_LOADS, BENCH_STARTUPS (see compare.py), FJORD_BIN.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/target/bench"
mkdir -p "$out"

if [ "$(nproc)" -lt 2 ]; then
  echo "bench-compare: needs two CPUs (broker on CPU 0, load generator on CPU 1)" >&2
  exit 2
fi
export FJORD_BIN="${FJORD_BIN:-$root/target/release/fjord}"
if [ ! -x "$FJORD_BIN" ]; then
  echo "bench-compare: $FJORD_BIN not found; run 'cargo build --release' (make bench-compare does)" >&2
  exit 2
fi

# shellcheck source=compat/lib/kafka-libs.sh
. "$root/compat/lib/kafka-libs.sh"

# The Java harness (consume, end-to-end latency, topic creation).
export BENCH_CLASSES="$out/java"
want="$(sha256sum <"$here/java/Bench.java" | cut -d' ' -f1)"
if [ "$(cat "$BENCH_CLASSES/.sources" 2>/dev/null)" != "$want" ]; then
  echo "[bench] compiling benches/compare/java/Bench.java" >&2
  rm -rf "$BENCH_CLASSES"
  mkdir -p "$BENCH_CLASSES"
  javac -cp "$KAFKA_LIBS_CP" -d "$BENCH_CLASSES" "$here/java/Bench.java"
  echo "$want" >"$BENCH_CLASSES/.sources"
fi

# The franz-go load generator.
export FRANZ_BENCH="$out/franz-bench"
want="$(cat "$here/franz/go.mod" "$here/franz/go.sum" "$here/franz/main.go" | sha256sum | cut -d' ' -f1)"
if [ ! -x "$FRANZ_BENCH" ] || [ "$(cat "$FRANZ_BENCH.sources" 2>/dev/null)" != "$want" ]; then
  echo "[bench] building benches/compare/franz" >&2
  (cd "$here/franz" && GOFLAGS=-mod=readonly go build -trimpath -o "$FRANZ_BENCH" .)
  echo "$want" >"$FRANZ_BENCH.sources"
fi

status=0
python3 "$here/compare.py" || status=$?

# The chart is optional: matplotlib in a local venv, skipped if it cannot be had.
venv="$out/venv"
if [ -f "$out/compare.csv" ]; then
  if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    echo "[bench] installing matplotlib into $venv for the chart" >&2
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q matplotlib; } >"$out/venv-install.log" 2>&1 || true
  fi
  if "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
    "$venv/bin/python" "$here/chart.py" "$out/compare.csv" "$out/compare.png" || echo "[bench] chart failed (skipped)" >&2
  else
    echo "[bench] matplotlib unavailable (see $out/venv-install.log); no chart" >&2
  fi
fi
exit "$status"
