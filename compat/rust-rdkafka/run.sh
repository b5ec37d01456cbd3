#!/usr/bin/env bash
# rust-rdkafka suite: a Rust program using the rdkafka crate (librdkafka
# built from source with its cmake-build feature) against <bootstrap>. Its
# own Cargo workspace: rdkafka is never a dependency of fjord.
# Usage: compat/rust-rdkafka/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail|xfail> <message>" per case; everything else on stderr.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
export CARGO_TARGET_DIR="$here/../.cache/rust-rdkafka-target"
bin="$CARGO_TARGET_DIR/release/rust-rdkafka-compat"

# cargo rebuilds only what changed (the first build compiles librdkafka: minutes).
echo "[rust-rdkafka] building $bin" >&2
if ! (cd "$here" && cargo build --release --locked) >&2; then
  echo "RESULT build fail cargo build of compat/rust-rdkafka failed"
  exit 0
fi

# Preflight: with nothing listening, report every case at once instead of
# letting each one run into its deadline.
first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[rust-rdkafka] nothing accepts connections on $first" >&2
  for c in $("$bin" --list); do
    if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
    echo "RESULT $c fail cannot connect to $first"
  done
  exit 0
fi

timeout -k 5 300 "$bin" "$boot" "$@"
