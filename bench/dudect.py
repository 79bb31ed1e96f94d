#!/usr/bin/env python3
"""The dudect-style timing test of the RSA kernel and ES256 signing (rsa-kernel/examples/dudect.rs),
natively.

Builds and runs the example, and gives its figures as a markdown table: per secret-dependent
operation, the samples, the median time of each class (fixed secret vs random secret), the
largest Welch |t| of dudect's tests and whether it stays below 4.5. `make bench` (bench/run.py)
puts the table in bench/results.md; run alone (`make dudect` runs the example itself), this
prints it. DUDECT_SAMPLES, DUDECT_PRIVATE_OP_SAMPLES, DUDECT_EC_SAMPLES and DUDECT_SEED pass
through to the example.
"""
import os
import subprocess
import sys

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


def measure():
    """Builds and runs the example: (comments, rows). Exit status 2 only reports a |t| ≥ 4.5."""
    cargo = ["cargo", "build", "--quiet", "--release", "-p", "jwt-relay-rsa", "--example", "dudect"]
    subprocess.run(cargo, cwd=ROOT, check=True)
    binary = os.path.join(TARGET_DIR, "release/examples/dudect")
    # Progress goes to stderr (the terminal); the figures come on stdout.
    done = subprocess.run([binary], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode not in (0, 2):
        raise SystemExit(f"{binary} failed with status {done.returncode}")
    return parse(done.stdout)


def table(comments, rows):
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
              "cropped below that percentile; `2nd`: second order). Native x86-64 build (the filter runs the "
              "same source as wasm in V8, whose machine code this does not test)."]
    settings = [c for c in comments if c.startswith("seed=")]
    if settings:
        lines += ["", f"Settings: `{settings[0]}`."]
    return lines


def main():
    print("Timing of the RSA kernel and ES256 signing (dudect)\n")
    print("\n".join(table(*measure())))


if __name__ == "__main__":
    sys.exit(main())
