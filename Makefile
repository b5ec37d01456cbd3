# fjord: the front door. `make run` starts a single-node broker on the
# embedded defaults; `make test` runs every test that needs no external
# client; `make compat` runs the real-client matrix.

CARGO ?= cargo
SUITES ?=
TARGET ?= fjord
BENCH_ARGS ?=

.PHONY: all build run test lint compat bench bench-compare clean

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
