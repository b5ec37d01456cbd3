#!/usr/bin/env bash
# docker/test/run.sh (`make docker-test`): the fjord image, tested for real
# from nothing, as root (CI runs it on a fresh machine):
#
#   setup   installs docker.io, debootstrap and docker-compose (Debian's
#           packages) if missing; starts dockerd if none answers (and stops
#           it, by PID, on exit); builds the base image fjord-base:bookworm
#           with debootstrap (kept: skipped when it exists), since no image
#           can be pulled here; builds fjord with `cargo build --release` and
#           the images fjord:test (target runtime-prebuilt, the host's binary)
#           and fjord-client:test (kcat)
#   1 no-config       the image with no configuration at all; the client
#                     runs in the broker container's network namespace, so
#                     the default port 9092 cannot clash with anything
#   2 mounted-config  /mnt/shared/config/server.properties is read
#   3 apache-env      apache/kafka's single-node example variables (ports
#                     moved into 39110-39112), the Java client cases of
#                     compat/java through the mapped port
#   4 compose         docker/compose.yaml and docker/compose-cluster.yaml
#                     `up`: the client service's exit code
#   5 testcontainers-java  org.testcontainers.kafka.KafkaContainer with
#                     fjord:test as a compatible substitute for apache/kafka
#   6 testcontainers-rs    testcontainers-modules' apache Kafka module with
#                     fjord:test (docker/testcontainers-rs)
#
# Each step is bounded in time; every container it starts is removed on exit.
# Host ports: 39110-39165 (FJORD_DOCKER_PORT_BASE moves them; a port taken
# at the moment is retried 20 higher); testcontainers
# maps ephemeral ones. Env: DOCKER_TEST_ONLY (a regex of test names).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
work="$root/target/docker-test"
mkdir -p "$work"
base_port="${FJORD_DOCKER_PORT_BASE:-39110}"
only="${DOCKER_TEST_ONLY:-.}"
image=fjord:test
client_image=fjord-client:test
base_image=fjord-base:bookworm
label=dev.fjord.docker-test

t0=$SECONDS
phase_start=$SECONDS
timings=()
passed=0
failed=0
failures=()
started_dockerd=""

log() { echo "docker-test: $*" >&2; }
phase_done() {
  local took=$((SECONDS - phase_start))
  timings+=("$(printf '%-22s %4ss' "$1" "$took")")
  log "$1 took ${took}s"
  phase_start=$SECONDS
}

compose_cmd=()
compose() { "${compose_cmd[@]}" "$@"; }

cleanup() {
  local status=$?
  set +e
  if [ -n "${compose_cmd[*]:-}" ] && docker info >/dev/null 2>&1; then
    for p in single cluster; do
      FJORD_IMAGE=$image FJORD_CLIENT_IMAGE=$client_image \
        timeout 60 "${compose_cmd[@]}" -p "fjord-docker-test-$p" -f "docker/compose$([ $p = cluster ] && echo -cluster).yaml" \
        down -v --remove-orphans >/dev/null 2>&1
    done
  fi
  if docker info >/dev/null 2>&1; then
    local ids
    ids=$( (docker ps -aq --filter "label=$label"; docker ps -aq --filter "label=org.testcontainers=true") | sort -u)
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  fi
  if [ -n "$started_dockerd" ]; then
    log "stopping the dockerd this run started (pid $started_dockerd)"
    kill -TERM "$started_dockerd" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$started_dockerd" 2>/dev/null
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- setup -----------------------------------------------------------------

need_pkgs=()
command -v dockerd >/dev/null || need_pkgs+=(docker.io)
command -v debootstrap >/dev/null || need_pkgs+=(debootstrap)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  # Debian has Compose v1 (docker-compose, Python); the v2 plugin is not packaged.
  need_pkgs+=(docker-compose)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "need root to install ${need_pkgs[*]}"; exit 2; }
  log "installing ${need_pkgs[*]}"
  timeout 300 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
