#!/usr/bin/env python3
"""`make soak`: a million requests of the full demo configuration through one Envoy worker.

The demo's filter configuration (envoy/envoy.yaml: JWT, reconcile, upstream_jwt ES256, JWKS
endpoint) with the reconcile answer cache on, in front of the demo upstream and auth service
(envoy/demo/servers.py) on loopback. wrk drives it in chunks; after each chunk the filter's
gauges (VM linear memory, token cache and reconcile cache entries, refreshed every 1,024
requests) and Envoy's resident memory are read. Three in four requests carry one of 256 hot
tokens (cache hits), one in four one of 4,096 cold ones (misses and evictions); one in eight is
a POST with a 1 KiB body (payload hash).

Verdicts (exit status 1 when one fails): no failed request; the VM's memory flat after warm-up
(10% of the requests); neither cache beyond its bound. Figures go to stdout and
bench/soak-results.md.

SOAK_REQUESTS (default 1000000), SOAK_CHUNK_SECONDS (default 20).
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN_CACHE_BOUND = 1024       # core/src/stages/auth/cache.rs DEFAULT_CAPACITY
RECONCILE_CACHE_BOUND = 1024   # core/src/stages/reconcile/compile.rs CACHE_MAX_ENTRIES
HOT, COLD = 256, 4096
WARM_UP = 0.10

LUA = """-- Hot and cold tokens (3:1), one POST with a 1 KiB body in eight.
local hot, cold = {}, {}
for line in io.lines(%(hot)s) do hot[#hot + 1] = line end
for line in io.lines(%(cold)s) do cold[#cold + 1] = line end
local body = string.rep("b", 1024)
local i = 0
request = function()
  i = i + 1
  local token
  if i %% 4 == 0 then token = cold[(i / 4) %% #cold + 1] else token = hot[i %% #hot + 1] end
  local headers = {["authorization"] = "Bearer " .. token}
  if i %% 8 == 1 then
    headers["content-type"] = "application/octet-stream"
    return wrk.format("POST", "/soak/" .. (i %% 16), headers, body)
  end
  return wrk.format("GET", "/soak/" .. (i %% 16), headers)
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret, claims):
    signing = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64(sig)


def demo():
    """The demo Envoy config and its filter configuration, as shipped."""
    with open(os.path.join(ROOT, "envoy/envoy.yaml")) as f:
        boot = yaml.safe_load(f)
    wasm = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"][0]
    return boot, wasm, json.loads(wasm["typed_config"]["config"]["configuration"]["value"])


def configure(ports, wasm_path):
    boot, wasm, filter_config = demo()
    filter_config["reconcile"]["url"] = f"http://127.0.0.1:{ports['auth']}"
    filter_config["reconcile"]["cache_seconds"] = 300
    wasm["typed_config"]["config"]["configuration"]["value"] = json.dumps(filter_config)
    wasm["typed_config"]["config"]["vm_config"]["code"]["local"]["filename"] = wasm_path
    addr = lambda p: {"socket_address": {"address": "127.0.0.1", "port_value": p}}
    boot["admin"]["address"] = addr(ports["admin"])
    boot["static_resources"]["listeners"][0]["address"] = addr(ports["listener"])
    for cluster in boot["static_resources"]["clusters"]:
        port = ports["upstream"] if cluster["name"] == "demo_upstream" else ports["auth"]
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] = addr(port)
    return boot, filter_config


def tokens(filter_config, scratch):
    cred = filter_config["consumers"][0]["jwt_secrets"][0]
    exp = int(time.time()) + 7 * 86400
    files = {}
    for name, count in (("hot", HOT), ("cold", COLD)):
        path = os.path.join(scratch, name + ".txt")
        with open(path, "w") as f:
            for n in range(count):
                f.write(hs256(cred["secret"], {"iss": cred["key"], "sub": f"{name}-{n}", "exp": exp}) + "\n")
        files[name] = path
    script = os.path.join(scratch, "soak.lua")
    with open(script, "w") as f:
        f.write(LUA % {k: json.dumps(v) for k, v in files.items()})
    return script


def stats(admin):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/stats", timeout=10).read().decode()
    found = dict(re.findall(r"^wasmcustom\.jwt_relay\.(\S+): (\d+)$", text, re.M))
    return {k: int(v) for k, v in found.items()}


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        kb = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return kb / 1024


def wait_ready(port, script_probe):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/soak/0",
                                         headers={"authorization": "Bearer " + script_probe})
            if urllib.request.urlopen(req, timeout=10).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("Envoy did not answer 200 within 120 s")


