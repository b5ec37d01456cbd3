#!/usr/bin/env bash
# franz-go suite: a Go program using github.com/twmb/franz-go (kgo, kadm)
# against <bootstrap>. Versions are pinned in go.mod/go.sum.
# Usage: compat/franz-go/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail|xfail> <message>" per case; everything else on stderr.
#
# The case txn_broker_kill_open_txn (run last) crashes (SIGKILL) and restarts
# the broker compat/run started (the PID file in target/compat/<target>-data;
# data survive, the PID file then names the new process), or, run by hand
# against some other broker, a private broker of the same target on a free
# port (compat/lib/common.sh, restartable_broker).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
# shellcheck source=compat/lib/common.sh
. "$compat/lib/common.sh"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
bin_dir="$here/../.cache/franz-go"
bin="$bin_dir/franz-go-compat"
stamp="$bin_dir/.sources"

# Build once per source change (go's own cache makes a rebuild cheap too).
want="$(cat "$here/go.mod" "$here/go.sum" "$here"/*.go | sha256sum | cut -d' ' -f1)"
if ! [ -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[franz-go] building $bin" >&2
  mkdir -p "$bin_dir"
  if (cd "$here" && GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" .) >&2; then
    mv "$bin.tmp" "$bin" && echo "$want" >"$stamp"
  else
    echo "RESULT build fail go build of compat/franz-go failed"
    exit 0
  fi
fi

# Preflight: with nothing listening, report every case at once instead of
# letting each one run into its deadline.
first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[franz-go] nothing accepts connections on $first" >&2
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
trap 'rm -f "$out"; restartable_cleanup "$COMPAT_TARGET"' EXIT
kill_case=txn_broker_kill_open_txn
if [ $# -eq 0 ] || [[ " $* " == *" $kill_case "* ]]; then
  if restartable_broker "$COMPAT_TARGET" "$boot" "${COMPAT_ROOT:-$(cd "$compat/.." && pwd)}" franz-go; then
    export COMPAT_RESTART_BOOTSTRAP="$RESTART_BOOTSTRAP" COMPAT_KILL_RESTART_CMD="$RESTART_KILL_CMD"
  fi
fi
timeout -k 10 "${COMPAT_FRANZ_TIMEOUT:-420}" "$bin" "$boot" "$@" | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "[franz-go] franz-go-compat exited with $rc" >&2
  xfail=" $("$bin" --list-xfail-on-fjord | tr '\n' ' ') "
  for c in $("$bin" --list); do
    if [ $# -gt 0 ] && ! printf ' %s ' "$@" | grep -q " $c "; then continue; fi
    grep -q "^RESULT $c " "$out" && continue
    if [ "$COMPAT_TARGET" = fjord ] && [[ "$xfail" == *" $c "* ]]; then
      echo "RESULT $c xfail franz-go-compat exited with status $rc before this case finished"
    else
      echo "RESULT $c fail franz-go-compat exited with status $rc before this case finished"
    fi
  done
fi
exit 0
