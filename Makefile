# fjord: the front door. `make run` starts a single-node broker on the
# embedded defaults; `make test` runs every test that needs no external
# client; `make compat` runs the real-client matrix.

CARGO ?= cargo
SUITES ?=
TARGET ?= fjord

.PHONY: all build run test lint compat compat-kafka clean

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

clean:
	$(CARGO) clean
	rm -rf target/compat
