#!/usr/bin/env python3
"""JOSE sign/verify per algorithm, native and inside wasm (Node's V8), side by side in one run.

Runs examples/jose_bench natively and as wasm32-wasip1 under bench/wasi_run.mjs, then prints
microseconds per operation and the wasm/native ratio. The filter's goal is RS256 signing at or
below 2.5 ms per token inside V8.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOAL_RS256_SIGN_US = 2500.0


def run(cmd):
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        alg, sign, verify, *_ = line.split()
        rows[alg] = (float(sign), float(verify))
    return rows


def main():
    ms = sys.argv[1] if len(sys.argv) > 1 else "300"
    cargo = ["cargo", "build", "--quiet", "--release", "--example", "jose_bench"]
    subprocess.run(cargo, cwd=ROOT, check=True)
    subprocess.run(cargo + ["--target", "wasm32-wasip1"], cwd=ROOT, check=True)
    native = run(["target/release/examples/jose_bench", "--ms", ms])
    wasm = run(["node", "--no-warnings", "bench/wasi_run.mjs",
                "target/wasm32-wasip1/release/examples/jose_bench.wasm", "--ms", ms])
    print("JOSE micro-benchmark (µs per operation; wasm = wasm32-wasip1 in Node's V8)")
    print(f"{'alg':<15} {'sign native':>12} {'sign wasm':>10} {'x':>5}   {'verify native':>13} {'verify wasm':>11} {'x':>5}")
    for alg, (ns, nv) in native.items():
        ws, wv = wasm.get(alg, (float("nan"), float("nan")))
        print(f"{alg:<15} {ns:>12.1f} {ws:>10.1f} {ws / ns:>5.1f}   {nv:>13.1f} {wv:>11.1f} {wv / nv:>5.1f}")
    rs = wasm.get("RS256", (float("nan"), 0))[0]
    crate = wasm.get("RS256/rsa-crate", (float("nan"), 0))[0]
    verdict = "meets" if rs <= GOAL_RS256_SIGN_US else "MISSES"
    print(f"RS256 sign in wasm: {rs / 1000:.2f} ms/token, {verdict} the 2.5 ms goal")
    print(f"RS256 sign in wasm with the rsa crate's private operation instead of the filter's kernel: "
          f"{crate / 1000:.2f} ms/token ({crate / rs:.1f}x the kernel)")


if __name__ == "__main__":
    main()