if docker compose version >/dev/null 2>&1; then compose_cmd=(docker compose); else compose_cmd=(docker-compose); fi
phase_done "packages"

if ! timeout 20 docker info >/dev/null 2>&1; then
  log "starting dockerd (log: $work/dockerd.log)"
  dockerd --pidfile "$work/dockerd.pid" >"$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 120); do
    timeout 5 docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || { log "dockerd exited:"; tail -20 "$work/dockerd.log" >&2; exit 1; }
    sleep 0.5
  done
  timeout 5 docker info >/dev/null 2>&1 || { log "dockerd did not answer within 60s"; exit 1; }
fi
phase_done "dockerd"

if ! docker image inspect "$base_image" >/dev/null 2>&1; then
  # debian:bookworm-slim's equivalent, from Debian's packages: minbase,
  # without documentation, locales or package lists.
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  log "debootstrap bookworm ${mirror:-(the default mirror)}"
  timeout 900 debootstrap --variant=minbase bookworm "$rootfs" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  tar -C "$rootfs" -c . | docker import - "$base_image" >/dev/null
  rm -rf "$rootfs"
fi
phase_done "base image"

timeout 1800 cargo build --release --bin fjord
mkdir -p target/docker
strip -o target/docker/fjord target/release/fjord
phase_done "cargo build"

# --network host: the client image's apt-get reaches Debian's packages the
# way the host does.
timeout 600 docker build -q -f docker/Dockerfile --target runtime-prebuilt \
  --build-arg BASE_IMAGE="$base_image" -t "$image" . >/dev/null
timeout 600 docker build -q --network host --build-arg BASE_IMAGE="$base_image" \
  -t "$client_image" docker/client >/dev/null
