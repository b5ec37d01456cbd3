#!/usr/bin/env bash
# cli suite: Apache Kafka's own command-line tools, run from the Maven jars
# that compat/lib/kafka-libs.sh resolves (java -cp "compat/.cache/kafka-libs/*"
# <main class>), against <bootstrap>.
#
# Usage: compat/cli/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail|xfail> <message>" per case on stdout;
# tool output and diagnostics go to stderr. Every tool invocation runs under
# `timeout`, so every case is bounded.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
only=" $* "
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
run_id="$(printf '%x%04x' "$(date +%s)" $(($$ & 0xffff)))"
work="$(mktemp -d "${TMPDIR:-/tmp}/compat-cli.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log() { echo "[cli] $*" >&2; }

ALL_CASES=(
  topics_create topics_list topics_describe topics_alter_partitions topics_delete
  configs_topic_alter configs_broker_describe configs_broker_dynamic topics_alter_bad_assignment
  get_offsets broker_api_versions delete_records log_dirs
  transactions_describe_producers transactions_list_describe transactions_abort_hanging
  transactional_copier_kill_restart
  console_produce_consume
  producer_perf_test consumer_perf_test
  verifiable_producer verifiable_producer_console_check verifiable_consumer
  consumer_groups
)
# Cases expected to fail on fjord because of an open fjord issue (name the
# issue here): they report xfail (not fail) on fjord. None at present: the
# group cases (consumer_perf_test, verifiable_consumer, consumer_groups) are
# ordinary cases since fjord implements the classic group protocol.
XFAIL_ON_FJORD=" "

# Preflight: with nothing listening, report every case at once instead of
# letting each one run into its deadline.
first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  echo "[cli] nothing accepts connections on $first" >&2
  for c in "${ALL_CASES[@]}"; do
    if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
    echo "RESULT $c fail cannot connect to $first"
  done
  exit 0
fi

# Resolve the Kafka jars (idempotent; a no-op once compat/.cache/kafka-libs exists).
# shellcheck source=compat/lib/kafka-libs.sh
if ! . "$compat/lib/kafka-libs.sh" >&2; then
  for c in "${ALL_CASES[@]}"; do
    echo "RESULT $c fail could not resolve the Kafka jars (compat/lib/kafka-libs.sh)"
  done
  exit 0
fi
log "Kafka tools $KAFKA_VERSION, target $COMPAT_TARGET, run $run_id"

JAVA_BIN="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
# Short-lived tools: favour start-up time over peak throughput.
JVM_OPTS=(-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms64m -Xmx512m
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=${COMPAT_CLI_LOG4J:-$here/log4j2-tools.properties}")
# Seconds one tool invocation may take; group tools (which wait for a
# rebalance) get more.
TOOL_TIMEOUT="${COMPAT_CLI_TOOL_TIMEOUT:-40}"
GROUP_TIMEOUT=60

# Main classes (Kafka 4.x; ConfigCommand is still Scala, in kafka_2.13).
TOPICS=org.apache.kafka.tools.TopicCommand
CONFIGS=kafka.admin.ConfigCommand
GET_OFFSETS=org.apache.kafka.tools.GetOffsetShell
API_VERSIONS=org.apache.kafka.tools.BrokerApiVersionsCommand
DELETE_RECORDS=org.apache.kafka.tools.DeleteRecordsCommand
LOG_DIRS=org.apache.kafka.tools.LogDirsCommand
TRANSACTIONS=org.apache.kafka.tools.TransactionsCommand
CONSOLE_PRODUCER=org.apache.kafka.tools.ConsoleProducer
CONSOLE_CONSUMER=org.apache.kafka.tools.consumer.ConsoleConsumer
PRODUCER_PERF=org.apache.kafka.tools.ProducerPerformance
CONSUMER_PERF=org.apache.kafka.tools.ConsumerPerformance
VERIFIABLE_PRODUCER=org.apache.kafka.tools.VerifiableProducer
VERIFIABLE_CONSUMER=org.apache.kafka.tools.VerifiableConsumer
CONSUMER_GROUPS=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
COPIER=org.apache.kafka.tools.TransactionalMessageCopier

# ---------------------------------------------------------------------------
# helpers (used inside a case's subshell)

# fail MESSAGE: end the current case with MESSAGE.
fail() {
  printf '%s\n' "$*" >"$work/fail"
  exit 1
}

# tool [-t SECONDS] [-i INPUT_FILE] MAIN_CLASS ARGS...: run a Kafka tool;
# stdout to $work/out (also returned in $OUT), stderr to $work/err.
# Returns the tool's status (124 on timeout).
tool() {
  local secs="$TOOL_TIMEOUT" input=/dev/null
  while :; do
    case "$1" in
      -t) secs="$2"; shift 2 ;;
      -i) input="$2"; shift 2 ;;
      *) break ;;
    esac
  done
  local main="$1"
  shift
  echo "[cli]   \$ ${main##*.} $*" >&2
  timeout -k 5 "$secs" "$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$main" "$@" \
    <"$input" >"$work/out" 2>"$work/err"
  local rc=$?
  OUT="$(cat "$work/out")"
  if [ $rc -ne 0 ]; then
    echo "[cli]   exit $rc; stdout:" >&2
    tail -n 20 "$work/out" | sed 's/^/[cli]     /' >&2
  fi
  sed 's/^/[cli]     /' "$work/err" >&2
  return $rc
}

# must DESCRIPTION MAIN_CLASS ARGS...: run a tool, fail the case if it fails.
must() {
  local what="$1"
  shift
  tool "$@"
  local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "$what timed out"
  elif [ $rc -ne 0 ]; then
    fail "$what exited with $rc: $(grep -m1 -iE 'error|exception' "$work/err" "$work/out" | cut -d: -f2- | head -c 200)"
  fi
}

# The first line of stderr that looks like an error, for failure messages.
first_error() { grep -m1 -ihE 'error|exception' "$work/err" | head -c 200; }

topic_name() { echo "compat-cli-${1//_/-}-$run_id"; }

create_topic() { # create_topic NAME PARTITIONS [--config k=v ...]
  local t="$1" p="$2"
  shift 2
  must "kafka-topics --create $t" "$TOPICS" --bootstrap-server "$boot" --create --topic "$t" \
    --partitions "$p" --replication-factor 1 "$@"
  grep -qx "Created topic $t." <<<"$OUT" || fail "kafka-topics --create printed: $(head -1 <<<"$OUT")"
}


