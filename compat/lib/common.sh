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

# port_in_use PORT: true if something accepts connections on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_for_broker NAME PID PORT LOG TIMEOUT_S: wait until the process PID
# answers ApiVersions on 127.0.0.1:PORT. Fails early if PID exits.
wait_for_broker() {
  local name="$1" pid="$2" port="$3" log="$4" timeout_s="$5"
  local ping
  ping="$(dirname "${BASH_SOURCE[0]}")/broker-ping.py"
  local deadline=$((SECONDS + timeout_s))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! is_alive "$pid"; then
      echo "$name: process $pid exited during start-up; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      return 1
    fi
    if python3 "$ping" "127.0.0.1:$port" 2 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "$name: not answering on 127.0.0.1:$port after ${timeout_s}s; last lines of $log:" >&2
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

# write_server_properties FILE PORT CONTROLLER_PORT LOGDIR: the one
# server.properties both targets start from (single node, KRaft combined
# mode, node.id=1, PLAINTEXT on 127.0.0.1:PORT), so that a difference
# between fjord and Apache Kafka is never a difference of configuration.
write_server_properties() {
  cat >"$1" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$3
listeners=PLAINTEXT://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
advertised.listeners=PLAINTEXT://127.0.0.1:$2
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$4
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}
