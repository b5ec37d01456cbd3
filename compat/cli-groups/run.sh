#!/usr/bin/env bash
# cli-groups suite: Apache Kafka's console consumer with --group and
# kafka-consumer-groups (list, describe with members and lag, reset-offsets,
# delete-offsets, delete), run from the Maven jars that
# compat/lib/kafka-libs.sh resolves, against <bootstrap>. Every tool's output
# is checked against what Kafka prints.
#
# Usage: compat/cli-groups/run.sh <bootstrap> [case ...]
# Prints "RESULT <case> <pass|fail> <message>" per case on stdout; tool
# output and diagnostics go to stderr. Every tool invocation runs under
# `timeout` (COMPAT_CLI_TOOL_TIMEOUT, default 60 s), and a case stops at its
# first failed step.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="$(cd "$here/.." && pwd)"
boot="${1:?usage: run.sh <bootstrap> [case ...]}"
shift
only=" $* "
export COMPAT_TARGET="${COMPAT_TARGET:-fjord}"
run_id="$(printf '%x%04x' "$(date +%s)" $(($$ & 0xffff)))"
work="$(mktemp -d "${TMPDIR:-/tmp}/compat-cli-groups.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log() { echo "[cli-groups] $*" >&2; }

ALL_CASES=(console_consumer_group list_groups describe_members_lag reset_offsets delete_offsets delete_group)

first="${boot%%,*}"
if ! timeout 5 bash -c "exec 3<>/dev/tcp/${first%:*}/${first##*:}" 2>/dev/null; then
  log "nothing accepts connections on $first"
  for c in "${ALL_CASES[@]}"; do
    if [ $# -gt 0 ] && [[ " $* " != *" $c "* ]]; then continue; fi
    echo "RESULT $c fail cannot connect to $first"
  done
  exit 0
fi

# shellcheck source=compat/lib/kafka-libs.sh
if ! . "$compat/lib/kafka-libs.sh" >&2; then
  for c in "${ALL_CASES[@]}"; do
    echo "RESULT $c fail could not resolve the Kafka jars (compat/lib/kafka-libs.sh)"
  done
  exit 0
fi
log "Kafka tools $KAFKA_VERSION, target $COMPAT_TARGET, run $run_id"

JAVA_BIN="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
JVM_OPTS=(-Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xms64m -Xmx512m
  -Djava.awt.headless=true "-Dlog4j2.configurationFile=${COMPAT_CLI_LOG4J:-$compat/cli/log4j2-tools.properties}")
TOOL_TIMEOUT="${COMPAT_CLI_TOOL_TIMEOUT:-60}"

TOPICS=org.apache.kafka.tools.TopicCommand
GET_OFFSETS=org.apache.kafka.tools.GetOffsetShell
CONSOLE_PRODUCER=org.apache.kafka.tools.ConsoleProducer
CONSOLE_CONSUMER=org.apache.kafka.tools.consumer.ConsoleConsumer
CONSUMER_GROUPS=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand

# ---------------------------------------------------------------------------
# helpers (used inside a case's subshell)

fail() {
  printf '%s\n' "$*" >"$work/fail"
  exit 1
}

# tool [-t SECONDS] [-i INPUT_FILE] MAIN_CLASS ARGS...: run a Kafka tool;
# stdout to $work/out (also in $OUT), stderr to $work/err (also in $ERR).
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
  echo "[cli-groups]   \$ ${main##*.} $*" >&2
  timeout -k 5 "$secs" "$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$main" "$@" \
    <"$input" >"$work/out" 2>"$work/err"
  local rc=$?
  OUT="$(cat "$work/out")"
  ERR="$(cat "$work/err")"
  sed 's/^/[cli-groups]     out: /' "$work/out" | head -n 40 >&2
  sed 's/^/[cli-groups]     err: /' "$work/err" | head -n 20 >&2
  [ $rc -ne 0 ] && echo "[cli-groups]   exit $rc" >&2
  return $rc
}