# get_offsets TOPIC TIME: kafka-get-offsets; sets OFFS to "p:offset p:offset ..."
# (sorted by partition) and OFFS_SUM to the sum of the offsets.
get_offsets() {
  must "kafka-get-offsets --time $2" "$GET_OFFSETS" --bootstrap-server "$boot" --topic "$1" --time "$2"
  OFFS="$(sed -n "s/^$1:\([0-9]*\):\(-\{0,1\}[0-9]*\)\$/\1:\2/p" <<<"$OUT" | sort -n | paste -sd' ')"
  OFFS_SUM="$(tr ' ' '\n' <<<"$OFFS" | awk -F: '{s += $2} END {print s + 0}')"
}

# console_produce TOPIC FILE [ARGS...]: pipe FILE into the console producer
# (keys and headers parsed, acks=all), with ARGS added to its command line.
console_produce() {
  local t="$1" input="$2"
  shift 2
  must "kafka-console-producer" -i "$input" "$CONSOLE_PRODUCER" --bootstrap-server "$boot" --topic "$t" \
    --property parse.key=true --property parse.headers=true --property 'null.marker=<null>' \
    --producer-property acks=all "$@"
}

# ---------------------------------------------------------------------------
# cases

case_topics_create() {
  local t
  t="$(topic_name topics_create)"
  create_topic "$t" 3 --config retention.ms=3600000 --config cleanup.policy=compact,delete \
    --config max.message.bytes=2000000
  # creating it again must be refused
  tool "$TOPICS" --bootstrap-server "$boot" --create --topic "$t" --partitions 3 --replication-factor 1
  local rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "second --create of $t: exit $rc, expected an error"
  grep -q "TopicExistsException\|already exists" "$work/err" "$work/out" ||
    fail "second --create: no 'already exists' error: $(first_error)"
  # --if-not-exists makes it a no-op
  must "kafka-topics --create --if-not-exists" "$TOPICS" --bootstrap-server "$boot" --create \
    --if-not-exists --topic "$t" --partitions 3 --replication-factor 1
}

case_topics_list() {
  local t
  t="$(topic_name topics_list)"
  create_topic "$t" 1
  must "kafka-topics --list" "$TOPICS" --bootstrap-server "$boot" --list
  grep -qx "$t" <<<"$OUT" || fail "$t missing from --list ($(wc -l <<<"$OUT") topics listed)"
  must "kafka-topics --list --topic" "$TOPICS" --bootstrap-server "$boot" --list --topic "$t"
  [ "$OUT" = "$t" ] || fail "--list --topic $t printed '$(head -c 200 <<<"$OUT")'"
}

case_topics_describe() {
  local t
  t="$(topic_name topics_describe)"
  create_topic "$t" 3 --config retention.ms=3600000 --config cleanup.policy=compact,delete \
    --config max.message.bytes=2000000
  must "kafka-topics --describe" "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  local head
  head="$(grep -m1 "^Topic: $t	" <<<"$OUT")" || fail "no summary line for $t: $(head -1 <<<"$OUT")"
  grep -q "PartitionCount: 3	" <<<"$head" || fail "summary: $head"
  grep -q "ReplicationFactor: 1	" <<<"$head" || fail "summary: $head"
  grep -Eq "TopicId: [A-Za-z0-9_-]{22}	" <<<"$head" || fail "no topic id: $head"
  for kv in retention.ms=3600000 cleanup.policy=compact,delete max.message.bytes=2000000; do
    grep -q "Configs:.*$kv" <<<"$head" || fail "describe lacks $kv: $head"
  done
  for p in 0 1 2; do
    grep -Eq "^	Topic: $t	Partition: $p	Leader: [0-9]+	Replicas: [0-9]+	Isr: [0-9]+" <<<"$OUT" ||
      fail "no leader/replicas/isr line for partition $p"
  done
}

case_topics_alter_partitions() {
  local t
  t="$(topic_name topics_alter)"
  create_topic "$t" 3
  must "kafka-topics --alter --partitions 5" "$TOPICS" --bootstrap-server "$boot" --alter --topic "$t" --partitions 5
  local deadline=$((SECONDS + 20))
  while :; do
    must "kafka-topics --describe" "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
    grep -q "PartitionCount: 5	" <<<"$OUT" && [ "$(grep -Ec "	Partition: [0-4]	Leader: [0-9]+" <<<"$OUT")" = 5 ] && break
    [ $SECONDS -lt $deadline ] || fail "after --alter: $(head -1 <<<"$OUT")"
    sleep 1
  done
  # shrinking is refused
  tool "$TOPICS" --bootstrap-server "$boot" --alter --topic "$t" --partitions 2
  [ $? -ne 0 ] || grep -qi "error\|exception" "$work/out" "$work/err" || fail "--alter --partitions 2 (a decrease) was accepted"
}

case_topics_delete() {
  local t
  t="$(topic_name topics_delete)"
  create_topic "$t" 2
  must "kafka-topics --delete" "$TOPICS" --bootstrap-server "$boot" --delete --topic "$t"
  local deadline=$((SECONDS + 20))
  while :; do
    must "kafka-topics --list" "$TOPICS" --bootstrap-server "$boot" --list
    grep -qx "$t" <<<"$OUT" || break
    [ $SECONDS -lt $deadline ] || fail "$t still listed 20s after --delete"
    sleep 1
  done
  tool "$TOPICS" --bootstrap-server "$boot" --describe --topic "$t"
  [ $? -ne 0 ] && grep -q "does not exist\|UnknownTopicOrPartition" "$work/err" "$work/out" ||
    fail "--describe of the deleted topic: $(head -1 <<<"$OUT") $(first_error)"
}