image_bytes=$(docker save "$image" | gzip | wc -c)
image_mb=$(awk -v b="$image_bytes" 'BEGIN { printf "%.1f", b / 1048576 }')
unpacked_mb=$(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.1f", $1 / 1048576 }')
log "$image: $unpacked_mb MB unpacked, $image_mb MB compressed (docker save, gzip)"
phase_done "images"

# --- the tests ---------------------------------------------------------------

# run_test NAME FUNCTION: runs one test, counts it, records its time.
run_test() {
  local name="$1" fn="$2"
  [[ "$name" =~ $only ]] || return 0
  log "--- $name"
  local status=0
  # In the background, not in `|| ...`: errexit holds inside it.
  ( set -euo pipefail; "$fn" ) >"$work/$name.log" 2>&1 &
  wait $! || status=$?
  if [ "$status" -eq 0 ]; then
    passed=$((passed + 1))
    log "$name: pass ($(grep -hE 'OK|test result: ok\. [1-9]' "$work/$name.log" | tail -1))"
  else
    failed=$((failed + 1))
    failures+=("$name")
    log "$name: FAIL (status $status), last lines of $work/$name.log:"
    tail -25 "$work/$name.log" >&2
  fi
  phase_done "$name"
}

# wait_healthy CONTAINER SECONDS: the image's HEALTHCHECK says healthy.
wait_healthy() {
  local c="$1" limit="$2" s=""
  for _ in $(seq 1 $((limit * 2))); do
    s=$(docker inspect -f '{{.State.Health.Status}}' "$c")
    [ "$s" = healthy ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] || break
    sleep 0.5
  done
  echo "container $c is not healthy ($s); its log:"
  docker logs "$c" 2>&1 | tail -30
  return 1
}

test_no_config() {
  local c=fjord-docker-test-noconfig
  docker run -d --name "$c" --label "$label" "$image" >/dev/null
  wait_healthy "$c" 60
  docker logs "$c" >"$work/no-config.broker.log" 2>&1
  grep -q 'Transitioning from RECOVERY to RUNNING' "$work/no-config.broker.log"
  grep -q 'Kafka Server started' "$work/no-config.broker.log"
  grep 'fjord started' "$work/no-config.broker.log"
  # The client shares the broker's network namespace: localhost:9092 is
  # the broker's own default listener, advertised as localhost:9092.
  timeout 120 docker run --rm --label "$label" --network "container:$c" "$client_image"
}

test_mounted_config() {
  local c=fjord-docker-test-mounted conf="$work/mounted-config"
  rm -rf "$conf"; mkdir -p "$conf"
  printf '%s\n' 'num.partitions=5' 'listeners=PLAINTEXT://:9092,CONTROLLER://:9093' \
    'controller.listener.names=CONTROLLER' 'controller.quorum.voters=1@localhost:9093' \
    'node.id=1' 'process.roles=broker,controller' > "$conf/server.properties"
  chmod -R a+rX "$conf"
  docker run -d --name "$c" --label "$label" -v "$conf:/mnt/shared/config:ro" -e KAFKA_NODE_ID=1 "$image" >/dev/null
  wait_healthy "$c" 60
  timeout 120 docker run --rm --label "$label" --network "container:$c" -e TOPIC=mounted "$client_image" | tee "$work/mounted.out"
  grep -q 'through mounted (5 partition(s))' "$work/mounted.out"
  docker exec "$c" sh -c 'test -f /var/lib/kafka/data/meta.properties'
}

# apache_env_run CONTAINER HOST_PORT INTERNAL_PORT CONTROLLER_PORT:
# apache/kafka's docker/examples single-node plaintext compose file, as
# docker run flags; only the ports differ.
apache_env_run() {
  local c="$1" host_port="$2" internal="$3" controller="$4"
  docker run -d --name "$c" --label "$label" --hostname broker -p "127.0.0.1:$host_port:$host_port" \
    -e KAFKA_NODE_ID=1 \
    -e KAFKA_LISTENER_SECURITY_PROTOCOL_MAP='CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT' \
    -e KAFKA_ADVERTISED_LISTENERS="PLAINTEXT_HOST://localhost:$host_port,PLAINTEXT://broker:$internal" \
    -e KAFKA_PROCESS_ROLES='broker,controller' \
    -e KAFKA_CONTROLLER_QUORUM_VOTERS="1@broker:$controller" \
    -e KAFKA_LISTENERS="CONTROLLER://:$controller,PLAINTEXT_HOST://:$host_port,PLAINTEXT://:$internal" \
    -e KAFKA_INTER_BROKER_LISTENER_NAME='PLAINTEXT' \
    -e KAFKA_CONTROLLER_LISTENER_NAMES='CONTROLLER' \
    -e CLUSTER_ID='4L6g3nShT-eMCtK--X86sw' \
    -e KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1 \
    -e KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0 \
    -e KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1 \
    -e KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1 \
    -e KAFKA_LOG_DIRS='/tmp/kraft-combined-logs' \
    "$image" >/dev/null
}

test_apache_env() {
  local c=fjord-docker-test-apache attempt host_port internal controller
  # Host ports lie in the ephemeral range: one may be some client socket's
  # at the moment, and then the next ports (20 higher) are tried.
  for attempt in 0 1 2; do
    host_port=$((base_port + attempt * 20)) internal=$((base_port + attempt * 20 + 1))
    controller=$((base_port + attempt * 20 + 2))
    docker rm -f "$c" >/dev/null 2>&1 || true
    apache_env_run "$c" "$host_port" "$internal" "$controller" && break
    [ "$attempt" -lt 2 ] || return 1
  done
  wait_healthy "$c" 60
  docker logs "$c" >"$work/apache-env.broker.log" 2>&1
  grep -q 'cluster_id=4L6g3nShT-eMCtK--X86sw' "$work/apache-env.broker.log"
  local out="$work/apache-env.results"
  COMPAT_TARGET=fjord COMPAT_JAVA_LINES=4 \
    COMPAT_JAVA_ONLY='^(produce-consume-default|produce-consume-zstd|group-subscribe-commit|consumer-seek)$' \
    timeout 600 compat/java/run.sh "localhost:$host_port" | tee "$out"
  local n_pass n_all
  n_pass=$(grep -c '^RESULT .* pass' "$out" || true)
  n_all=$(grep -c '^RESULT ' "$out" || true)
  [ "$n_all" -eq 4 ] && [ "$n_pass" -eq 4 ]
  echo "OK: $n_pass Java client cases through $image configured as apache/kafka's single-node example"
}

compose_up() {
  local project="$1" file="$2"
  shift 2
  local status=0
  env FJORD_IMAGE="$image" FJORD_CLIENT_IMAGE="$client_image" "$@" \
    timeout 300 "${compose_cmd[@]}" -p "$project" -f "$file" up --no-build --exit-code-from client || status=$?
  FJORD_IMAGE="$image" FJORD_CLIENT_IMAGE="$client_image" \
    timeout 120 "${compose_cmd[@]}" -p "$project" -f "$file" down -v >/dev/null 2>&1 || true
  return "$status"
}

test_compose() {
  local attempt p out
  # As in apache-env, a host port may be taken at the moment: next ports then.
  for attempt in 0 1 2; do
    p=$((base_port + 10 + attempt * 20)) out="$work/compose-single.out"
    compose_up fjord-docker-test-single docker/compose.yaml FJORD_PORT="$p" 2>&1 | tee "$out" && break
    grep -q 'address already in use' "$out" && [ "$attempt" -lt 2 ] || return 1
  done
  grep -q 'roundtrip: OK' "$out"
  for attempt in 0 1 2; do
    p=$((base_port + 11 + attempt * 20)) out="$work/compose-cluster.out"
    compose_up fjord-docker-test-cluster docker/compose-cluster.yaml \
      FJORD_PORT_1="$p" FJORD_PORT_2=$((p + 1)) FJORD_PORT_3=$((p + 2)) 2>&1 | tee "$out" && break
    grep -q 'address already in use' "$out" && [ "$attempt" -lt 2 ] || return 1
  done
  # All three brokers are in the client's Metadata, and each partition of
  # the topic has three replicas, all in sync.
  [ "$(grep -o 'broker [123] at fjord-[123]:19092' "$out" | sort -u | wc -l)" -eq 3 ]
  [ "$(grep -Ec 'replicas: [123],[123],[123], isrs: [123],[123],[123]' "$out")" -eq 3 ]
  grep -q 'roundtrip: OK' "$out"
  echo "OK: compose.yaml and compose-cluster.yaml served their client"
}

# testcontainers on this machine: the engine maps ports (bridge networking
# works), so KafkaContainer runs as it does anywhere. What it needs here:
# no Ryuk (it cannot be pulled), no start-up checks, and the host given
# outright (this machine has /.dockerenv, which makes testcontainers look
# for a gateway with an alpine container it cannot pull).
export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_CHECKS_DISABLE=true TESTCONTAINERS_HOST_OVERRIDE=localhost

test_testcontainers_java() {
  local dir="$root/compat/java"
  timeout 600 mvn -q -B -f "$dir/pom.xml" -Pdocker package
  timeout 300 java -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    -cp "$dir/target/docker/compat-java.jar:$dir/target/docker/lib/*" \
    dev.fjord.compat.docker.TestcontainersKafka "$image"
}

test_testcontainers_rs() {
  FJORD_IMAGE="$image" timeout 1500 cargo test --locked --manifest-path docker/testcontainers-rs/Cargo.toml
}

run_test no-config test_no_config
run_test mounted-config test_mounted_config
run_test apache-env test_apache_env
run_test compose test_compose
run_test testcontainers-java test_testcontainers_java
run_test testcontainers-rs test_testcontainers_rs

echo
echo "docker-test phases:"
printf '  %s\n' "${timings[@]}"
printf '  %-22s %4ss\n' total $((SECONDS - t0))
echo "docker-test: $image is ${image_mb} MB compressed (apache/kafka: ~400 MB)"
[ "$failed" -eq 0 ] || echo "docker-test: failed: ${failures[*]} (logs in $work/)"
echo "docker-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
