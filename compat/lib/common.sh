# Helpers shared by the compat/lib start/stop scripts. Source, don't run.

# free_loopback_port: print a TCP port on 127.0.0.1 that is free right now.
free_loopback_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# is_alive PID: true if PID runs and is not a zombie (a zombie left by a
# parent that does not reap counts as exited).
is_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]
}

# host_port PORT|HOST:PORT: a bare port means 127.0.0.1:PORT.
host_port() {
  case "$1" in *:*) echo "$1" ;; *) echo "127.0.0.1:$1" ;; esac
}

# port_in_use PORT|HOST:PORT: true if something accepts connections there
# (a bare port is on 127.0.0.1).
port_in_use() {
  local a
  a="$(host_port "$1")"
  (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2>/dev/null
}

# wait_for_broker NAME PID PORT|HOST:PORT LOG TIMEOUT_S: wait until the
# process PID answers ApiVersions there (a bare port is on 127.0.0.1).
# Fails early if PID exits.
wait_for_broker() {
  local name="$1" pid="$2" port log="$4" timeout_s="$5"
  port="$(host_port "$3")"
  local ping
  ping="$(dirname "${BASH_SOURCE[0]}")/broker-ping.py"
  local deadline=$((SECONDS + timeout_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! is_alive "$pid"; then
      echo "$name: process $pid exited during start-up; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    if python3 "$ping" "$port" 2 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "$name: not answering on $port after ${timeout_s}s; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  return 1
}

# stop_by_pidfile NAME PIDFILE TIMEOUT_S MARK: SIGTERM the process named in
# PIDFILE, wait up to TIMEOUT_S for it to exit, then SIGKILL it. MARK must
# occur in the process's command line, so that a PID reused by some other
# process after ours exited is left alone.
stop_by_pidfile() {
  local name="$1" pidfile="$2" timeout_s="$3" mark="$4"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && is_alive "$pid" \
      && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$mark"; then
    kill -TERM "$pid" 2>/dev/null || true
    kill -CONT "$pid" 2>/dev/null || true # a stopped (SIGSTOP) process handles SIGTERM only once continued
    local deadline=$((SECONDS + timeout_s))
    while is_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.2
    done
    if is_alive "$pid"; then
      echo "$name: pid $pid still running after ${timeout_s}s, sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 10))
      while is_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    fi
  fi
  rm -f "$pidfile"
}

# kill_by_pidfile NAME PIDFILE MARK: SIGKILL the process named in PIDFILE
# at once (a crash: no shutdown hook, no flush, no clean close of the log),
# wait until it is gone (at most 10 s) and remove PIDFILE. MARK as for
# stop_by_pidfile.
kill_by_pidfile() {
  local name="$1" pidfile="$2" mark="$3"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && is_alive "$pid" \
      && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$mark"; then
    kill -KILL "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while is_alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if is_alive "$pid"; then
      echo "$name: pid $pid still alive 10 s after SIGKILL" >&2
      return 1
    fi
    echo "$name: killed pid $pid (SIGKILL)" >&2
  fi
  rm -f "$pidfile"
}

# driver_broker_datadir ROOT TARGET BOOTSTRAP: print the data dir of the
# broker compat/run started (ROOT/target/compat/TARGET-data) when its PID file
# names a live process started from that dir's server.properties with a
# listener on BOOTSTRAP's port; print nothing (status 1) otherwise (a suite
# run by hand against some other broker).
driver_broker_datadir() {
  local root="$1" target="$2" port="${3##*:}"
  local datadir="$root/target/compat/$target-data" pid cmdline
  pid="$(cat "$datadir/$target.pid" 2>/dev/null || echo 0)"
  [ "$pid" != 0 ] && is_alive "$pid" || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  # Both targets start from DATADIR/server.properties (write_server_properties).
  [[ "$cmdline" == *"$datadir/server.properties"* ]] || return 1
  grep -q "^listeners=PLAINTEXT://127.0.0.1:$port," "$datadir/server.properties" 2>/dev/null || return 1
  echo "$datadir"
}

# restartable_broker TARGET BOOTSTRAP ROOT LABEL: picks the broker a case
# that kills and restarts a broker may use, and sets
#   RESTART_BOOTSTRAP     its bootstrap address
#   RESTART_KILL_CMD      a shell command that SIGKILLs it and starts it again
#                         on the same port and data dir (lib/broker-restart.sh ... kill)
#   RESTART_PRIVATE_DIR   "" or the data dir of a private broker started here
# The broker compat/run started (driver_broker_datadir) when there is one;
# otherwise (a suite run by hand) a private broker of TARGET on a free port
# with a data dir of its own, which the caller stops and removes with
# restartable_cleanup. Returns 1 (and sets nothing) if no broker could be had.
restartable_broker() {
  local target="$1" bootstrap="$2" root="$3" label="$4" lib datadir port
  lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  RESTART_BOOTSTRAP="" RESTART_KILL_CMD="" RESTART_PRIVATE_DIR=""
  if datadir="$(driver_broker_datadir "$root" "$target" "$bootstrap")"; then
    port="${bootstrap##*:}"
    echo "$label: the restart case kills and restarts the driver's $target (${datadir#"$root"/})" >&2
    RESTART_BOOTSTRAP="$bootstrap"
    RESTART_KILL_CMD="$lib/broker-restart.sh $target $port $datadir kill"
    return 0
  fi
  datadir="$(mktemp -d "${TMPDIR:-/tmp}/compat-$label-$target.XXXXXX")"
  port="$(free_loopback_port)"
  echo "$label: no driver-started broker on $bootstrap; the restart case uses a private $target on 127.0.0.1:$port ($datadir)" >&2
  if ! "$lib/$target-start.sh" "$port" "$datadir" >&2; then
    echo "$label: the private $target did not start" >&2
    "$lib/$target-stop.sh" "$datadir" >&2 || true
    rm -rf "$datadir"
    return 1
  fi
  RESTART_PRIVATE_DIR="$datadir"
  RESTART_BOOTSTRAP="127.0.0.1:$port"
  RESTART_KILL_CMD="$lib/broker-restart.sh $target $port $datadir kill"
}

# restartable_cleanup TARGET: stops and removes the private broker
# restartable_broker started, if any.
restartable_cleanup() {
  [ -n "${RESTART_PRIVATE_DIR:-}" ] || return 0
  "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$1-stop.sh" "$RESTART_PRIVATE_DIR" >&2 || true
  rm -rf "$RESTART_PRIVATE_DIR"
  RESTART_PRIVATE_DIR=""
}

# write_server_properties FILE PORT CONTROLLER_PORT LOGDIR: the one
# server.properties both targets start from (single node, KRaft combined
# mode, node.id=1, PLAINTEXT on 127.0.0.1:PORT), so that a difference
# between fjord and Apache Kafka is never a difference of configuration.
write_server_properties() {
  write_node_properties "$1" 1 broker,controller "$2" "$3" "1@127.0.0.1:$3" "$4" 1
}

# write_node_properties FILE NODE_ID ROLES PORT CONTROLLER_PORT VOTERS LOGDIR INTERNAL_RF:
# one node of a KRaft cluster, as both targets read it (compat/lib/cluster-*.sh
# and, for a single node, write_server_properties).
#   ROLES            broker,controller (combined) or broker (broker-only; it
#                    has no CONTROLLER listener and CONTROLLER_PORT is ignored)
#   VOTERS           controller.quorum.voters, e.g. 1@127.0.0.1:C1,2@127.0.0.1:C2
#   INTERNAL_RF      replication factor of __consumer_offsets and of the
#                    transaction and share-state logs (1 for a single node,
#                    3 for a cluster of three or more); their min ISR is 1.
write_node_properties() {
  local file="$1" id="$2" roles="$3" port="$4" cport="$5" voters="$6" logdir="$7" rf="$8"
  local listeners="PLAINTEXT://127.0.0.1:$port"
  [ "$roles" = broker ] || listeners="$listeners,CONTROLLER://127.0.0.1:$cport"
  cat >"$file" <<PROPS
process.roles=$roles
node.id=$id
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$logdir
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}

# write_fault_node_properties FILE NODE_ID N BASE LOGDIR INTERNAL_RF: one
# combined node of an N-node cluster (N <= 5) laid out for the fault harness
# (fault/README.md): node i binds every listener on its own loopback address
# 127.0.0.i and advertises the fault proxy's addresses, so that every byte
# between clients and nodes and between nodes goes through the proxy.
#   real listeners of node i, on 127.0.0.i:
#     CLIENT      BASE        clients
#     CONTROLLER  BASE+1      KRaft (votes, metadata fetches, broker heartbeats)
#     FROMk       BASE+10+k   inter-broker traffic from node k (replica fetches)
#   the proxy, also on 127.0.0.i, forwards to them:
#     BASE+20     -> CLIENT       (path c>i, advertised as CLIENT)
#     BASE+30+k   -> FROMk        (path k>i, advertised as FROMk)
#     BASE+40+k   -> CONTROLLER   (path k>i, node k's controller.quorum.voters)
# Node k sets inter.broker.listener.name=FROMk, so it reaches every other
# broker at the address that broker advertises for FROMk: the proxy knows
# the source of each connection from the address it was made to.
write_fault_node_properties() {
  local file="$1" id="$2" n="$3" base="$4" logdir="$5" rf="$6"
  local me="127.0.0.$id" k voters="" listeners adv map
  listeners="CLIENT://$me:$base,CONTROLLER://$me:$((base + 1))"
  adv="CLIENT://$me:$((base + 20))"
  map="CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  for ((k = 1; k <= n; k++)); do
    listeners="$listeners,FROM$k://$me:$((base + 10 + k))"
    adv="$adv,FROM$k://$me:$((base + 30 + k))"
    map="$map,FROM$k:PLAINTEXT"
    voters="${voters:+$voters,}$k@127.0.0.$k:$((base + 40 + id))"
  done
  cat >"$file" <<PROPS
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$adv
listener.security.protocol.map=$map
controller.listener.names=CONTROLLER
inter.broker.listener.name=FROM$id
log.dirs=$logdir
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}
