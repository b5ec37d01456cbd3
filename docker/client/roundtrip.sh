#!/bin/sh
# roundtrip: produces COUNT records to a new topic on BOOTSTRAP_SERVERS,
# reads them back from the beginning and exits 0 only if every record came
# back, each exactly once. Every step is bounded in time.
#
# Env: BOOTSTRAP_SERVERS (default localhost:9092), TOPIC (default
# demo-<unix time>, new on every run), COUNT (default 1000),
# WAIT_S (how long to wait for the cluster, default 60).
set -eu
bootstrap=${BOOTSTRAP_SERVERS:-localhost:9092}
topic=${TOPIC:-demo-$(date +%s)}
count=${COUNT:-1000}
wait_s=${WAIT_S:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The cluster answers Metadata once its brokers are registered.
deadline=$(( $(date +%s) + wait_s ))
until timeout 10 kcat -b "$bootstrap" -L -m 5 > "$work/metadata" 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "roundtrip: no answer from $bootstrap within ${wait_s}s:" >&2
    cat "$work/metadata" >&2
    exit 1
  fi
  sleep 1
done
brokers=$(grep '^  broker ' "$work/metadata" | sed -e 's/^ *//' | paste -sd ',' -)
echo "roundtrip: $bootstrap answers: $brokers"

seq 1 "$count" | sed 's/^/record-/' > "$work/sent"
# acks=all, and a failed delivery fails the run (kcat exits non-zero).
timeout 60 kcat -P -b "$bootstrap" -t "$topic" -X acks=all -X message.timeout.ms=30000 "$work/sent" -l
echo "roundtrip: produced $count records to $topic"

timeout 60 kcat -C -b "$bootstrap" -t "$topic" -o beginning -e -q -c "$count" > "$work/received"
sort "$work/sent" > "$work/sent.sorted"
sort "$work/received" > "$work/received.sorted"
if ! cmp -s "$work/sent.sorted" "$work/received.sorted"; then
  echo "roundtrip: FAILED: sent $count records, read back $(wc -l < "$work/received")" >&2
  diff "$work/sent.sorted" "$work/received.sorted" | head -5 >&2
  exit 1
fi
timeout 10 kcat -b "$bootstrap" -L -t "$topic" > "$work/topic"
partitions=$(grep -c 'partition ' "$work/topic" || true)
# Leaders, replicas and in-sync replicas of each partition.
grep 'partition ' "$work/topic" | sed -e 's/^ */roundtrip: /'
echo "roundtrip: OK: $count records through $topic ($partitions partition(s)) and back"
