#!/usr/bin/env bash
# librdkafka-groups suite: consumer groups with confluent-kafka-python
# (bundles librdkafka) against <bootstrap>. Shares compat/.venv and the pinned
# requirements with the librdkafka suite (compat/librdkafka/requirements.txt),
# and that suite's helpers (groups.py imports compat/librdkafka/suite.py).
# Usage: compat/librdkafka-groups/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail> <message>" per case; everything else on stderr.
# Env: COMPAT_TARGET (fjord|kafka), COMPAT_RDK_DEBUG (librdkafka debug
# contexts, e.g. "cgrp,protocol").
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rdk="$(cd "$here/../librdkafka" && pwd)"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
venv="$(cd "$here/.." && pwd)/.venv"
stamp="$venv/.librdkafka-requirements"
py="$venv/bin/python"

# The same idempotent install as compat/librdkafka/run.sh (same stamp file).
if ! [ -x "$py" ] || ! cmp -s "$rdk/requirements.txt" "$stamp"; then
  echo "[librdkafka-groups] installing $(tr '\n' ' ' <"$rdk/requirements.txt")into $venv" >&2
  { [ -x "$py" ] || python3 -m venv "$venv"; } >&2 &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$rdk/requirements.txt" >&2 &&
    cp "$rdk/requirements.txt" "$stamp"
  if ! cmp -s "$rdk/requirements.txt" "$stamp"; then
    echo "RESULT install fail could not install $(head -1 "$rdk/requirements.txt") into compat/.venv"
    exit 0
  fi
fi

cases=()
for c in $("$py" "$here/groups.py" --list); do
  if [ $# -eq 0 ] || [[ " $* " == *" $c "* ]]; then cases+=("$c"); fi
done

first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[librdkafka-groups] nothing accepts connections on $first" >&2
  for c in "${cases[@]}"; do echo "RESULT $c fail cannot connect to $first"; done
  exit 0
fi

# The cases carry their own deadlines; the backstop only catches a wedged
# process (say a consumer close() that never returns). Cases that printed
# no RESULT by then are reported here.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
timeout -k 10 "${COMPAT_RDK_GROUPS_TIMEOUT:-480}" "$py" -u "$here/groups.py" "$boot" "${cases[@]}" | tee "$out"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "[librdkafka-groups] groups.py exited with status $rc" >&2
  for c in "${cases[@]}"; do
    grep -q "^RESULT $c " "$out" || echo "RESULT $c fail groups.py exited with status $rc before this case finished"
  done
fi
exit 0