# must DESCRIPTION MAIN_CLASS ARGS...: run a tool, fail the case if it fails
# or prints an "Error:" line (kafka-consumer-groups exits 0 on most errors).
must() {
  local what="$1"
  shift
  tool "$@"
  local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "$what timed out"
  elif [ $rc -ne 0 ]; then
    fail "$what exited with $rc: $(first_error)"
  fi
  if grep -q '^Error' "$work/out" "$work/err"; then
    fail "$what: $(grep -h -m1 -A1 '^Error' "$work/out" "$work/err" | tr '\n' ' ' | head -c 250)"
  fi
  return 0
}

first_error() { grep -h -m1 -iE 'error|exception' "$work/err" "$work/out" | head -c 250; }

topic_name() { echo "compat-cli-groups-${1//_/-}-$run_id"; }
group_name() { echo "compat-cli-groups-${1//_/-}-$run_id"; }

create_topic() { # create_topic NAME PARTITIONS
  must "kafka-topics --create $1" "$TOPICS" --bootstrap-server "$boot" --create --topic "$1" \
    --partitions "$2" --replication-factor 1
  grep -qx "Created topic $1." <<<"$OUT" || fail "kafka-topics --create printed: $(head -1 <<<"$OUT")"
}

# produce TOPIC FROM COUNT: COUNT keyed records "key-i<TAB>value-i" (acks=all);
# the values are appended to $work/produced-TOPIC.
produce() {
  seq "$2" $(($2 + $3 - 1)) | sed 's/.*/key-&\tvalue-&/' >"$work/in.txt"
  must "kafka-console-producer" -i "$work/in.txt" "$CONSOLE_PRODUCER" --bootstrap-server "$boot" --topic "$1" \
    --property parse.key=true --producer-property acks=all
  cut -f2 "$work/in.txt" >>"$work/produced-$1"
}

# end_offsets TOPIC: sets ENDS to "p:offset ..." sorted by partition.
end_offsets() {
  must "kafka-get-offsets" "$GET_OFFSETS" --bootstrap-server "$boot" --topic "$1" --time -1
  ENDS="$(sed -n "s/^$1:\([0-9]*\):\([0-9]*\)\$/\1:\2/p" <<<"$OUT" | sort -n | paste -sd' ')"
  [ -n "$ENDS" ] || fail "kafka-get-offsets printed no offsets for $1"
}

# consume GROUP TOPIC COUNT [ARGS...]: console consumer in GROUP reading COUNT
# records of TOPIC; they must all arrive. Their values end up in $work/consumed.
consume() {
  local g="$1" t="$2" n="$3"
  shift 3
  must "kafka-console-consumer --group $g" "$CONSOLE_CONSUMER" --bootstrap-server "$boot" --topic "$t" \
    --group "$g" --max-messages "$n" --timeout-ms 30000 "$@"
  cp "$work/out" "$work/consumed"
  [ "$(wc -l <"$work/consumed")" = "$n" ] || fail "console consumer in $g printed $(wc -l <"$work/consumed") of $n records"
  grep -q "Processed a total of $n messages" "$work/err" || fail "console consumer: $(grep -m1 Processed "$work/err")"
}

# start_member GROUP TOPIC CLIENT_ID: a console consumer in GROUP in the
# background (auto commit every 500 ms); its PID in $BG. stop_member ends it
# with SIGTERM (it closes its consumer and leaves the group).
BG=""
start_member() {
  echo "[cli-groups]   \$ ConsoleConsumer --group $1 --topic $2 (background, client.id $3)" >&2
  timeout -k 5 180 "$JAVA_BIN" "${JVM_OPTS[@]}" -cp "$KAFKA_LIBS_CP" "$CONSOLE_CONSUMER" --bootstrap-server "$boot" \
    --topic "$2" --group "$1" --from-beginning --consumer-property "client.id=$3" \
    --consumer-property auto.commit.interval.ms=500 >"$work/bg.out" 2>"$work/bg.err" &
  BG=$!
  trap stop_member EXIT
}
stop_member() {
  if [ -n "$BG" ]; then
    kill -TERM "$BG" 2>/dev/null
    wait "$BG" 2>/dev/null
    sed 's/^/[cli-groups]     background err: /' "$work/bg.err" | head -n 20 >&2
    BG=""
  fi
}

CG() { must "kafka-consumer-groups $*" "$CONSUMER_GROUPS" --bootstrap-server "$boot" "$@"; }

