#!/usr/bin/env python3
"""The filter's cost inside a real Envoy (V8), each configuration measured with wrk in one run.

Envoy (one worker) answers every request itself with a direct response, so the upstream costs
nothing and the difference between a configuration and the pass-through baseline is the
filter's own time per request. Prints requests/s, latency percentiles, and the added time per
request against `{}` (computed from the single worker's throughput: 1/rps - 1/rps_baseline).
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENVOY = os.environ.get("ENVOY_BIN", os.path.join(ROOT, ".venv/bin/envoy"))
WASM = os.path.join(ROOT, "filters/jwt_relay.wasm")
FIX = os.path.join(ROOT, "tests/fixtures/jose")
DURATION = os.environ.get("BENCH_SECONDS", "5")


def fixture(name):
    with open(os.path.join(FIX, name)) as f:
        return f.read()


def token(alg, pem_name, claims):
    if alg.startswith("HS"):
        key = jwk.JWK(kty="oct", k=jwk.base64url_encode(b"jwt-relay-bench-secret-32-bytes-long!"))
    else:
        key = jwk.JWK.from_pem(fixture(pem_name).encode())
    t = jws.JWS(json_encode(claims).encode())
    t.add_signature(key, None, json_encode({"alg": alg, "typ": "JWT"}))
    return t.serialize(compact=True)


def consumers():
    return [{"id": "c-1", "username": "bench", "jwt_secrets": [
        {"key": "hs", "secret": "jwt-relay-bench-secret-32-bytes-long!"},
        {"key": "rs", "algorithm": "RS256", "rsa_public_key": fixture("rsa2048_public_spki.pem")},
        {"key": "es", "algorithm": "ES256", "rsa_public_key": fixture("ec_p256_public_spki.pem")}]}]


def cases():
    exp = int(time.time()) + 3600
    hs = token("HS256", None, {"iss": "hs", "exp": exp})
    rs = token("RS256", "rsa2048_pkcs8.pem", {"iss": "rs", "exp": exp})
    es = token("ES256", "ec_p256_pkcs8.pem", {"iss": "es", "exp": exp})
    auth = {"consumers": consumers(), "jwt": {"claims_to_verify": ["exp"]}}
    mint = lambda alg, pem: {"upstream_jwt": {"private_key": fixture(pem), "algorithm": alg, "x5c": False}}
    return [
        ("pass-through {}", {}, None),
        ("jwt HS256 verify (cached)", auth, hs),
        ("jwt RS256 verify (cached)", auth, rs),
        ("jwt ES256 verify (cached)", auth, es),
        ("upstream_jwt RS256 mint", mint("RS256", "rsa2048_pkcs8.pem"), None),
        ("upstream_jwt ES256 mint", mint("ES256", "ec_p256_pkcs8.pem"), None),
        ("upstream_jwt EdDSA mint", mint("EdDSA", "ed25519_pkcs8.pem"), None),
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envoy_config(filter_config, port, admin):
    addr = lambda p: {"socket_address": {"address": "127.0.0.1", "port_value": p}}
    return {
        "admin": {"address": addr(admin)},
        "static_resources": {"listeners": [{"name": "main", "address": addr(port), "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "stat_prefix": "bench",
                "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]}]},
                "http_filters": [
                    {"name": "envoy.filters.http.wasm", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                        "config": {"name": "jwt_relay", "root_id": "jwt_relay", "allow_on_headers_stop_iteration": True,
                                   "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue",
                                                     "value": json.dumps(filter_config)},
                                   "vm_config": {"runtime": "envoy.wasm.runtime.v8", "code": {"local": {"filename": WASM}}}}}},
                    {"name": "envoy.filters.http.router", "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}]}}]}]}]}}


def wait_ready(admin, proc):
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit("Envoy exited")
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("Envoy not ready")


def wrk(port, tok):
    cmd = ["wrk", "-t1", "-c4", f"-d{DURATION}s", "--latency", f"http://127.0.0.1:{port}/r"]
    if tok:
        cmd[1:1] = ["-H", f"authorization: Bearer {tok}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{non2xx.group(1)} failed responses: the benchmark config is wrong")
    return rps, lat.get("50", "?"), lat.get("99", "?")


def main():
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        raise SystemExit("wrk not found: apt-get install wrk")
    rows = []
    for name, config, tok in cases():
        port, admin = free_port(), free_port()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(envoy_config(config, port, admin), f)
        proc = subprocess.Popen([ENVOY, "-c", f.name, "--concurrency", "1", "--disable-hot-restart", "-l", "error"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(admin, proc)
            rows.append((name,) + wrk(port, tok))
        finally:
            proc.terminate()
            proc.wait()
            os.unlink(f.name)
    base = rows[0][1]
    print(f"Envoy 1.40 (V8), one worker, wrk -t1 -c4 -d{DURATION}s, direct response (no upstream)")
    print(f"{'configuration':<28} {'req/s':>8} {'p50':>9} {'p99':>9} {'added/request':>14}")
    for name, rps, p50, p99 in rows:
        added = (1 / rps - 1 / base) * 1e6
        print(f"{name:<28} {rps:>8.0f} {p50:>9} {p99:>9} {added:>11.0f} µs")


if __name__ == "__main__":
    sys.exit(main())
