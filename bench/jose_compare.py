#!/usr/bin/env python3
"""JOSE sign/verify per algorithm, native and inside wasm (V8, bench/v8.py), side by side in one run.

Runs examples/jose_bench natively and as wasm32-wasip1 under bench/wasi_run.mjs, and gives
microseconds per operation with the wasm/native ratio. `make bench` (bench/run.py) puts the table
in bench/results.md; run alone, this prints it. Optional argument: measuring time per operation
in ms (default 300, or BENCH_JOSE_MS).
"""
import math
import os
import subprocess
import sys

import v8

ROOT = v8.ROOT
TARGET_DIR = v8.TARGET_DIR


def parse(out):
    """jose_bench's output: `ALG SIGN_US VERIFY_US ...` lines, `#` comments skipped."""
    rows = {}
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        alg, sign, verify, *_ = line.split()
        rows[alg] = (float(sign), float(verify))
    return rows


def run(cmd):
    return parse(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout)


def measure(ms):
    """(native, wasm): {alg: (sign_us, verify_us)} for each build of examples/jose_bench."""
    cargo = ["cargo", "build", "--quiet", "--release", "-p", "jwt-relay-core", "--example", "jose_bench"]
    # One build at a time: the machine may be shared with other compilations.
    subprocess.run(cargo, cwd=ROOT, check=True)
    subprocess.run(cargo + ["--target", "wasm32-wasip1"], cwd=ROOT, check=True)
    native = run([os.path.join(TARGET_DIR, "release/examples/jose_bench"), "--ms", str(ms)])
    wasm = run([*v8.node(), "bench/wasi_run.mjs",
                os.path.join(TARGET_DIR, "wasm32-wasip1/release/examples/jose_bench.wasm"), "--ms", str(ms)])
    return native, wasm


def ratio(a, b):
    return a / b if b and not math.isnan(a) and not math.isnan(b) else float("nan")


def table(native, wasm):
    """Markdown lines: µs per operation, native and in wasm, with the wasm/native ratio."""
    lines = ["| alg | sign native µs | sign wasm µs | × | verify native µs | verify wasm µs | × |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    nan = (float("nan"), float("nan"))
    for alg, (ns, nv) in native.items():
        ws, wv = wasm.get(alg, nan)
        lines.append(f"| {alg} | {ns:.1f} | {ws:.1f} | {ratio(ws, ns):.1f} | "
                     f"{nv:.1f} | {wv:.1f} | {ratio(wv, nv):.1f} |")
    rs = wasm.get("RS256", nan)[0]
    crate = wasm.get("RS256/rsa-crate", nan)[0]
    lines += ["", f"RS256 signing in wasm: {rs / 1000:.2f} ms per token on the filter's kernel; "
                  f"the `rsa` crate's private operation takes {crate / 1000:.2f} ms ({ratio(crate, rs):.1f}×)."]
    return lines


def main():
    ms = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_JOSE_MS", "300")
    print("JOSE micro-benchmark (µs per operation; wasm = wasm32-wasip1 in V8, bench/v8.py)\n")
    print("\n".join(table(*measure(ms))))


if __name__ == "__main__":
    main()
