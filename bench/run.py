#!/usr/bin/env python3
"""`make bench`: the whole performance story in one run, written to bench/results.md.

1. JOSE sign/verify per algorithm, native and in wasm (bench/jose_compare.py).
2. Envoy (V8), one worker, direct response: no filter, the bare no-op proxy-wasm filter
   (bench/noop), jwt-relay `{}`; RS256 and ES256 verification by jwt-relay against Envoy's native
   jwt_authn on the same key, for one repeated token (both caches on) and for 4,096 distinct
   tokens (jwt_authn without cache, jwt-relay's cache missing); minting per algorithm on bodies
   of 1 KiB, 64 KiB and 1 MiB.
   Beside them, the host-call floors: the no-op filter making jwt-relay's host calls for a
   cached token, and upstream_jwt's for a mint on a 1 KiB body (holding the request until its
   body is in and reading it). The proxy's CPU time per request is read from /proc around each
   measurement.
3. The same cases on Kong's engine when JWT_RELAY_NGX_BIN is set (jwt_authn aside).
4. The filter's own time per request in V8 with host calls at no cost (bench/own_time.py).
5. The dudect-style timing test of the RSA kernel and ES256 signing, natively and as wasm in V8
   (bench/dudect.py): fixed vs random secret per secret-dependent operation, Welch's |t| against 4.5.

Cases run in interleaved rounds (every case once per round, round after round) so that a slow
spell on a shared machine hits all of them alike; medians over rounds are reported, and derived
figures (added time, ratios) are computed per round before taking their median.

Environment: BENCH_SECONDS (per measurement, default 5), BENCH_ROUNDS (default 3),
BENCH_WARMUP (seconds of load before each measurement, default 1), BENCH_JOSE_MS (default 300;
0 skips the JOSE micro-benchmark), BENCH_OWN (default 1; 0 skips the filter's own time per
request in V8, bench/own_time.py), BENCH_DUDECT (default 1; 0 skips the timing test, which
takes a few minutes; DUDECT_SAMPLES, DUDECT_PRIVATE_OP_SAMPLES and DUDECT_EC_SAMPLES set its
sample counts),
BENCH_CASES (a regular expression: only matching cases, with their baselines and jwt_authn pairs,
for development), ENVOY_BIN, JWT_RELAY_WASM, NOOP_WASM, JWT_RELAY_NGX_BIN.
"""
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass

import cases as bench_cases
import dudect
import own_time
import jose_compare
import report
from envoy_bench import EnvoyLane
from load import run_wrk
from ngx_bench import NgxLane
from server import wait_first_ok

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "bench/noop/target")
RESULTS = os.path.join(ROOT, "bench/results.md")


@dataclass(frozen=True)
class Settings:
    seconds: int
    rounds: int
    warmup: int
    jose_ms: int
    own: bool
    dudect: bool
    only: str | None

    @staticmethod
    def from_env():
        env = os.environ.get
        return Settings(int(env("BENCH_SECONDS", "5")), int(env("BENCH_ROUNDS", "3")),
                        int(env("BENCH_WARMUP", "1")), int(env("BENCH_JOSE_MS", "300")),
                        env("BENCH_OWN", "1") != "0", env("BENCH_DUDECT", "1") != "0", env("BENCH_CASES") or None)


def paths():
    """The proxy binaries and modules; `make bench` exports them, defaults suit a direct run."""
    env = os.environ.get
    return {"envoy": env("ENVOY_BIN") or os.path.join(ROOT, ".venv/bin/envoy"),
            "relay": env("JWT_RELAY_WASM") or os.path.join(ROOT, "filters/jwt_relay.wasm"),
            "noop": env("NOOP_WASM") or os.path.join(TARGET_DIR, "wasm32-wasip1/release/noop.wasm"),
            "ngx": env("JWT_RELAY_NGX_BIN") or None}


