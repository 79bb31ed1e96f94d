"""The Envoy lane: each case in its own Envoy (V8), one worker, answering with a direct response.

The route answers every request itself, so the upstream costs nothing and the difference between
two cases is the filters' own time per request. A fresh process per case keeps one case's VM
(its caches, its heap) from colouring the next, and gives each case its own memory figure.
"""
import json
import os
import re
import subprocess
import time
import urllib.request

from server import Server, free_port

# Body hashing holds the whole body in the proxy: above the largest body the bench sends.
BUFFER_LIMIT = 16 * 1024 * 1024
# Counters worth keeping around a measurement: jwt-relay's own (cache hits, verifications,
# mints), the no-op filter's in its host-call modes, and jwt_authn's (allowed, cache hits), to
# show each case did what it claims.
COUNTERS = re.compile(r"^(wasmcustom\.jwt_relay\.|wasmcustom\.noop\.|http\.bench\.jwt_authn\.)")


class EnvoyLane:
    name = "Envoy"

    def __init__(self, envoy, relay_wasm, noop_wasm, scratch):
        self.envoy, self.relay_wasm, self.noop_wasm, self.scratch = envoy, relay_wasm, noop_wasm, scratch

    def supports(self, case):
        return True

    def start(self, case):
        port, admin = free_port(), free_port()
        path = os.path.join(self.scratch, "envoy.json")
        with open(path, "w") as f:
            json.dump(self.config(case, port, admin), f)
        log = os.path.join(self.scratch, "envoy.log")
        with open(log, "w") as out:
            proc = subprocess.Popen([self.envoy, "-c", path, "--concurrency", "1", "--disable-hot-restart",
                                     "-l", "warning"], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        return Server(proc, port, log, admin=admin)

    def counters(self, server):
        text = admin_get(server.admin, "/stats")
        found = re.findall(r"^(\S+): (\d+)$", text, re.M)
        return {name: int(value) for name, value in found if COUNTERS.match(name)}

    def wasm_stats(self, server):
        """Envoy's own wasm statistics (not the filter's counters), to look for VM memory."""
        text = admin_get(server.admin, "/stats")
        return {n: int(v) for n, v in re.findall(r"^(\S+): (\d+)$", text, re.M)
                if n.startswith(("wasm.", "wasm_vm")) or ".wasm." in n}

    def version(self):
        out = subprocess.run([self.envoy, "--version"], capture_output=True, text=True).stdout
        found = re.search(r"/(\d+\.\d+\.\d+)/(\w+)/(\w+)/(\w+)", out)
        return f"Envoy {found.group(1)} ({found.group(3)}, {found.group(4)})" if found else out.strip()

    # Configuration -----------------------------------------------------------------------------

    def config(self, case, port, admin):
        addr = lambda p: {"socket_address": {"address": "127.0.0.1", "port_value": p}}
        hcm = {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "bench",
            "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [
                {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}]}]},
            "http_filters": self.filters(case) + [{"name": "envoy.filters.http.router", "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}],
        }
        return {"admin": {"address": addr(admin)},
                "static_resources": {"listeners": [{
                    "name": "main", "address": addr(port),
                    "per_connection_buffer_limit_bytes": BUFFER_LIMIT,
                    "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager",
                                                    "typed_config": hcm}]}]}]}}

    def filters(self, case):
        if case.filter == "none":
            return []
        if case.filter == "noop":
            return [wasm_filter("noop", self.noop_wasm, case.config or "")]
        if case.filter == "relay":
            return [wasm_filter("jwt_relay", self.relay_wasm, json.dumps(case.config))]
        if case.filter == "jwt_authn":
            return [jwt_authn_filter(case.config["jwks"], case.config["cache"])]
        if case.filter == "buffer":
            return [buffer_filter()]
        raise ValueError(case.filter)


def wasm_filter(name, wasm, configuration):
    return {"name": "envoy.filters.http.wasm", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
        "config": {
            "name": name, "root_id": name,
            # As in envoy/envoy.yaml: lets jwt-relay hold the headers while it reads the body.
            "allow_on_headers_stop_iteration": True,
            "configuration": {"@type": "type.googleapis.com/google.protobuf.StringValue", "value": configuration},
            "vm_config": {"vm_id": name, "runtime": "envoy.wasm.runtime.v8",
                          "code": {"local": {"filename": wasm}}}}}}


def jwt_authn_filter(jwks, cache):
    """Envoy's native C++ verifier with the same public key; `jwt_cache_config` turns on its
    cache of verified tokens (the same-token case), leaving it out verifies every request."""
    provider = {"local_jwks": {"inline_string": jwks}}
    if cache:
        provider["jwt_cache_config"] = {"jwt_cache_size": 1024}   # as many tokens as jwt-relay's cache
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
        "providers": {"bench": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]}}


def buffer_filter():
    """The baseline of body cases: Envoy reads the whole body before answering, as it does for
    jwt-relay's body hashing, so the difference is the filter's copy, hash and signature."""
    return {"name": "envoy.filters.http.buffer", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
        "max_request_bytes": BUFFER_LIMIT}}


def admin_get(admin, path):
    for _ in range(3):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=5).read().decode()
        except OSError:
            time.sleep(0.2)
    return ""
