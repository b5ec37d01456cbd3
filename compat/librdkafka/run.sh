#!/usr/bin/env bash
# librdkafka suite: confluent-kafka-python (bundles librdkafka) against <bootstrap>.
# Usage: compat/librdkafka/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail|xfail> <message>" per case; everything else on stderr.
# Env: COMPAT_TARGET (fjord|kafka), COMPAT_ROOT, COMPAT_RDK_DEBUG (librdkafka
# debug contexts, e.g. "protocol" to log every request and its version on stderr).
#
# The transaction phase runs last: its broker-kill case crashes (SIGKILL) and
# restarts the broker compat/run started (the PID file in
# target/compat/<target>-data; data survive, the PID file then names the new
# process), or, run by hand against some other broker, a private broker of
# the same target on a free port (compat/lib/common.sh, restartable_broker).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
# shellcheck source=compat/lib/common.sh
. "$compat/lib/common.sh"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
venv="$(cd "$here/.." && pwd)/.venv"
stamp="$venv/.librdkafka-requirements"
py="$venv/bin/python"

# Idempotent install into compat/.venv: pip runs only when the pinned
# requirements change.
if ! [ -x "$py" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "[librdkafka] installing $(tr '\n' ' ' <"$here/requirements.txt")into $venv" >&2
  { [ -x "$py" ] || python3 -m venv "$venv"; } >&2 &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2 &&
    cp "$here/requirements.txt" "$stamp"
  if ! cmp -s "$here/requirements.txt" "$stamp"; then
    echo "RESULT install fail could not install $(head -1 "$here/requirements.txt") into compat/.venv"
    exit 0
  fi
fi

# Preflight: with nothing listening, report every case at once instead of
# letting each one run into its deadline.
first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[librdkafka] nothing accepts connections on $first" >&2
  for c in $("$py" "$here/suite.py" --list); do
    if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
    echo "RESULT $c fail cannot connect to $first"
  done
  exit 0
fi

out="$(mktemp)"
trap 'rm -f "$out"; restartable_cleanup "$COMPAT_TARGET"' EXIT

# phase CASES_FLAG BACKSTOP_S: run one group of cases in its own process.
# The cases carry their own deadlines; the backstop only catches a wedged
# process (for example a consumer close() that never returns), and cases
# that printed no RESULT line by then are reported here.
phase() {
  local cases=() c
  for c in $("$py" "$here/suite.py" "$1"); do
    if [ ${#selected[@]} -eq 0 ] || [[ " ${selected[*]} " == *" $c "* ]]; then cases+=("$c"); fi
  done
  [ ${#cases[@]} -gt 0 ] || return 0
  : >"$out"
  timeout -k 10 "$2" "$py" -u "$here/suite.py" "$boot" "${cases[@]}" | tee "$out"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] && return 0
  echo "[librdkafka] suite.py exited with status $rc" >&2
  local xfail=" $("$py" "$here/suite.py" --list-xfail-on-fjord | tr '\n' ' ') "
  for c in "${cases[@]}"; do
    local status=fail
    [ "$COMPAT_TARGET" = fjord ] && [[ "$xfail" == *" $c "* ]] && status=xfail
    grep -q "^RESULT $c " "$out" || echo "RESULT $c $status suite.py exited with status $rc before this case finished"
  done
}

selected=("$@")
phase --list-nongroup 300
phase --list-group 120
kill_case=txn_broker_kill_open_txn
if [ ${#selected[@]} -eq 0 ] || [[ " ${selected[*]} " == *" $kill_case "* ]]; then
  if restartable_broker "$COMPAT_TARGET" "$boot" "${COMPAT_ROOT:-$(cd "$compat/.." && pwd)}" librdkafka; then
    export COMPAT_RESTART_BOOTSTRAP="$RESTART_BOOTSTRAP" COMPAT_KILL_RESTART_CMD="$RESTART_KILL_CMD"
  fi
fi
phase --list-txn 240
exit 0
