#!/usr/bin/env bash
# kafka-go suite: a Go program using github.com/segmentio/kafka-go (Client, Reader, Writer, Conn)
# against <bootstrap>. Versions are pinned in go.mod/go.sum.
# Usage: compat/kafka-go/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail|xfail> <message>" per case; everything else on stderr.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
bin_dir="$here/../.cache/kafka-go"
bin="$bin_dir/kafka-go-compat"
stamp="$bin_dir/.sources"

# Build once per source change (go's own cache makes a rebuild cheap too).
want="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -d' ' -f1)"
if ! [ -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[kafka-go] building $bin" >&2
  mkdir -p "$bin_dir"
  if (cd "$here" && GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" .) >&2; then
    mv "$bin.tmp" "$bin" && echo "$want" >"$stamp"
  else
    echo "RESULT build fail go build of compat/kafka-go failed"
    exit 0
  fi
fi

# Preflight: with nothing listening, report every case at once instead of
# letting each one run into its deadline.
first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[kafka-go] nothing accepts connections on $first" >&2
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
timeout -k 10 "${COMPAT_KAFKAGO_TIMEOUT:-420}" "$bin" "$boot" "$@" | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "[kafka-go] kafka-go-compat exited with $rc" >&2
  xfail=" $("$bin" --list-xfail-on-fjord | tr '\n' ' ') "
  for c in $("$bin" --list); do
    if [ $# -gt 0 ] && ! printf ' %s ' "$@" | grep -q " $c "; then continue; fi
    grep -q "^RESULT $c " "$out" && continue
    if [ "$COMPAT_TARGET" = fjord ] && [[ "$xfail" == *" $c "* ]]; then
      echo "RESULT $c xfail kafka-go-compat exited with status $rc before this case finished"
    else
      echo "RESULT $c fail kafka-go-compat exited with status $rc before this case finished"
    fi
  done
fi
exit 0
