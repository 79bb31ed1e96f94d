"""The filter's own time per request in V8, apart from the proxy's ABI (bench/own_time.mjs).

In Envoy a request's cost is the proxy's, the wasm host's calls and the filter's own code; the
load cases show the first two with the no-op filter and the host-call floor case. This gives the
third: the same .wasm in Node's V8 behind a host written in JS whose calls cost next to nothing,
for jwt-relay and for the no-op filter on the same requests.
"""
import json
import os
import statistics
import subprocess
import tempfile
import time

import cases as bench_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ITERATIONS = 50000
RUNS = 3


def request_headers(*extra):
    """What Envoy hands a filter for wrk's GET (pseudo-headers first)."""
    return [[":authority", "127.0.0.1"], [":path", "/r"], [":method", "GET"], [":scheme", "http"],
            ["user-agent", "wrk"], *[list(h) for h in extra], ["x-forwarded-proto", "http"],
            ["x-request-id", "9b0d3a6e-5c43-4a47-9d0c-3b8f0f4f3b1a"]]


def own_cases():
    """(label, jwt-relay config, request headers, headers jwt-relay must set)."""
    private, _, iss = bench_cases.VERIFY_KEYS["RS256"]
    token = bench_cases.sign("RS256", private, {"iss": iss, "sub": "user-0", "exp": int(time.time()) + 86400})
    return [
        ("`{}` (pass-through)", {}, request_headers(), []),
        ("RS256, same token (cached)", bench_cases.relay_verify_config(),
         request_headers(("authorization", "Bearer " + token)),
         ["x-consumer-id", "x-consumer-username", "x-credential-identifier"]),
        ("custom_jwt HS256 (key-auth)", bench_cases.custom_jwt_config(),
         request_headers(("apikey", bench_cases.API_KEY)), ["x-consumer-id", "x-custom-jwt"]),
    ]


def time_one(wasm, config, headers, expected, scratch):
    """Median µs per request over RUNS runs; stops the bench when the filter did not do the job."""
    path = os.path.join(scratch, "own_time_config")
    with open(path, "w") as f:
        f.write(config)
    figures = []
    for _ in range(RUNS):
        out = subprocess.run(["node", "--no-warnings", os.path.join(ROOT, "bench/own_time.mjs"), wasm, path,
                              json.dumps(headers), str(ITERATIONS)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"own_time.mjs failed on {wasm}:\n{out.stderr}")
        us, set_headers = out.stdout.splitlines()[:2]
        missing = set(expected) - set(json.loads(set_headers))
        if missing:
            raise SystemExit(f"own_time.mjs: jwt-relay did not set {sorted(missing)}: the case is misconfigured")
        figures.append(float(us))
    return statistics.median(figures)


def measure(relay_wasm, noop_wasm):
    """[(label, jwt-relay µs, no-op µs)] per case."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="jwt-relay-own-") as scratch:
        for label, config, headers, expected in own_cases():
            relay = time_one(relay_wasm, json.dumps(config), headers, expected, scratch)
            noop = time_one(noop_wasm, "", headers, [], scratch)
            rows.append((label, relay, noop))
    return rows


def table(rows):
    lines = ["| request | jwt-relay µs | no-op filter µs |", "| --- | ---: | ---: |"]
    lines += [f"| {label} | {relay:.2f} | {noop:.2f} |" for label, relay, noop in rows]
    return lines