case_configs_topic_alter() {
  local t
  t="$(topic_name configs)"
  create_topic "$t" 1 --config retention.ms=3600000
  local cc=("$CONFIGS" --bootstrap-server "$boot" --entity-type topics --entity-name "$t")
  must "kafka-configs --describe" "${cc[@]}" --describe
  grep -q "^Dynamic configs for topic $t are:" <<<"$OUT" || fail "describe: $(head -1 <<<"$OUT")"
  grep -q "^  retention.ms=3600000 " <<<"$OUT" || fail "describe lacks retention.ms=3600000"
  must "kafka-configs --alter --add-config" "${cc[@]}" --alter --add-config retention.ms=1000000,segment.bytes=10485760
  grep -q "Completed updating config for topic $t" <<<"$OUT" || fail "alter printed: $(head -1 <<<"$OUT")"
  must "kafka-configs --describe" "${cc[@]}" --describe
  grep -q "^  retention.ms=1000000 " <<<"$OUT" || fail "after --add-config: retention.ms is $(grep -o 'retention.ms=[0-9]*' <<<"$OUT" | head -1)"
  grep -q "^  segment.bytes=10485760 " <<<"$OUT" || fail "after --add-config: segment.bytes missing"
  must "kafka-configs --alter --delete-config" "${cc[@]}" --alter --delete-config retention.ms
  must "kafka-configs --describe" "${cc[@]}" --describe
  grep -q "^  retention.ms=" <<<"$OUT" && fail "retention.ms still a topic config after --delete-config"
  grep -q "^  segment.bytes=10485760 " <<<"$OUT" || fail "segment.bytes lost by --delete-config retention.ms"
  # --describe --all shows defaults too
  must "kafka-configs --describe --all" "${cc[@]}" --describe --all
  grep -q "^  retention.ms=604800000 " <<<"$OUT" || fail "--all: retention.ms default is $(grep -o '^  retention.ms=[0-9]*' <<<"$OUT")"
}

case_configs_broker_describe() {
  must "kafka-configs --describe brokers" "$CONFIGS" --bootstrap-server "$boot" --entity-type brokers --describe
  local id
  id="$(sed -n 's/^Dynamic configs for broker \([0-9]*\) are:$/\1/p' <<<"$OUT" | head -1)"
  [ -n "$id" ] || fail "no 'Dynamic configs for broker N' line: $(head -1 <<<"$OUT")"
  must "kafka-configs --describe --all broker $id" "$CONFIGS" --bootstrap-server "$boot" \
    --entity-type brokers --entity-name "$id" --describe --all
  grep -q "^All configs for broker $id are:" <<<"$OUT" || fail "describe --all: $(head -1 <<<"$OUT")"
  local n
  n="$(grep -c '^  [a-z0-9.]*=.* sensitive=' <<<"$OUT")"
  # Kafka lists every broker config (hundreds); ask for a fair number and
  # for the ones tools and clients commonly read.
  [ "$n" -ge 20 ] || fail "describe --all lists only $n broker configs"
  for k in log.retention.hours num.partitions log.segment.bytes message.max.bytes \
    default.replication.factor min.insync.replicas auto.create.topics.enable; do
    grep -q "^  $k=" <<<"$OUT" || fail "describe --all lacks $k"
  done
}

# Dynamic broker configs (KIP-226): one broker, then the cluster default
# with a topic that has no retention.ms of its own following it; a static
# config refused; both deleted again (the other cases share this broker).
case_configs_broker_dynamic() {
  local cb=("$CONFIGS" --bootstrap-server "$boot" --entity-type brokers) id t
  must "kafka-configs --describe brokers" "${cb[@]}" --describe
  id="$(sed -n 's/^Dynamic configs for broker \([0-9]*\) are:$/\1/p' <<<"$OUT" | head -1)"
  [ -n "$id" ] || fail "no 'Dynamic configs for broker N' line: $(head -1 <<<"$OUT")"
  must "kafka-configs --alter broker $id" "${cb[@]}" --entity-name "$id" --alter \
    --add-config log.flush.interval.messages=1234
  grep -q "^Completed updating config for broker $id" <<<"$OUT" || fail "alter printed: $(head -1 <<<"$OUT")"
  must "kafka-configs --describe broker $id" "${cb[@]}" --entity-name "$id" --describe
  grep -qF "  log.flush.interval.messages=1234 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.flush.interval.messages=1234, DEFAULT_CONFIG:log.flush.interval.messages=9223372036854775807}" <<<"$OUT" \
    || fail "describe broker $id: $(grep log.flush.interval.messages <<<"$OUT" | head -c 200)"
  t="$(topic_name configs_broker_dynamic)"
  create_topic "$t" 1
  must "kafka-configs --alter --entity-default" "${cb[@]}" --entity-default --alter --add-config log.retention.ms=86400000
  grep -q "^Completed updating default config for brokers in the cluster" <<<"$OUT" || fail "alter default printed: $(head -1 <<<"$OUT")"
  must "kafka-configs --describe --entity-default" "${cb[@]}" --entity-default --describe
  grep -qF "  log.retention.ms=86400000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=86400000}" <<<"$OUT" \
    || fail "describe default: $(grep log.retention <<<"$OUT" | head -c 200)"
  must "kafka-configs --describe --all topic" "$CONFIGS" --bootstrap-server "$boot" --entity-type topics --entity-name "$t" --describe --all
  grep -qF "  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=86400000" <<<"$OUT" \
    || fail "topic does not follow the default: $(grep '^  retention.ms' <<<"$OUT" | head -c 200)"
  if tool "${cb[@]}" --entity-name "$id" --alter --add-config log.retention.hours=1; then
    fail "log.retention.hours (not dynamic) was accepted"
  fi
  grep -qF "InvalidRequestException: Cannot update these configs dynamically: Set(log.retention.hours)" "$work/err" "$work/out" \
    || fail "log.retention.hours refused with: $(first_error)"
  must "kafka-configs --delete-config --entity-default" "${cb[@]}" --entity-default --alter --delete-config log.retention.ms
  must "kafka-configs --delete-config broker $id" "${cb[@]}" --entity-name "$id" --alter --delete-config log.flush.interval.messages
  must "kafka-configs --describe broker $id" "${cb[@]}" --entity-name "$id" --describe
  grep -q "log.flush.interval.messages" <<<"$OUT" && fail "log.flush.interval.messages still dynamic after --delete-config"
  must "kafka-configs --describe --all topic" "$CONFIGS" --bootstrap-server "$boot" --entity-type topics --entity-name "$t" --describe --all
  grep -q "^  retention.ms=604800000 " <<<"$OUT" || fail "after the delete: $(grep '^  retention.ms' <<<"$OUT" | head -c 200)"
}

# CreatePartitions with a replica on a broker that does not exist.
case_topics_alter_bad_assignment() {
  local t
  t="$(topic_name bad_assignment)"
  create_topic "$t" 1
  if tool "$TOPICS" --bootstrap-server "$boot" --alter --topic "$t" --partitions 2 --replica-assignment 1,1007; then
    fail "an assignment to broker 1007 was accepted"
  fi
  grep -qF "InvalidReplicaAssignmentException: The manual partition assignment includes broker 1007, but no such broker is registered." "$work/err" "$work/out" \
    || fail "refused with: $(first_error)"
}