# rows GROUP TOPIC: the --describe (offsets) rows of TOPIC in $OUT as
# "partition:current:end:lag", sorted by partition, space-separated.
rows() {
  awk -v g="$1" -v t="$2" '$1 == g && $2 == t {print $3":"$4":"$5":"$6}' <<<"$OUT" | sort -n | paste -sd' '
}

# describe_until SECONDS GROUP COMMAND...: runs --describe GROUP (offsets)
# until COMMAND (which may read $OUT) succeeds (a group a new member is still
# joining may not exist yet).
describe_until() {
  local secs="$1" g="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  while :; do
    tool "$CONSUMER_GROUPS" --bootstrap-server "$boot" --describe --group "$g"
    "$@" && return 0
    [ $SECONDS -lt $deadline ] || return 1
    sleep 1
  done
}

# wait_state GROUP STATE SECONDS: runs --describe --state until the STATE
# column says STATE (a group a new member is still joining may not exist yet).
wait_state() {
  local deadline=$((SECONDS + $3)) state
  while :; do
    tool "$CONSUMER_GROUPS" --bootstrap-server "$boot" --describe --group "$1" --state
    state="$(awk -v g="$1" '$1 == g {print $(NF-1)}' <<<"$OUT")"
    [ "$state" = "$2" ] && return 0
    [ $SECONDS -lt $deadline ] ||
      fail "group $1 is '${state:-$(grep -h -m1 '^Error' "$work/out" "$work/err")}', not $2, after $3 s"
    sleep 1
  done
}

# want_rows GROUP TOPIC EXPECTED WHAT: the describe rows must equal EXPECTED.
want_rows() {
  local got
  got="$(rows "$1" "$2")"
  [ "$got" = "$3" ] || fail "$4: --describe rows (partition:current:end:lag) '$got', want '$3'"
}

# rows_for ENDS CURRENT...: expected rows from "p:end" pairs and per-partition
# current offsets ("p:current" pairs).
expect_rows() {
  local ends="$1" currents="$2"
  join -t: <(tr ' ' '\n' <<<"$currents" | sort -t: -k1,1) <(tr ' ' '\n' <<<"$ends" | sort -t: -k1,1) |
    sort -n | awk -F: '{print $1":"$2":"$3":"($3-$2)}' | paste -sd' '
}

# reset_plan GROUP TOPIC: the NEW-OFFSET table of --reset-offsets in $OUT as "p:offset ...".
reset_plan() {
  awk -v g="$1" -v t="$2" '$1 == g && $2 == t {print $3":"$4}' <<<"$OUT" | sort -n | paste -sd' '
}

# ---------------------------------------------------------------------------
# cases

# The console consumer in a group reads every record and commits; describe
# shows zero lag; a later run of the same group resumes after the committed
# offsets (it gets exactly the records produced since).
case_console_consumer_group() {
  local t g
  t="$(topic_name console)"
  g="$(group_name console)"
  create_topic "$t" 3
  produce "$t" 0 300
  consume "$g" "$t" 300 --from-beginning
  sort "$work/consumed" >"$work/a"
  sort "$work/produced-$t" >"$work/b"
  cmp -s "$work/a" "$work/b" || fail "consumed values differ from produced ($(comm -3 "$work/a" "$work/b" | head -3 | tr '\n' ' '))"
  end_offsets "$t"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ENDS" "$ENDS")" "after consuming everything"
  awk -v g="$g" -v t="$t" '$1 == g && $2 == t && ($7 != "-" || $8 != "-" || $9 != "-") {exit 1}' <<<"$OUT" ||
    fail "--describe of a group without members shows a consumer: $(grep -m1 "$t" <<<"$OUT")"
  grep -q "Consumer group '$g' has no active members." <<<"$ERR$OUT" || fail "--describe did not say the group has no active members"
  # Resume from the committed offsets: only the 20 new records.
  : >"$work/produced-$t"
  produce "$t" 300 20
  consume "$g" "$t" 20 --from-beginning
  sort "$work/consumed" >"$work/a"
  sort "$work/produced-$t" >"$work/b"
  cmp -s "$work/a" "$work/b" || fail "second run of the group read $(head -3 "$work/a" | tr '\n' ' ')..., want the 20 new records value-300..value-319"
}

