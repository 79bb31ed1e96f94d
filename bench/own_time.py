"""The filter's own time per request in V8, apart from the proxy's ABI (bench/own_time.mjs).

In Envoy a request's cost is the proxy's, the wasm host's calls and the filter's own code; the
load cases show the first two with the no-op filter and the host-call floor case. This gives the
third: the same .wasm in V8 (bench/v8.py: Envoy's own V8 when npm can fetch it) behind a host
written in JS whose calls cost next to nothing, for jwt-relay and for the no-op filter on the
same requests. Each case also names the Envoy case it mirrors, so the report can put the two
side by side.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import cases as bench_cases
import v8

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 3
IDENTITY = ["x-consumer-id", "x-consumer-username", "x-credential-identifier"]
MINT_BODY = 1024


@dataclass
class OwnCase:
    label: str
    envoy_case: str          # the load case this request mirrors (its added time in Envoy)
    config: dict
    headers: list
    sets: list               # headers jwt-relay must set, or the case is misconfigured
    counters: dict           # counter increments jwt-relay must make per timed request
    iterations: int = 50000
    options: list = field(default_factory=list)


def request_headers(*extra, method="GET"):
    """What Envoy hands a filter for wrk's request (pseudo-headers first)."""
    return [[":authority", "127.0.0.1"], [":path", "/r"], [":method", method], [":scheme", "http"],
            ["user-agent", "wrk"], *[list(h) for h in extra], ["x-forwarded-proto", "http"],
            ["x-request-id", "9b0d3a6e-5c43-4a47-9d0c-3b8f0f4f3b1a"]]


def own_cases(scratch):
    private, _, iss = bench_cases.VERIFY_KEYS["RS256"]
    token = bench_cases.sign("RS256", private, {"iss": iss, "sub": "user-0", "exp": int(time.time()) + 86400})
    bearer = request_headers(("authorization", "Bearer " + token))
    verify = bench_cases.relay_verify_config()
    n = bench_cases.DISTINCT_TOKENS
    body = request_headers(("content-length", str(MINT_BODY)), ("content-type", "application/octet-stream"),
                           method="POST")
    allowed = {"jwt_relay.requests_allowed": 1}
    out = [
        OwnCase("`{}` (pass-through)", "jwt-relay {}", {}, request_headers(), [], {}),
        OwnCase("RS256, same token (cached)", "jwt-relay RS256 same token", verify, bearer, IDENTITY,
                {**allowed, "jwt_relay.token_cache_hits": 1}),
    ]
    for alg in bench_cases.VERIFY_KEYS:
        # The token cache holds fewer than n tokens: every request verifies a signature.
        out.append(OwnCase(f"{alg}, {n:,} distinct tokens (no cache hit)", f"jwt-relay {alg} {n} tokens", verify,
                           bearer, IDENTITY,
                           {**allowed, f"jwt_relay.tokens_verified.{alg}": 1, "jwt_relay.token_cache_hits": 0}, 5000,
                           ["--tokens", bench_cases.token_file(alg, scratch)]))
    for alg in ("HS256", "EdDSA"):
        out.append(OwnCase(f"upstream_jwt {alg}, 1 KiB body", f"upstream_jwt {alg}, 1 KiB",
                           bench_cases.upstream_jwt_config(alg), body, ["jwt"],
                           {**allowed, f"jwt_relay.tokens_minted.{alg}": 1}, 20000, ["--body", str(MINT_BODY)]))
    out.append(OwnCase("custom_jwt HS256 (key-auth)", "custom_jwt HS256 (key-auth), GET",
                       bench_cases.custom_jwt_config(), request_headers(("apikey", bench_cases.API_KEY)),
                       ["x-consumer-id", "x-custom-jwt"], {**allowed, "jwt_relay.tokens_minted.HS256": 1}))
    return out


def time_one(wasm, config, case, scratch, check):
    """Median µs per request over RUNS runs; stops the bench when jwt-relay did not do the job
    (`check`: the headers it must set and the counters it must move)."""
    path = os.path.join(scratch, "own_time_config")
    with open(path, "w") as f:
        f.write(config)
    figures = []
    for _ in range(RUNS):
        out = subprocess.run([*v8.node(), os.path.join(ROOT, "bench/own_time.mjs"), wasm, path,
                              json.dumps(case.headers), str(case.iterations), *case.options],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"own_time.mjs failed on {wasm} ({case.label}):\n{out.stderr}")
        us, set_headers, counters = out.stdout.splitlines()[:3]
        if check:
            verify_did_the_job(case, json.loads(set_headers), json.loads(counters))
        figures.append(float(us))
    return statistics.median(figures)


def verify_did_the_job(case, set_headers, counters):
    missing = set(case.sets) - set(set_headers)
    if missing:
        raise SystemExit(f"own_time.mjs: jwt-relay did not set {sorted(missing)} ({case.label}): "
                         "the case is misconfigured")
    for name, per_request in case.counters.items():
        if counters.get(name, 0) != per_request:
            raise SystemExit(f"own_time.mjs: {case.label}: {name} moved {counters.get(name, 0)} per request, "
                             f"expected {per_request}: the case is not what it claims ({counters})")


def measure(relay_wasm, noop_wasm):
    """[(label, envoy case, jwt-relay µs, no-op µs)] per case."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="jwt-relay-own-") as scratch:
        for case in own_cases(scratch):
            relay = time_one(relay_wasm, json.dumps(case.config), case, scratch, check=True)
            noop = time_one(noop_wasm, "", case, scratch, check=False)
            rows.append((case.label, case.envoy_case, relay, noop))
    return rows


def table(rows, added_in_envoy):
    """`added_in_envoy`: {Envoy case name: µs it added per request} (NaN when not run)."""
    lines = ["| request | jwt-relay µs (V8) | no-op filter µs (V8) | jwt-relay in Envoy, added µs | "
             "own code's share |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, envoy_case, relay, noop in rows:
        added = added_in_envoy.get(envoy_case, float("nan"))
        share = f"{100 * relay / added:.0f}%" if added == added and added > 0 else "–"
        envoy = f"{added:,.0f}" if added == added else "–"
        lines.append(f"| {label} | {relay:.2f} | {noop:.2f} | {envoy} | {share} |")
    return lines
