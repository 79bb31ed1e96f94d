#!/usr/bin/env python3
"""The dudect-style timing test of the RSA kernel and ES256 signing (rsa-kernel/examples/dudect.rs),
natively and as the filter runs: built for wasm32-wasip1 and run in V8 (bench/v8.py's Node,
Envoy's V8, optimizing compiler only), whose machine code is what a timing leak in Envoy would
come from.

Builds and runs the example, and gives its figures as a markdown table: per secret-dependent
operation, the samples, the median time of each class (fixed secret vs random secret), the
largest Welch |t| of dudect's tests and whether it stays below 4.5. `make bench` (bench/run.py)
puts both builds' tables in bench/results.md; run alone, `python bench/dudect.py [--wasm]
[OP ...]` prints one build's (`make dudect` runs the native example itself, `make dudect-wasm`
this with --wasm). DUDECT_SAMPLES, DUDECT_PRIVATE_OP_SAMPLES, DUDECT_EC_SAMPLES and DUDECT_SEED
pass through to the example.
"""
import os
import subprocess
import sys

import v8

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Honours CARGO_TARGET_DIR as the Makefile does: several worktrees may share one machine.
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
THRESHOLD = 4.5

WHAT = {
    "mul": "`Modulus::mul`, 37 limbs: secret operand zero vs random",
    "select": "exponent window's masked table select: index 0 vs random (of 16)",
    "pow": "`Modulus::pow`, 37 limbs: secret 64-bit exponent zero vs random",
    "private_op": "`CrtKey::private_op`, 512-bit test key: c = 0 vs random c",
    "es256_kg": "ES256 signing's k·G (constant-time comb): nonce 1 vs random nonce",
    "es256_sign": "whole ES256 signature, fixture key: fixed message (so nonce) vs random message",
    # Run only when named (`make dudect DUDECT_OPS=...`).
    "pow_fixed": "`Modulus::pow`: one random exponent vs random",
    "pow_bases": "`Modulus::pow`: one random exponent vs random, on 256 random bases",
    "pow_null": "`Modulus::pow`: random vs random (a null test, must pass)",
    "pow_pair": "`Modulus::pow`: one random exponent vs another",
    "control": "square and multiply: 64-bit exponent 2^63 vs random (must fail)",
    "control_small": "`Modulus::pow`, random exponents, plus one table select in the fixed class",
}


def parse(out):
    """(comments, rows): the example's `#` lines, and its
    `OP SAMPLES FIXED_NS RANDOM_NS MAX_T TEST ALL_T SECONDS VERDICT` lines as dicts."""
    comments, rows = [], []
    for line in out.splitlines():
        if line.startswith("#"):
            comments.append(line.lstrip("# ").rstrip())
            continue
        fields = line.split()
        if len(fields) != 9:
            continue
        op, samples, fixed, rand, t, test, all_t, seconds, verdict = fields
        rows.append({"op": op, "samples": int(samples), "fixed_ns": float(fixed), "random_ns": float(rand),
                     "t": float(t), "test": test, "all_t": float(all_t), "seconds": float(seconds),
                     "verdict": verdict})
    return comments, rows


# The builds measured, by the name the report gives them.
NATIVE = "native x86-64"
WASM = "wasm32-wasip1 in V8"


def command(build):
    """Builds the example for `build` (NATIVE or WASM) and returns the command that runs it."""
    cargo = ["cargo", "build", "--quiet", "--release", "-p", "jwt-relay-rsa", "--example", "dudect"]
    if build == WASM:
        subprocess.run(cargo + ["--target", "wasm32-wasip1"], cwd=ROOT, check=True)
        module = os.path.join(TARGET_DIR, "wasm32-wasip1/release/examples/dudect.wasm")
        return [*v8.node(), os.path.join(ROOT, "bench/wasi_run.mjs"), module]
    subprocess.run(cargo, cwd=ROOT, check=True)
    return [os.path.join(TARGET_DIR, "release/examples/dudect")]


def measure(build=NATIVE, ops=()):
    """Builds and runs the example: (comments, rows). Exit status 2 only reports a |t| ≥ 4.5."""
    run = command(build) + list(ops)
    # Progress goes to stderr (the terminal); the figures come on stdout.
    done = subprocess.run(run, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(run)} failed with status {done.returncode}")
    return parse(done.stdout)


def measure_all():
    """[(build, comments, rows)] for the native build, then the wasm build in V8."""
    return [(build, *measure(build)) for build in (NATIVE, WASM)]


def table(comments, rows, build=NATIVE):
    """Markdown lines: one row per operation, then the settings the example printed."""
    lines = ["| operation | what is secret | samples | median ns, fixed | median ns, random | max \\|t\\| "
             "(test) | uncropped \\|t\\| | time | \\|t\\| < 4.5 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        mark = {"ok": "yes ✔", "LEAK?": "**no ✘**"}.get(r["verdict"], "too few samples")
        lines.append(f"| {r['op']} | {WHAT.get(r['op'], '')} | {r['samples']:,} | {r['fixed_ns']:,.0f} | "
                     f"{r['random_ns']:,.0f} | {r['t']:.2f} ({r['test']}) | {r['all_t']:.2f} | "
                     f"{r['seconds']:.0f} s | {mark} |")
    lines += ["", "Fixed and random secrets interleaved at random, one `Instant` reading per call; dudect's "
              "tests: Welch's t on all samples, on the samples below each of 100 percentile crops "
              "(6.7th to 99.9th, from a first batch), and on centred squares (second order); the largest |t| "
              "of the tests with 10,000 samples per class is shown, with the test it comes from (`pNN.N`: "
              "cropped below that percentile; `2nd`: second order). "
              + ("Native x86-64 build: the same source the filter runs, not its machine code." if build == NATIVE
                 else "wasm32-wasip1 build in V8 (bench/v8.py's Node, `--no-liftoff`: the optimizing "
                      "compiler's code, as in Envoy), timed by WASI's monotonic clock.")]
    settings = [c for c in comments if c.startswith("seed=")]
    if settings:
        lines += ["", f"Settings: `{settings[0]}`."]
    return lines


def main():
    args = sys.argv[1:]
    build = WASM if "--wasm" in args else NATIVE
    ops = [a for a in args if a != "--wasm"]
    print(f"Timing of the RSA kernel and ES256 signing (dudect, {build})\n")
    comments, rows = measure(build, ops)
    print("\n".join(table(comments, rows, build)))
    # As the example: status 2 when some |t| reaches the mark.
    return 2 if any(r["verdict"] == "LEAK?" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