# --list, --list --state (all, and filtered), --list --type.
case_list_groups() {
  local t g1 g2
  t="$(topic_name list)"
  g1="$(group_name list-empty)"
  g2="$(group_name list-active)"
  create_topic "$t" 2
  produce "$t" 0 20
  consume "$g1" "$t" 20 --from-beginning
  start_member "$g2" "$t" "compat-cli-groups-list-$run_id"
  wait_state "$g2" Stable 45
  CG --list
  grep -qx "$g1" <<<"$OUT" || fail "$g1 missing from --list"
  grep -qx "$g2" <<<"$OUT" || fail "$g2 missing from --list"
  CG --list --state
  grep -q '^GROUP  *STATE *$' <<<"$OUT" || fail "--list --state header: $(head -2 <<<"$OUT" | tr '\n' ' ')"
  grep -Eq "^$g1 +Empty *\$" <<<"$OUT" || fail "--list --state: $g1 is '$(grep "^$g1 " <<<"$OUT")', want Empty"
  grep -Eq "^$g2 +Stable *\$" <<<"$OUT" || fail "--list --state: $g2 is '$(grep "^$g2 " <<<"$OUT")', want Stable"
  CG --list --state stable
  grep -Eq "^$g2 +Stable *\$" <<<"$OUT" || fail "--list --state stable lacks $g2"
  grep -q "^$g1 " <<<"$OUT" && fail "--list --state stable lists the Empty group $g1"
  CG --list --type
  grep -Eq "^$g1 +Classic *\$" <<<"$OUT" || fail "--list --type: $g1 is '$(grep "^$g1 " <<<"$OUT")', want Classic"
  grep -Eq "^$g2 +Classic *\$" <<<"$OUT" || fail "--list --type: $g2 is '$(grep "^$g2 " <<<"$OUT")', want Classic"
  stop_member
}

# --describe with an active member (consumer id, host, client id), --members
# --verbose (assignment), --state (strategy, state, member count); after the
# member leaves and more records arrive, the lag of every partition is
# log-end minus committed.
case_describe_members_lag() {
  local t g cid
  t="$(topic_name describe)"
  g="$(group_name describe)"
  cid="compat-cli-groups-member-$run_id"
  create_topic "$t" 3
  produce "$t" 0 90
  end_offsets "$t"
  local ends1="$ENDS"
  start_member "$g" "$t" "$cid"
  # Until the member owns every partition and has committed everything.
  caught_up() {
    [ "$(rows "$g" "$t")" = "$(expect_rows "$ends1" "$ends1")" ] &&
      [ "$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t && $7 != "-"' <<<"$OUT" | wc -l)" = 3 ]
  }
  describe_until 60 "$g" caught_up ||
    fail "the member never committed everything: rows '$(rows "$g" "$t")', want '$(expect_rows "$ends1" "$ends1")'"
  # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
  local bad
  bad="$(awk -v g="$g" -v t="$t" -v cid="$cid" '$1 == g && $2 == t && (index($7, cid "-") != 1 || $8 != "/127.0.0.1" || $9 != cid)' <<<"$OUT")"
  [ -z "$bad" ] || fail "--describe member columns: '$(head -1 <<<"$bad")', want consumer id $cid-..., host /127.0.0.1, client id $cid"
  CG --describe --group "$g" --members --verbose
  # GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS CURRENT-EPOCH CURRENT-ASSIGNMENT TARGET-EPOCH TARGET-ASSIGNMENT
  local m
  m="$(awk -v g="$g" '$1 == g' <<<"$OUT")"
  [ "$(wc -l <<<"$m")" = 1 ] || fail "--members lists $(wc -l <<<"$m") members, want 1"
  read -r _ mid mhost mcid mparts _ massign _ <<<"$m"
  [ "$mhost" = /127.0.0.1 ] && [ "$mcid" = "$cid" ] && [ "$mparts" = 3 ] && [[ "$mid" == "$cid-"* ]] ||
    fail "--members row '$m', want consumer id $cid-..., host /127.0.0.1, client id $cid, 3 partitions"
  [ "$massign" = "$t:0,1,2" ] || fail "--members --verbose assignment '$massign', want $t:0,1,2"
  CG --describe --group "$g" --state
  # GROUP COORDINATOR (ID) ASSIGNMENT-STRATEGY STATE #MEMBERS
  m="$(awk -v g="$g" '$1 == g' <<<"$OUT")"
  read -r _ coord cid_paren strategy state members <<<"$m"
  [ "$coord" = "$boot" ] && [[ "$cid_paren" =~ ^\([0-9]+\)$ ]] && [ "$strategy" = range ] && [ "$state" = Stable ] &&
    [ "$members" = 1 ] || fail "--describe --state row '$m', want coordinator $boot (id), strategy range, Stable, 1 member"
  stop_member
  wait_state "$g" Empty 30
  produce "$t" 90 45
  end_offsets "$t"
  local ends2="$ENDS"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$ends1")" "lag after 45 more records"
  local lag
  lag="$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t {s += $6} END {print s + 0}' <<<"$OUT")"
  [ "$lag" = 45 ] || fail "total lag $lag, want 45"
}