def run_chunk(port, script, seconds):
    out = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{port}/"],
                         check=True, capture_output=True, text=True).stdout
    done = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return done, errors, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    total = int(os.environ.get("SOAK_REQUESTS", "1000000"))
    chunk = int(os.environ.get("SOAK_CHUNK_SECONDS", "20"))
    envoy = os.environ.get("ENVOY_BIN") or os.path.join(ROOT, ".venv/bin/envoy")
    wasm_path = os.environ.get("JWT_RELAY_WASM") or os.path.join(ROOT, "filters/jwt_relay.wasm")
    scratch = tempfile.mkdtemp(prefix="jwt-relay-soak-")
    ports = {k: free_port() for k in ("admin", "listener", "upstream", "auth")}
    boot, filter_config = configure(ports, wasm_path)
    script = tokens(filter_config, scratch)
    with open(os.path.join(scratch, "hot.txt")) as f:
        probe_token = f.readline().strip()
    config_path = os.path.join(scratch, "envoy.json")
    with open(config_path, "w") as f:
        json.dump(boot, f)
    servers = os.path.join(ROOT, "envoy/demo/servers.py")
    procs = [subprocess.Popen([sys.executable, servers, kind, str(ports[kind]), "--keep-alive", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for kind in ("upstream", "auth")]
    log = open(os.path.join(scratch, "envoy.log"), "w")
    proxy = subprocess.Popen([envoy, "-c", config_path, "--concurrency", "1", "--disable-hot-restart", "-l", "warning"],
                             stdout=log, stderr=subprocess.STDOUT)
    procs.append(proxy)
    samples = []
    try:
        wait_ready(ports["listener"], probe_token)
        done = errors = 0
        started = time.monotonic()
        while done < total:
            n, e, rps = run_chunk(ports["listener"], script, chunk)
            done, errors = done + n, errors + e
            s = stats(ports["admin"])
            samples.append({"requests": done, "errors": errors, "rps": rps,
                            "memory": s.get("vm_memory_bytes", 0), "tokens": s.get("token_cache_entries", 0),
                            "answers": s.get("reconcile_cache_entries", 0), "rss": rss_mib(proxy.pid),
                            "allowed": s.get("requests_allowed", 0)})
            last = samples[-1]
            print(f"{done:>9} requests  {rps:7.0f} req/s  VM memory {last['memory'] / 2**20:6.2f} MiB  "
                  f"tokens {last['tokens']:>5}  answers {last['answers']:>5}  RSS {last['rss']:6.1f} MiB  "
                  f"failed {errors}", flush=True)
        elapsed = time.monotonic() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        log.close()
    report(samples, total, elapsed, envoy)


def report(samples, total, elapsed, envoy):
    warm = next(s for s in samples if s["requests"] >= WARM_UP * total)
    final = samples[-1]
    verdicts = [
        ("no failed request", final["errors"] == 0, f"{final['errors']} failed of {final['requests']:,}"),
        ("VM memory flat after warm-up", final["memory"] == warm["memory"],
         f"{warm['memory'] / 2**20:.2f} MiB at {warm['requests']:,} requests, "
         f"{final['memory'] / 2**20:.2f} MiB at {final['requests']:,}"),
        (f"token cache within {TOKEN_CACHE_BOUND}", max(s["tokens"] for s in samples) <= TOKEN_CACHE_BOUND,
         f"largest seen {max(s['tokens'] for s in samples)}"),
        (f"reconcile cache within {RECONCILE_CACHE_BOUND}",
         max(s["answers"] for s in samples) <= RECONCILE_CACHE_BOUND,
         f"largest seen {max(s['answers'] for s in samples)}"),
    ]
    out = subprocess.run([envoy, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"/(\d+\.\d+\.\d+)/", out)
    version = found.group(1) if found else out.strip()
    lines = [
        "# Soak: the full demo configuration, one Envoy worker",
        "",
        f"`make soak` on {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores; Envoy {version}.",
        f"{final['requests']:,} requests in {elapsed / 60:.1f} min ({final['requests'] / elapsed:,.0f} req/s): "
        "wrk -t1 -c4; 3 in 4 requests with one of 256 hot tokens, 1 in 4 with one of 4,096 cold ones; "
        "1 in 8 a POST with 1 KiB body. JWT (HS256) + reconcile (answer cache on) + upstream_jwt (ES256).",
        "",
        "| verdict | holds | figures |",
        "| --- | --- | --- |",
    ] + [f"| {name} | {'yes' if ok else '**no**'} | {fig} |" for name, ok, fig in verdicts] + [
        "",
        "| requests | req/s | VM memory (MiB) | token cache | reconcile cache | Envoy RSS (MiB) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ] + [f"| {s['requests']:,} | {s['rps']:.0f} | {s['memory'] / 2**20:.2f} | {s['tokens']} | {s['answers']} | "
         f"{s['rss']:.1f} |" for s in samples]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(ROOT, "bench/soak-results.md"), "w") as f:
        f.write(text)
    print(text)
    if not all(ok for _, ok, _ in verdicts):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
