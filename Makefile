# sipedge: the two commands a newcomer needs are `make run` and `make test`.
# Both install the system packages they need (Debian; root or sudo).

CARGO   ?= cargo
CONFIG  ?= deploy/sipedge.toml
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test lint unit deps deps-test bench pgo fuzz clean

## Build (release) and run sipedge with the default config (UDP 127.0.0.1:5060).
run: build
	./target/release/sipedge run -c $(CONFIG)

build: deps
	$(CARGO) build --release --bin sipedge

## The whole test suite: formatting, lints, unit, property and end-to-end tests.
test: deps-test lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

# Toolchain check: the machine's one Rust toolchain (rustup) must be on PATH.
deps:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)"; exit 1; }

# SIP peers the end-to-end tests drive sipedge with.
deps-test: deps
	@{ command -v sipp && command -v sipsak && command -v svmap; } >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq sip-tester sipsak sipvicious; }

## Parser micro-benchmarks against a published Rust SIP crate (by hand, not in CI).
bench:
	$(CARGO) bench -p sipedge-bench

## Profile-guided build, target/pgo/release/sipedge (by hand, ~5 min; bench/README.md#profile-guided-build).
pgo: deps-test
	bench/pgo.sh

## Fuzz one target for a while (by hand): make fuzz TARGET=parse_message SECONDS=600
TARGET  ?= parse_message
SECONDS ?= 600
fuzz:
	fuzz/run.sh $(TARGET) $(SECONDS)

clean:
	$(CARGO) clean
