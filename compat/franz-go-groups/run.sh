#!/usr/bin/env bash
# franz-go-groups suite: consumer groups with github.com/twmb/franz-go (kgo
# group consumers with the cooperative-sticky and the range (eager)
# balancers, kadm group administration) against <bootstrap>. A Go module of
# its own, pinned to the same versions as compat/franz-go (go.mod/go.sum).
# Usage: compat/franz-go-groups/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail> <message>" per case; everything else on stderr.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
bin_dir="$here/../.cache/franz-go-groups"
bin="$bin_dir/franz-go-groups-compat"
stamp="$bin_dir/.sources"

# Build once per source change (go's own cache makes a rebuild cheap too).
want="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -d' ' -f1)"
if ! [ -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[franz-go-groups] building $bin" >&2
  mkdir -p "$bin_dir"
  if (cd "$here" && GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" .) >&2; then
    mv "$bin.tmp" "$bin" && echo "$want" >"$stamp"
  else
    echo "RESULT build fail go build of compat/franz-go-groups failed"
    exit 0
  fi
fi

first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[franz-go-groups] nothing accepts connections on $first" >&2
  for c in $("$bin" --list); do
    if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
    echo "RESULT $c fail cannot connect to $first"
  done
  exit 0
fi

# Backstop: every case has its own deadline and is abandoned if it overruns;
# this only catches a wedged process. Cases without a RESULT line are
# reported here.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
timeout -k 10 "${COMPAT_FRANZ_GROUPS_TIMEOUT:-540}" "$bin" "$boot" "$@" | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "[franz-go-groups] franz-go-groups-compat exited with $rc" >&2
  for c in $("$bin" --list); do
    if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail franz-go-groups-compat exited with status $rc before this case finished"
  done
fi
exit 0