# --reset-offsets --execute with --to-earliest, --to-datetime and --shift-by
# (each checked in --describe), --dry-run changes nothing, and a consumer
# of the group then starts at the reset offsets.
case_reset_offsets() {
  local t g
  t="$(topic_name reset)"
  g="$(group_name reset)"
  create_topic "$t" 3
  produce "$t" 0 60
  end_offsets "$t"
  local ends1="$ENDS"
  sleep 1.2
  local when
  when="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
  sleep 1.2
  produce "$t" 60 60
  end_offsets "$t"
  local ends2="$ENDS"
  consume "$g" "$t" 120 --from-beginning
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$ends2")" "before the resets"
  local rg=(--reset-offsets --group "$g" --topic "$t")

  local zeros
  zeros="$(tr ' ' '\n' <<<"$ends2" | sed 's/:.*/:0/' | paste -sd' ')"
  CG "${rg[@]}" --to-earliest --execute
  [ "$(reset_plan "$g" "$t")" = "$zeros" ] || fail "--to-earliest printed new offsets '$(reset_plan "$g" "$t")', want '$zeros'"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$zeros")" "after --to-earliest"

  CG "${rg[@]}" --to-datetime "$when" --execute
  [ "$(reset_plan "$g" "$t")" = "$ends1" ] || fail "--to-datetime $when printed new offsets '$(reset_plan "$g" "$t")', want '$ends1'"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$ends1")" "after --to-datetime $when"

  local shifted
  shifted="$(tr ' ' '\n' <<<"$ends1" | awk -F: '{o = $2 - 5; if (o < 0) o = 0; print $1":"o}' | paste -sd' ')"
  CG "${rg[@]}" --shift-by -5 --execute
  [ "$(reset_plan "$g" "$t")" = "$shifted" ] || fail "--shift-by -5 printed new offsets '$(reset_plan "$g" "$t")', want '$shifted'"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$shifted")" "after --shift-by -5"

  # --dry-run (the default) only plans: past the end is clamped to the end.
  CG "${rg[@]}" --shift-by 1000 --dry-run
  [ "$(reset_plan "$g" "$t")" = "$ends2" ] || fail "--shift-by 1000 --dry-run planned '$(reset_plan "$g" "$t")', want '$ends2'"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$shifted")" "after a --dry-run"

  # The group resumes at the reset offsets: reading the lag's worth of
  # records leaves it at the end.
  local lag
  lag="$(awk -v g="$g" -v t="$t" '$1 == g && $2 == t {s += $6} END {print s + 0}' <<<"$OUT")"
  consume "$g" "$t" "$lag"
  CG --describe --group "$g"
  want_rows "$g" "$t" "$(expect_rows "$ends2" "$ends2")" "after consuming the $lag records from the reset offsets"
}

