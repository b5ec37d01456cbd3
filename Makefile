# fjord: the front door. `make run` starts a single-node broker on the
# embedded defaults; `make test` runs every test that needs no external
# client; `make compat` runs the real-client matrix.

CARGO ?= cargo
SUITES ?=
TARGET ?= fjord
BENCH_ARGS ?=
FAULT_SEED ?=
FAULT_PROFILE ?= default
FAULT_NODES ?= 3

.PHONY: all build run test lint compat cluster-test docker-test fault-test fault-check-test bench bench-compare clean

all: build

build:
	$(CARGO) build --release

run: build
	./target/release/fjord $(ARGS)

# Unit tests, in-process integration and crash tests (tests/), and wire
# conformance (proto-tests/). Everything they need comes from crates.io.
test:
	$(CARGO) test --all-targets

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Real clients against a fresh broker: `make compat SUITES=java,cli TARGET=kafka`.
compat: build
	SUITES="$(SUITES)" TARGET="$(TARGET)" compat/run

# Three-node KRaft cluster scenario (form, propagate, produce/consume across
# leaders, group coordinator on node 3, leader SIGKILL and failover, rejoin,
# broker-only node, wiped node): `make cluster-test TARGET=kafka` proves it on
# Apache Kafka. See compat/README.md, "Clusters". Kafka needs no cargo build.
cluster-test: $(if $(filter fjord,$(TARGET)),build)
	compat/cluster/scenario.sh $(TARGET)

# The container image, tested for real from nothing (as root: installs
# docker.io, debootstrap and docker-compose if missing, starts dockerd if none
# runs and stops it after): no-config, mounted config, apache/kafka's
# environment with the Java client, both compose stacks, testcontainers for
# Java and Rust. See docker/test/run.sh and README, "Docker".
docker-test:
	docker/test/run.sh

# The fault harness (fault/README.md): a 3- or 5-node cluster behind a
# fault-injecting TCP proxy, idempotent acks=all producers and group
# consumers, SIGKILL/SIGSTOP/restarts and link cuts, delays and one-way drops
# from a seeded random schedule, then a checker over every replica's segment
# files. `make fault-test TARGET=kafka FAULT_PROFILE=short FAULT_SEED=42`.
fault-test: fault-check-test $(if $(filter fjord,$(TARGET)),build)
	TARGET="$(TARGET)" FAULT_SEED="$(FAULT_SEED)" FAULT_PROFILE="$(FAULT_PROFILE)" FAULT_NODES="$(FAULT_NODES)" python3 fault/run.py

# The harness's own tests: the checker on synthetic segment files (each
# counter fires) and the proxy against an echo server (ports 39490-39491).
fault-check-test:
	python3 -m unittest fault/test_check.py fault/test_proxy.py

# criterion micro-benchmarks of the hot path (benches/*.rs); a quick pass:
# `make bench BENCH_ARGS="--warm-up-time 1 --measurement-time 3"`.
bench:
	$(CARGO) bench --bench protocol --bench log -- $(BENCH_ARGS)

# The same loads against Apache Kafka 4.1 and fjord, one after the other,
# broker on CPU 0 and load generator on CPU 1: prints the fjord/Kafka table
# and writes target/bench/compare.{md,csv,png}. See benches/compare/README.md.
bench-compare: build
	benches/compare/run.sh

clean:
	$(CARGO) clean
	rm -rf target/compat
