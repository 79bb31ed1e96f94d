#!/usr/bin/env bash
# `make fuzz`: runs each cargo-fuzz target (all of them, or those named) for FUZZ_SECONDS
# (default 120) and prints the executions of each. The committed seeds (fuzz/corpus/<target>)
# are read, never written: what libFuzzer finds goes to fuzz/target/corpus/<target>, crashes to
# fuzz/artifacts/<target> (minimise one with `cargo +nightly fuzz tmin`, then add it to
# fuzz/corpus/<target>: `make test` replays it from then on). Builds go to fuzz/target, apart
# from the workspace's and the wasm filter's. Exits 1 when a target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-120}
all=(jws jwk pem config reconcile token flow)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
export CARGO_TARGET_DIR="$PWD/fuzz/target"

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "make fuzz needs the nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
cargo +nightly fuzz build --fuzz-dir fuzz || exit 2

mkdir -p fuzz/target/logs
summary=()
failed=0
for t in "${targets[@]}"; do
    work="fuzz/target/corpus/$t"
    log="fuzz/target/logs/$t.log"
    mkdir -p "$work"
    echo "fuzz: $t for ${seconds}s (log: $log)"
    if cargo +nightly fuzz run --fuzz-dir fuzz "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=60 -print_final_stats=1 >"$log" 2>&1; then
        verdict="ok"
    else
        verdict="CRASH: see $log and fuzz/artifacts/$t"
        failed=1
    fi
    # libFuzzer's closing stats, else its last status line (`#N DONE`, or the one before a crash).
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    rate=$(grep -oE 'exec/s: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
    summary+=("$(printf '%-10s %12s executions  %6s exec/s  %s' "$t" "${execs:-?}" "${rate:-?}" "$verdict")")
done

echo
echo "fuzz: ${seconds}s per target"
printf '%s\n' "${summary[@]}"
exit "$failed"