case_get_offsets() {
  local t
  t="$(topic_name get_offsets)"
  create_topic "$t" 1
  seq 0 4 | sed 's/^/h:x\tk\t/' >"$work/a.txt"
  seq 5 9 | sed 's/^/h:x\tk\t/' >"$work/b.txt"
  console_produce "$t" "$work/a.txt"
  sleep 0.05
  local mid
  mid="$(date +%s%3N)"
  sleep 0.05
  console_produce "$t" "$work/b.txt"
  get_offsets "$t" -2
  [ "$OFFS" = "0:0" ] || fail "--time -2 (earliest): '$OFFS', want 0:0"
  get_offsets "$t" earliest
  [ "$OFFS" = "0:0" ] || fail "--time earliest: '$OFFS', want 0:0"
  get_offsets "$t" -1
  [ "$OFFS" = "0:10" ] || fail "--time -1 (latest): '$OFFS', want 0:10"
  get_offsets "$t" "$mid"
  [ "$OFFS" = "0:5" ] || fail "--time $mid (between the two batches): '$OFFS', want 0:5"
  # max-timestamp: the first offset holding the largest timestamp (records of
  # one batch often share a millisecond)
  must "kafka-console-consumer --partition 0" "$CONSOLE_CONSUMER" --bootstrap-server "$boot" --topic "$t" \
    --partition 0 --offset earliest --max-messages 10 --timeout-ms 30000 \
    --property print.timestamp=true --property print.offset=true
  local want
  want="$(python3 "$here/check.py" max-timestamp <"$work/out" 2>&1)"
  get_offsets "$t" max-timestamp
  [ "$OFFS" = "0:$want" ] || fail "--time max-timestamp: '$OFFS', want 0:$want"
}

case_broker_api_versions() {
  must "kafka-broker-api-versions" "$API_VERSIONS" --bootstrap-server "$boot"
  grep -Eq '^[^ ]+ \(id: [0-9]+ rack: .*\) -> \($' <<<"$OUT" || fail "no broker header line: $(head -1 <<<"$OUT")"
  local api
  for api in 'Produce(0)' 'Fetch(1)' 'ListOffsets(2)' 'Metadata(3)' 'ApiVersions(18)' \
    'CreateTopics(19)' 'DeleteTopics(20)' 'DeleteRecords(21)' 'InitProducerId(22)' \
    'DescribeConfigs(32)' 'CreatePartitions(37)' 'IncrementalAlterConfigs(44)' 'DescribeLogDirs(35)'; do
    local line
    line="$(grep -F "	$api: " <<<"$OUT")" || fail "$api not listed"
    grep -q 'usable: [0-9]' <<<"$line" || fail "$api: ${line#	}"
  done
}

case_delete_records() {
  local t
  t="$(topic_name delete_records)"
  create_topic "$t" 2
  # 10 records to each partition: headers:key:value, explicit partition via key hash is not
  # controllable from the console producer, so count what landed where
  seq 0 19 | sed 's/.*/h:x\tkey-&\tvalue-&/' >"$work/in.txt"
  console_produce "$t" "$work/in.txt"
  local ends p0 p1
  get_offsets "$t" -1
  ends="$OFFS"
  [[ "$ends" =~ ^0:([0-9]+)\ 1:([0-9]+)$ ]] || fail "latest offsets: '$ends'"
  p0="${BASH_REMATCH[1]}" p1="${BASH_REMATCH[2]}"
  [ $((p0 + p1)) -eq 20 ] || fail "latest offsets $ends do not add up to 20"
  local d0=$((p0 > 3 ? 3 : p0)) d1=$((p1 > 0 ? p1 - 1 : 0))
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"offset":%d},{"topic":"%s","partition":1,"offset":%d}]}\n' \
    "$t" "$d0" "$t" "$d1" >"$work/offsets.json"
  must "kafka-delete-records" "$DELETE_RECORDS" --bootstrap-server "$boot" --offset-json-file "$work/offsets.json"
  grep -q "partition: $t-0	low_watermark: $d0" <<<"$OUT" || fail "delete-records output: $(tr '\n' ' ' <<<"$OUT" | head -c 200)"
  grep -q "partition: $t-1	low_watermark: $d1" <<<"$OUT" || fail "delete-records output: $(tr '\n' ' ' <<<"$OUT" | head -c 200)"
  get_offsets "$t" -2
  [ "$OFFS" = "0:$d0 1:$d1" ] || fail "earliest after delete-records: '$OFFS', want 0:$d0 1:$d1"
  get_offsets "$t" -1
  [ "$OFFS" = "$ends" ] || fail "latest offsets changed by delete-records: '$OFFS', was '$ends'"
  # deleting beyond the high watermark is refused
  printf '{"version":1,"partitions":[{"topic":"%s","partition":0,"offset":%d}]}\n' "$t" $((p0 + 5)) >"$work/bad.json"
  tool "$DELETE_RECORDS" --bootstrap-server "$boot" --offset-json-file "$work/bad.json"
  grep -q "partition: $t-0	error: .*OffsetOutOfRange" "$work/out" ||
    fail "deleting past the high watermark: $(grep "$t-0" "$work/out") $(first_error)"
}

case_log_dirs() {
  local t
  t="$(topic_name log_dirs)"
  create_topic "$t" 2
  seq 0 99 | sed 's/.*/h:x\tkey-&\tvalue-&/' >"$work/in.txt"
  console_produce "$t" "$work/in.txt"
  must "kafka-log-dirs --describe" "$LOG_DIRS" --bootstrap-server "$boot" --describe --topic-list "$t"
  grep -q "^Received log directory information from brokers" <<<"$OUT" || fail "log-dirs: $(head -1 <<<"$OUT")"
  local msg
  msg="$(python3 "$here/check.py" log-dirs "$t" 2 1000 <"$work/out" 2>&1)"
  [ -z "$msg" ] || fail "$msg"
}