def select(all_cases, pattern):
    """The cases matching `pattern`, plus the baselines and pairs their figures need."""
    if not pattern:
        return all_cases
    wanted = {c.name for c in all_cases if re.search(pattern, c.name)}
    for c in all_cases:
        if c.name in wanted:
            wanted |= {n for n in (c.base, c.pair) if n}
    return [c for c in all_cases if c.name in wanted]


def measure(lane, case, settings, scratch):
    """One case once: a fresh proxy, its first answer, a warm-up, then the timed run."""
    server = lane.start(case)
    try:
        first_ok = wait_first_ok(server, case.load, case.name)
        if settings.warmup:
            run_wrk(server.port, case.load, settings.warmup, scratch)
        before, cpu_before = lane.counters(server), server.cpu_seconds()
        sample = run_wrk(server.port, case.load, settings.seconds, scratch)
        cpu_after, after = server.cpu_seconds(), lane.counters(server)
        if sample.requests:
            sample.cpu_us = (cpu_after - cpu_before) * 1e6 / sample.requests
        sample.counters = {k: v - before.get(k, 0) for k, v in after.items()}
        sample.first_ok_s, sample.rss_mib = first_ok, server.rss_mib()
        if hasattr(lane, "wasm_stats"):
            sample.wasm_stats = lane.wasm_stats(server)
        return sample
    finally:
        server.stop()


def run_lane(lane, cases, settings, scratch):
    """{case name: [sample per round]}, rounds interleaved."""
    cases = [c for c in cases if lane.supports(c)]
    results = {c.name: [] for c in cases}
    for r in range(settings.rounds):
        for i, case in enumerate(cases):
            sample = measure(lane, case, settings, scratch)
            results[case.name].append(sample)
            progress(f"{lane.name} round {r + 1}/{settings.rounds} [{i + 1}/{len(cases)}] "
                     f"{case.name}: {sample.rps:,.0f} req/s")
    return results


def progress(line):
    print(line, file=sys.stderr, flush=True)


def jose(settings):
    if settings.jose_ms <= 0:
        return None
    progress(f"JOSE micro-benchmark ({settings.jose_ms} ms per operation)...")
    return jose_compare.measure(settings.jose_ms)


def own(settings, where):
    if not settings.own:
        return None
    progress("The filter's own time per request in V8, host calls at no cost...")
    return own_time.measure(where["relay"], where["noop"])


def timing(settings):
    if not settings.dudect:
        return None
    progress("timing test of the RSA kernel and ES256 signing (dudect, native and wasm in V8; some minutes)...")
    return dudect.measure_all()


def main():
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    settings, where = Settings.from_env(), paths()
    for key in ("envoy", "relay", "noop"):
        if not os.path.exists(where[key]):
            raise SystemExit(f"{where[key]} is missing: run `make bench` (it builds the filters)")
    if not where["ngx"]:
        progress("JWT_RELAY_NGX_BIN is unset: the Kong engine (ngx_wasm_module) lane of the bench is skipped")
    machine = report.machine()   # before any load: the load average is the machine's own
    jose_rows = jose(settings)
    own_rows = own(settings, where)
    # Before the proxies: the timing test wants the machine as quiet as it gets.
    dudect_result = timing(settings)
    scratch = tempfile.mkdtemp(prefix="jwt-relay-bench-")
    try:
        progress(f"making {bench_cases.DISTINCT_TOKENS} distinct tokens per algorithm...")
        cases = select(bench_cases.all_cases(scratch), settings.only)
        lanes = [EnvoyLane(where["envoy"], where["relay"], where["noop"], scratch)]
        if where["ngx"]:
            ngx = NgxLane(where["ngx"], where["relay"], where["noop"], scratch)
            relay = next((c for c in cases if c.filter == "relay"), None)
            if relay:
                progress("Kong's engine: first answer after start, wasmtime's cache empty then filled...")
                ngx.measure_startup(relay, lambda server: wait_first_ok(server, relay.load, relay.name))
            lanes.append(ngx)
        runs = [(lane, run_lane(lane, cases, settings, scratch)) for lane in lanes]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = report.render(machine, settings, where, cases, runs, jose_rows, dudect_result, own_rows)
    with open(RESULTS, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