# --delete-offsets of a topic the active group is subscribed to is refused
# per partition; of a topic it no longer consumes, it succeeds and
# --describe no longer shows that topic.
case_delete_offsets() {
  local t1 t2 g
  t1="$(topic_name delete-offsets-a)"
  t2="$(topic_name delete-offsets-b)"
  g="$(group_name delete-offsets)"
  create_topic "$t1" 2
  create_topic "$t2" 1
  produce "$t1" 0 10
  produce "$t2" 0 10
  consume "$g" "$t1" 10 --from-beginning
  consume "$g" "$t2" 10 --from-beginning
  end_offsets "$t1"
  local ends1="$ENDS"
  end_offsets "$t2"
  local ends2="$ENDS"
  CG --describe --group "$g"
  want_rows "$g" "$t1" "$(expect_rows "$ends1" "$ends1")" "$t1 before --delete-offsets"
  want_rows "$g" "$t2" "$(expect_rows "$ends2" "$ends2")" "$t2 before --delete-offsets"
  start_member "$g" "$t2" "compat-cli-groups-do-$run_id"
  wait_state "$g" Stable 45
  tool "$CONSUMER_GROUPS" --bootstrap-server "$boot" --delete-offsets --group "$g" --topic "$t2"
  grep -Eq "^$t2 +0 +Error: .*GroupSubscribedToTopicException" <<<"$OUT" ||
    fail "--delete-offsets of the subscribed topic $t2: '$(grep -m1 "^$t2 " <<<"$OUT")' $(first_error)"
  CG --delete-offsets --group "$g" --topic "$t1"
  grep -q "^Request succeeded for deleting offsets from group $g.\$" <<<"$OUT" ||
    fail "--delete-offsets $t1 printed '$(head -1 <<<"$OUT")'"
  for p in 0 1; do
    grep -Eq "^$t1 +$p +Successful *\$" <<<"$OUT" || fail "--delete-offsets $t1 partition $p: '$(grep "^$t1 +$p " <<<"$OUT")'"
  done
  CG --describe --group "$g"
  [ -z "$(rows "$g" "$t1")" ] || fail "--describe still shows $t1 after --delete-offsets: $(rows "$g" "$t1")"
  [ -n "$(rows "$g" "$t2")" ] || fail "--describe lost $t2 after deleting the offsets of $t1"
  stop_member
}

# --delete refuses a group with members, deletes an empty one (gone from
# --list and --describe), and refuses an unknown one.
case_delete_group() {
  local t g
  t="$(topic_name delete)"
  g="$(group_name delete)"
  create_topic "$t" 2
  produce "$t" 0 10
  start_member "$g" "$t" "compat-cli-groups-del-$run_id"
  wait_state "$g" Stable 45
  tool "$CONSUMER_GROUPS" --bootstrap-server "$boot" --delete --group "$g"
  grep -q "Group '$g' could not be deleted due to: .*GroupNotEmptyException" <<<"$OUT$ERR" ||
    fail "--delete of a group with a member: $(grep -h -m2 -A1 '^Error' "$work/out" "$work/err" | tr '\n' ' ' | head -c 250)"
  stop_member
  wait_state "$g" Empty 30
  CG --delete --group "$g"
  grep -q "^Deletion of requested consumer groups ('$g') was successful.\$" <<<"$OUT" ||
    fail "--delete printed '$(head -1 <<<"$OUT")'"
  CG --list
  grep -qx "$g" <<<"$OUT" && fail "$g still listed after --delete"
  tool "$CONSUMER_GROUPS" --bootstrap-server "$boot" --describe --group "$g"
  # Kafka 4.x: GROUP_ID_NOT_FOUND; earlier brokers described a Dead group, which the tool reports as missing.
  grep -Eq "GroupIdNotFoundException|Consumer group '$g' does not exist" <<<"$OUT$ERR" ||
    fail "--describe of the deleted group: $(grep -h -m1 -v '^$' "$work/out" "$work/err" | head -c 200)"
  tool "$CONSUMER_GROUPS" --bootstrap-server "$boot" --delete --group "$g"
  grep -q "Group '$g' could not be deleted due to: .*GroupIdNotFoundException" <<<"$OUT$ERR" ||
    fail "--delete of an unknown group: $(grep -h -m2 -A1 '^Error' "$work/out" "$work/err" | tr '\n' ' ' | head -c 250)"
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
  if [ "$rc" -eq 0 ]; then
    status=pass msg=""
  else
    status=fail
    msg="$(head -1 "$work/fail" 2>/dev/null)"
    [ -n "$msg" ] || msg="case exited with status $rc"
  fi
  log "$c $status in $((SECONDS - t0))s"
  echo "RESULT $c $status $msg" | sed 's/ *$//'
done
log "suite took $((SECONDS - suite_start))s"
exit 0