# kafka-transactions describe-producers (DescribeProducers, KIP-664): two
# idempotent console-producer runs leave two producers in the partition's
# state, each at epoch 0 with no coordinator epoch and no open transaction,
# with the sequence and timestamp of its last record; asked of the broker
# by id (--broker-id) the same; an illegal topic name is refused by the
# broker (sent with --broker-id, the admin client looks nothing up first).
case_transactions_describe_producers() {
  local t id t0 t1 t2 msg
  t="$(topic_name describe_producers)"
  create_topic "$t" 1
  seq 0 9 | sed 's/.*/h:x\tkey-&\tvalue-&/' >"$work/in10.txt"
  seq 0 4 | sed 's/.*/h:x\tkey-&\tvalue-&/' >"$work/in5.txt"
  local describe=("$TRANSACTIONS" --bootstrap-server "$boot" describe-producers --topic "$t" --partition 0)
  t0="$(date +%s%3N)"
  console_produce "$t" "$work/in10.txt" --producer-property enable.idempotence=true
  t1="$(date +%s%3N)"
  must "kafka-transactions describe-producers" "${describe[@]}"
  msg="$(python3 "$here/check.py" describe-producers "9:$t0:$t1" <<<"$OUT" 2>&1)"
  [ -z "$msg" ] || fail "after one producer: $msg"
  console_produce "$t" "$work/in5.txt" --producer-property enable.idempotence=true
  t2="$(date +%s%3N)"
  must "kafka-transactions describe-producers" "${describe[@]}"
  msg="$(python3 "$here/check.py" describe-producers "9:$t0:$t1" "4:$t1:$t2" <<<"$OUT" 2>&1)"
  [ -z "$msg" ] || fail "after two producers: $msg"
  must "kafka-configs --describe brokers" "$CONFIGS" --bootstrap-server "$boot" --entity-type brokers --describe
  id="$(sed -n 's/^Dynamic configs for broker \([0-9]*\) are:$/\1/p' <<<"$OUT" | head -1)"
  [ -n "$id" ] || fail "no 'Dynamic configs for broker N' line: $(head -1 <<<"$OUT")"
  must "kafka-transactions describe-producers --broker-id $id" "$TRANSACTIONS" --bootstrap-server "$boot" \
    describe-producers --broker-id "$id" --topic "$t" --partition 0
  msg="$(python3 "$here/check.py" describe-producers "9:$t0:$t1" "4:$t1:$t2" <<<"$OUT" 2>&1)"
  [ -z "$msg" ] || fail "--broker-id $id: $msg"
  if tool "$TRANSACTIONS" --bootstrap-server "$boot" describe-producers --broker-id "$id" --topic "bad/name" --partition 0; then
    fail "describe-producers --topic bad/name succeeded: $(head -c 200 <<<"$OUT")"
  fi
  grep -qF "Failed to describe producers for partition bad/name-0 on broker $id: Failed to fetch metadata for partition bad/name-0 due to invalid topic error: " "$work/err" ||
    fail "describe-producers --topic bad/name: $(head -1 "$work/err" | head -c 200)"
}

# kafka-transactions list and describe (ListTransactions, DescribeTransactions)
# after kafka-producer-perf-test ran transactions (--transactional-id,
# --transaction-duration-ms 300, transaction.timeout.ms=30000) over 3
# partitions and committed the last one: the id is listed once, with a
# coordinator id, a producer id and CompleteCommit; describe shows the same
# coordinator and producer id, an epoch of at least 1 (every end of a
# transaction bumps it under transaction.version 2), CompleteCommit, the
# timeout, the last transaction's start time inside the run and no
# partitions; describe-producers of each partition shows that producer id
# alone with no open transaction. A transactional id never used cannot be
# described.
case_transactions_list_describe() {
  local t id n=3000 t0 t1 p
  t="$(topic_name transactions_list)"
  id="compat-cli-txn-$run_id"
  create_topic "$t" 3
  t0="$(date +%s%3N)"
  must "kafka-producer-perf-test --transactional-id" -t 120 "$PRODUCER_PERF" --topic "$t" --num-records "$n" \
    --record-size 100 --throughput 3000 --transactional-id "$id" --transaction-duration-ms 300 \
    --producer-props "bootstrap.servers=$boot" transaction.timeout.ms=30000 linger.ms=5
  t1="$(date +%s%3N)"
  grep -q "^$n records sent, " <<<"$OUT" || fail "perf test summary: '$(grep 'records sent' <<<"$OUT" | tail -1)'"
  grep -q "\] ERROR " "$work/err" && fail "perf test logged: $(grep -m1 '\] ERROR ' "$work/err" | head -c 200)"
  # The commit returns once the coordinator has logged PrepareCommit; the
  # markers, then CompleteCommit, follow a moment later.
  local deadline=$((SECONDS + 15)) msg
  while :; do
    must "kafka-transactions list" "$TRANSACTIONS" --bootstrap-server "$boot" list
    cp "$work/out" "$work/list.txt"
    must "kafka-transactions describe" "$TRANSACTIONS" --bootstrap-server "$boot" describe --transactional-id "$id"
    cp "$work/out" "$work/describe.txt"
    for p in 0 1 2; do
      must "kafka-transactions describe-producers" "$TRANSACTIONS" --bootstrap-server "$boot" describe-producers \
        --topic "$t" --partition "$p"
      cp "$work/out" "$work/dp$p.txt"
    done
    msg="$(python3 "$here/check.py" txn-tables "$id" 30000 "$t0" "$t1" "$work/list.txt" "$work/describe.txt" \
      "$work/dp0.txt" "$work/dp1.txt" "$work/dp2.txt" 2>&1)"
    [ -z "$msg" ] && break
    [ $SECONDS -lt $deadline ] || fail "$msg"
    log "  not yet: $msg"
    sleep 1
  done
  sed 's/^/[cli]   /' "$work/list.txt" "$work/describe.txt" | grep -F -e "$id" -e TransactionalId >&2
  if tool "$TRANSACTIONS" --bootstrap-server "$boot" describe --transactional-id "$id-never-used"; then
    fail "describe of a transactional id never used succeeded: $(head -c 200 <<<"$OUT")"
  fi
  grep -qF "DescribeTransactions request for transactionalId \`$id-never-used\` failed because the ID could not be found" "$work/err" "$work/out" ||
    fail "describe of an unknown id: $(first_error)"
}

# kafka-transactions abort of a hanging transaction (DescribeProducers, then
# WriteTxnMarkers to the partition's leader with the coordinator epoch the
# partition holds): a transactional kafka-producer-perf-test (transactions of
# 60 s, transaction.timeout.ms=20000) is killed with SIGKILL once
# describe-producers shows its transaction open; five records produced after
# it (idempotent console producer) stay invisible to read_committed readers,
# as the open transaction holds the last stable offset. `abort
# --start-offset` with the transaction's first offset ends it:
# describe-producers shows no open transaction and read_committed readers get
# the five records, nothing of the aborted transaction. The coordinator, which
# knows nothing of that abort, aborts the transaction on its timeout
# (CompleteAbort), and the readers get the same five records.
case_transactions_abort_hanging() {
  local t id pid start msg
  t="$(topic_name abort_hanging)"
  id="compat-cli-hanging-$run_id"
  create_topic "$t" 1
  local describe=("$TRANSACTIONS" --bootstrap-server "$boot" describe-producers --topic "$t" --partition 0)
  # open_txn_starts: the CurrentTransactionStartOffset of each producer with an open transaction.
  open_txn_starts() { awk -F'\t' 'NR > 1 {gsub(/ /, "", $6); if ($6 != "None") print $6}' "$work/out"; }
  echo "[cli]   \$ ProducerPerformance --transactional-id $id (transactions of 60 s), SIGKILL once one is open" >&2
  "$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$PRODUCER_PERF" --topic "$t" --num-records 100000 \
    --record-size 100 --throughput 50 --transactional-id "$id" --transaction-duration-ms 60000 \
    --producer-props "bootstrap.servers=$boot" transaction.timeout.ms=20000 linger.ms=5 \
    </dev/null >"$work/perf.out" 2>"$work/perf.err" &
  pid=$!
  local deadline=$((SECONDS + 40))
  while :; do
    if ! tool "${describe[@]}"; then
      kill -9 "$pid"
      fail "kafka-transactions describe-producers: $(first_error)"
    fi
    start="$(open_txn_starts)"
    [ -n "$start" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      fail "the perf test exited before a transaction was open: $(grep -m1 -iE 'error|exception' "$work/perf.err" | head -c 200)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      kill -9 "$pid"
      fail "no open transaction in describe-producers after 40 s"
    fi
    sleep 1
  done
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  log "  perf test killed inside a transaction starting at offset $start"
  seq 0 4 | sed 's/.*/h:x\tkey-&\tafter-&/' >"$work/after.txt"
  seq 0 4 | sed 's/.*/after-&/' >"$work/want.txt"
  console_produce "$t" "$work/after.txt" --producer-property enable.idempotence=true
  local read_committed=("$CONSOLE_CONSUMER" --bootstrap-server "$boot" --topic "$t" --partition 0
    --offset earliest --isolation-level read_committed --timeout-ms 3000)
  must "kafka-console-consumer --isolation-level read_committed" "${read_committed[@]}"
  [ -z "$OUT" ] || fail "read_committed readers got $(wc -l <<<"$OUT") records while the transaction was open"
  must "kafka-transactions abort" "$TRANSACTIONS" --bootstrap-server "$boot" abort --topic "$t" --partition 0 \
    --start-offset "$start"
  must "kafka-transactions describe-producers" "${describe[@]}"
  [ -z "$(open_txn_starts)" ] || fail "describe-producers after the abort: $(tr -s ' \t' ' ' <"$work/out" | tail -n +2)"
  must "kafka-console-consumer --isolation-level read_committed" "${read_committed[@]}"
  cmp -s "$work/want.txt" "$work/out" ||
    fail "read_committed after the abort: '$(paste -sd' ' "$work/out" | head -c 200)', want after-0..after-4"
  deadline=$((SECONDS + 60))
  local state=""
  while [ "$state" != CompleteAbort ]; do
    [ $SECONDS -lt $deadline ] || fail "the coordinator's transaction is '$state' 60 s after the abort, want CompleteAbort (timed out)"
    sleep 2
    must "kafka-transactions describe" "$TRANSACTIONS" --bootstrap-server "$boot" describe --transactional-id "$id"
    state="$(awk -F'\t' 'NR == 2 {gsub(/ /, "", $5); print $5}' "$work/out")"
  done
  log "  the coordinator aborted the transaction on its timeout"
  must "kafka-console-consumer --isolation-level read_committed" "${read_committed[@]}"
  cmp -s "$work/want.txt" "$work/out" ||
    fail "read_committed after the coordinator's abort: '$(paste -sd' ' "$work/out" | head -c 200)', want after-0..after-4"
}

# Kafka's TransactionalMessageCopier (read_committed consumer with assign(),
# transactional producer, the consumed offsets committed in each transaction
# with sendOffsetsToTransaction) copies each partition of a 2-partition input
# topic (3,000 values 0..2999 from kafka-verifiable-producer) to the same
# partition of the output topic, 100 records per transaction, aborting some
# at random (--enable-random-aborts); partition 1 uses the group-metadata API
# (--use-group-metadata). Each copier is killed with SIGKILL after it has
# copied 300 records (plus a random 0-40 ms), and `kafka-transactions
# describe` shows whether it died inside a transaction; until one has, up to
# three times, a new copier with the same transactional id is started and
# killed again; then a last one runs to the end. The killed copier's open
# transaction is aborted (the next copier's initTransactions fences it, or its
# 5 s timeout), and the next copier resumes from the offsets committed by the
# last committed transaction. Read with --isolation-level read_committed,
# each output partition must hold exactly the values of the same input
# partition, each once, in order.
case_transactional_copier_kill_restart() {
  local in out n=3000 p group msg
  in="$(topic_name copier_in)"
  out="$(topic_name copier_out)"
  group="compat-cli-copier-$run_id"
  verifiable_fixture "$in" "$n"
  create_topic "$out" 2
  local ongoing_kills=0
  for p in 0 1; do
    local id="compat-cli-copier-$run_id-$p" kills=0 state="" extra=() count
    [ "$p" = 1 ] && extra=(--use-group-metadata)
    count="$(awk -v p="$p" '$1 == p' "$work/acked.txt" | wc -l)"
    local copier=("$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$COPIER" --broker-list "$boot"
      --input-topic "$in" --input-partition "$p" --output-topic "$out" --consumer-group "$group"
      --transaction-size 100 --transaction-timeout 5000 --transactional-id "$id" --enable-random-aborts "${extra[@]}")
    while [ $kills -lt 3 ] && [ "$state" != Ongoing ]; do
      echo "[cli]   \$ TransactionalMessageCopier --input-partition $p --transactional-id $id, SIGKILL after 300 records" >&2
      msg="$(python3 "$here/check.py" kill-after 300 $((RANDOM % 41)) 90 "$work/copier.out" -- "${copier[@]}" 2>>"$work/copier.err")"
      sed 's/^/[cli]     /' "$work/copier.err" | grep -v '^\[cli\]     \s*at ' | tail -n 3 >&2
      : >"$work/copier.err"
      [ -z "$msg" ] || fail "copier of partition $p, run $((kills + 1)): $msg"
      kills=$((kills + 1))
      must "kafka-transactions describe" "$TRANSACTIONS" --bootstrap-server "$boot" describe --transactional-id "$id"
      state="$(awk -F'\t' 'NR == 2 {gsub(/ /, "", $5); print $5}' "$work/out")"
      log "  partition $p: copier killed after $(grep -c '"ProcessLoop"' "$work/copier.out") loops, its transaction: $(sed -n 2p "$work/out" | tr -s ' \t' ' ')"
    done
    [ "$state" = Ongoing ] && ongoing_kills=$((ongoing_kills + 1))
    # The last copier reads up to the end offset it sees at its start: every
    # record of the partition not yet committed to the output.
    echo "[cli]   \$ TransactionalMessageCopier --input-partition $p --transactional-id $id, to the end" >&2
    timeout -k 5 120 "${copier[@]}" </dev/null >"$work/copier.out" 2>"$work/copier.err"
    local rc=$?
    grep -v '^\s*at ' "$work/copier.err" | tail -n 3 | sed 's/^/[cli]     /' >&2
    [ $rc -eq 0 ] || fail "the last copier of partition $p exited with $rc: $(grep -m1 -iE 'exception|error' "$work/copier.err" | head -c 200)"
    local first_remaining
    first_remaining="$(python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["remaining"])' <"$work/copier.out")"
    msg="$(python3 "$here/check.py" copier-done "$first_remaining" "$work/copier.out" 2>&1)"
    [ -z "$msg" ] || fail "partition $p: $msg"
    log "  partition $p: $kills kills, the last copier copied the last $first_remaining of $count records"
    [ "$first_remaining" -lt "$count" ] || fail "partition $p: the last copier started from the beginning (nothing was committed before)"
  done
  log "  copiers killed inside a transaction: $ongoing_kills of 2 partitions"
  local want
  for p in 0 1; do
    count="$(awk -v p="$p" '$1 == p' "$work/acked.txt" | wc -l)"
    must "kafka-console-consumer --isolation-level read_committed --partition $p" "$CONSOLE_CONSUMER" \
      --bootstrap-server "$boot" --topic "$out" --partition "$p" --offset earliest \
      --isolation-level read_committed --timeout-ms 3000
    awk -v p="$p" '$1 == p {print $3}' "$work/acked.txt" >"$work/want$p.txt"
    cp "$work/out" "$work/got$p.txt"
    cmp -s "$work/want$p.txt" "$work/got$p.txt" ||
      fail "output partition $p (read_committed): $(wc -l <"$work/got$p.txt") values, want the $count of input partition $p in order; first difference: $(diff "$work/want$p.txt" "$work/got$p.txt" | grep -m1 '^[<>]')"
  done
  get_offsets "$out" -1
  log "  output end offsets (with aborted records and markers): $OFFS"
}

case_console_produce_consume() {
  local t n=200
  t="$(topic_name console)"
  create_topic "$t" 1
  # headers<TAB>key<TAB>value; includes null key/value markers, an empty value,
  # repeated header keys, an empty header value and non-ASCII text
  python3 "$here/check.py" console-input "$n" >"$work/in.txt"
  console_produce "$t" "$work/in.txt"
  must "kafka-console-consumer --partition 0" "$CONSOLE_CONSUMER" --bootstrap-server "$boot" --topic "$t" \
    --partition 0 --offset earliest --max-messages "$n" --timeout-ms 30000 \
    --property print.key=true --property print.headers=true --property 'null.literal=<null>'
  cp "$work/out" "$work/got.txt"
  if ! cmp -s "$work/in.txt" "$work/got.txt"; then
    fail "consumed lines differ from produced ($(wc -l <"$work/got.txt") of $n lines; first difference: $(diff "$work/in.txt" "$work/got.txt" | grep -m1 '^[<>]' | head -c 150))"
  fi
  grep -q "Processed a total of $n messages" "$work/err" || fail "consumer: $(grep -m1 Processed "$work/err")"
}

# perf_fixture TOPIC N: a 3-partition topic filled by kafka-producer-perf-test.
perf_fixture() {
  local t="$1" n="$2"
  create_topic "$t" 3
  must "kafka-producer-perf-test" -t 120 "$PRODUCER_PERF" --topic "$t" --num-records "$n" --record-size 100 \
    --throughput -1 --producer-props "bootstrap.servers=$boot" acks=all linger.ms=5
  local last
  last="$(grep 'records sent' <<<"$OUT" | tail -1)"
  log "  $last"
  [[ "$last" == "$n records sent, "* ]] || fail "perf test summary: '$last'"
  grep -q "\] ERROR " "$work/err" && fail "perf test logged: $(grep -m1 '\] ERROR ' "$work/err" | head -c 200)"
  get_offsets "$t" -1
  [ "$OFFS_SUM" = "$n" ] || fail "latest offsets ($OFFS) add up to $OFFS_SUM, want $n"
}

case_producer_perf_test() {
  perf_fixture "$(topic_name producer_perf)" 50000
}

case_consumer_perf_test() {
  local t n=50000
  t="$(topic_name consumer_perf)"
  perf_fixture "$t" "$n"
  must "kafka-consumer-perf-test" -t "$GROUP_TIMEOUT" "$CONSUMER_PERF" --bootstrap-server "$boot" --topic "$t" \
    --group "compat-cli-perf-$run_id" --messages "$n" --timeout 20000
  local line got
  line="$(tail -1 <<<"$OUT")"
  got="$(awk -F', ' '{print $5}' <<<"$line")"
  [ "$got" = "$n" ] || fail "consumer perf test read '$got' messages, want $n ($(first_error))"
  log "  $line"
}

# verifiable_fixture TOPIC N: a 2-partition topic filled by
# kafka-verifiable-producer (acks=all, round robin); $work/acked.txt holds
# "partition offset value" for every acknowledged record.
verifiable_fixture() {
  local t="$1" n="$2"
  create_topic "$t" 2
  printf 'partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner\nlinger.ms=5\n' >"$work/vp.properties"
  must "kafka-verifiable-producer" "$VERIFIABLE_PRODUCER" --bootstrap-server "$boot" --topic "$t" \
    --max-messages "$n" --acks -1 --throughput -1 --producer.config "$work/vp.properties"
  # acked.txt: "partition offset value" per acknowledged record
  local msg
  msg="$(python3 "$here/check.py" verifiable-producer "$n" "$work/acked.txt" <"$work/out" 2>&1)"
  [ -z "$msg" ] || fail "$msg"
}

case_verifiable_producer() {
  verifiable_fixture "$(topic_name verifiable_producer)" 2000
}

# Every acked value is read back, at its acked offset, by partition
# (console consumer with --partition: no group).
case_verifiable_producer_console_check() {
  local t
  t="$(topic_name verifiable_check)"
  verifiable_fixture "$t" 2000
  : >"$work/read.txt"
  local p count
  for p in 0 1; do
    count="$(awk -v p="$p" '$1 == p' "$work/acked.txt" | wc -l)"
    must "kafka-console-consumer --partition $p" "$CONSOLE_CONSUMER" --bootstrap-server "$boot" --topic "$t" \
      --partition "$p" --offset earliest --max-messages "$count" --timeout-ms 30000 --property print.offset=true
    sed -n "s/^Offset:\([0-9]*\)	\(.*\)$/$p \1 \2/p" "$work/out" >>"$work/read.txt"
  done
  sort -k1,1n -k2,2n "$work/read.txt" >"$work/read.sorted"
  sort -k1,1n -k2,2n "$work/acked.txt" >"$work/acked.sorted"
  cmp -s "$work/read.sorted" "$work/acked.sorted" ||
    fail "read back $(wc -l <"$work/read.sorted") of $(wc -l <"$work/acked.sorted") acked records; first difference: $(diff "$work/acked.sorted" "$work/read.sorted" | grep -m1 '^[<>]')"
}

# The same check with the verifiable consumer, which uses a consumer group.
case_verifiable_consumer() {
  local t n=2000
  t="$(topic_name verifiable_consumer)"
  verifiable_fixture "$t" "$n"
  must "kafka-verifiable-consumer" -t "$GROUP_TIMEOUT" "$VERIFIABLE_CONSUMER" --bootstrap-server "$boot" \
    --topic "$t" --group-id "compat-cli-vc-$run_id" --max-messages "$n" --reset-policy earliest
  local msg
  msg="$(python3 "$here/check.py" verifiable-consumer "$work/acked.txt" <"$work/out" 2>&1)"
  [ -z "$msg" ] || fail "$msg"
}

case_consumer_groups() {
  local t g n=50
  t="$(topic_name groups)"
  g="compat-cli-group-$run_id"
  create_topic "$t" 2
  seq 0 $((n - 1)) | sed 's/.*/h:x\tkey-&\tvalue-&/' >"$work/in.txt"
  console_produce "$t" "$work/in.txt"
  must "kafka-console-consumer --group" -t "$GROUP_TIMEOUT" "$CONSOLE_CONSUMER" --bootstrap-server "$boot" \
    --topic "$t" --group "$g" --from-beginning --max-messages "$n" --timeout-ms 20000
  [ "$(wc -l <"$work/out")" = "$n" ] || fail "group console consumer printed $(wc -l <"$work/out") of $n records"
  local gc=("$CONSUMER_GROUPS" --bootstrap-server "$boot")
  must "kafka-consumer-groups --list" -t "$GROUP_TIMEOUT" "${gc[@]}" --list
  grep -qx "$g" <<<"$OUT" || fail "$g missing from --list"
  must "kafka-consumer-groups --describe" -t "$GROUP_TIMEOUT" "${gc[@]}" --describe --group "$g"
  # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
  local rows
  rows="$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t {print $3":"$4":"$5":"$6}' <<<"$OUT" | sort -n | tr '\n' ' ')"
  local ends
  get_offsets "$t" -1
  ends="$(tr ' ' '\n' <<<"$OFFS" | awk -F: '{print $1":"$2":"$2":0"}' | tr '\n' ' ')"
  [ "$rows" = "$ends" ] || fail "--describe rows (partition:current:end:lag) '$rows', want '$ends'"
  must "kafka-consumer-groups --reset-offsets" -t "$GROUP_TIMEOUT" "${gc[@]}" --reset-offsets --group "$g" \
    --topic "$t" --to-earliest --execute
  must "kafka-consumer-groups --describe" -t "$GROUP_TIMEOUT" "${gc[@]}" --describe --group "$g" --offsets
  rows="$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t {print $3":"$4}' <<<"$OUT" | sort -n | tr '\n' ' ')"
  [ "$rows" = "0:0 1:0 " ] || fail "after --reset-offsets --to-earliest: '$rows', want '0:0 1:0 '"
  must "kafka-consumer-groups --delete" -t "$GROUP_TIMEOUT" "${gc[@]}" --delete --group "$g"
  must "kafka-consumer-groups --list" -t "$GROUP_TIMEOUT" "${gc[@]}" --list
  grep -qx "$g" <<<"$OUT" && fail "$g still listed after --delete"
  return 0
}

# ---------------------------------------------------------------------------

suite_start=$SECONDS
for c in "${ALL_CASES[@]}"; do
  if [ -n "${only// /}" ] && [[ "$only" != *" $c "* ]]; then continue; fi
  rm -f "$work/fail"
  log "$c"
  t0=$SECONDS
  ( "case_$c" ) >&2
  rc=$?
  expect_fail=false
  if [ "$COMPAT_TARGET" = fjord ] && [[ "$XFAIL_ON_FJORD" == *" $c "* ]]; then expect_fail=true; fi
  if [ "$rc" -eq 0 ]; then
    if $expect_fail; then status=xfail msg=unexpected-pass; else status=pass msg=""; fi
  else
    msg="$(head -1 "$work/fail" 2>/dev/null)"
    [ -n "$msg" ] || msg="case exited with status $rc"
    if $expect_fail; then status=xfail; else status=fail; fi
  fi
  log "$c $status in $((SECONDS - t0))s"
  echo "RESULT $c $status $msg" | sed 's/ *$//'
done
log "suite took $((SECONDS - suite_start))s"
exit 0
