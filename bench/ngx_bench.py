"""The Kong engine lane: each case in its own nginx with ngx_wasm_module (JWT_RELAY_NGX_BIN),
one worker, configured as tests/support/nginx.rs configures it (the filter's headers step in the
access phase, as Kong runs it).

nginx's `return` answers in the rewrite phase, before any filter could run, so the answer comes
from a second server in the same nginx (and the same worker) through a keepalive upstream: every
case pays for that hop, the baseline included, so differences are still the filter's own cost.
jwt_authn is Envoy's and has no counterpart here; the buffered baseline is the plain proxy, since
nginx reads the whole body before proxying anyway.

wasmtime keeps compiled modules in an on-disk cache here, as Kong 3.8 and later configure it
(`wasmtime { cache_config <prefix>/.wasmtime_config.toml; }`): a worker then starts without
compiling the module again. `startup` measures the first answer after start with that cache
empty (Kong 3.4-3.7, or a new .wasm) and filled.
"""
import json
import os
import shutil
import subprocess

from server import Server, free_port

BODY_BUFFER = "2m"        # above the largest body sent, so bodies stay in memory (as Kong's tests do)
MAX_BODY = "16m"


class NgxLane:
    name = "Kong's engine"

    def __init__(self, nginx, relay_wasm, noop_wasm, scratch):
        self.nginx, self.relay_wasm, self.noop_wasm, self.scratch = nginx, relay_wasm, noop_wasm, scratch
        self.cache_dir = os.path.join(scratch, "wasmtime-cache")
        self.cache_config = os.path.join(scratch, "wasmtime.toml")
        with open(self.cache_config, "w") as f:
            f.write(f"[cache]\nenabled = true\ndirectory = {json.dumps(self.cache_dir)}\n")
        self.startup = None   # (cold, cached) seconds to the first answer, once measured

    def measure_startup(self, case, first_ok):
        """The first answer after start of `case`, with wasmtime's cache emptied, then filled."""
        times = []
        for _ in range(2):
            if not times:
                shutil.rmtree(self.cache_dir, ignore_errors=True)
            server = self.start(case)
            try:
                times.append(first_ok(server))
            finally:
                server.stop()
        self.startup = tuple(times)

    def supports(self, case):
        return case.filter != "jwt_authn"

    def start(self, case):
        port, answer = free_port(), free_port()
        prefix = os.path.join(self.scratch, "ngx")
        shutil.rmtree(prefix, ignore_errors=True)
        os.makedirs(prefix)
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(self.render(case, prefix, port, answer))
        with open(os.path.join(prefix, "stderr.log"), "w") as log:
            proc = subprocess.Popen([self.nginx, "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "error.log")],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        return Server(proc, port, os.path.join(prefix, "error.log"))

    def counters(self, server):
        return {}   # ngx_wasm_module's metrics have no endpoint of their own outside Kong

    # Configuration -----------------------------------------------------------------------------

    def module(self, case):
        """(module name, path, directive) of the case's filter, or None for a plain proxy."""
        if case.filter == "noop":
            config = f" {quoted(case.config)}" if case.config else ""
            return "noop", self.noop_wasm, f"proxy_wasm noop{config};"
        if case.filter == "relay":
            return "jwt_relay", self.relay_wasm, f"proxy_wasm jwt_relay {quoted(json.dumps(case.config))};"
        return None

    def render(self, case, d, port, answer):
        module = self.module(case)
        wasm_block = (f"wasm {{ module {module[0]} {module[1]}; "
                      f"wasmtime {{ cache_config {self.cache_config}; }} }}\n" if module else "")
        filter_lines = (f"      proxy_wasm_request_headers_in_access on;\n      {module[2]}\n" if module else "")
        return (
            "daemon off;\nmaster_process off;\nworker_processes 1;\n"
            f"error_log {d}/error.log warn;\npid {d}/nginx.pid;\n"
            "events { worker_connections 1024; }\n"
            f"{wasm_block}"
            "http {\n  access_log off;\n"
            f"  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n"
            f"  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n"
            f"  client_body_buffer_size {BODY_BUFFER}; client_max_body_size {MAX_BODY};\n"
            # nginx closes a keepalive connection after 1000 requests by default; Envoy does not.
            "  keepalive_requests 100000000;\n"
            f"  upstream answer {{ server 127.0.0.1:{answer}; keepalive 16; keepalive_requests 100000000; }}\n"
            f"  server {{ listen 127.0.0.1:{answer}; location / {{ return 200 \"ok\"; }} }}\n"
            f"  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n"
            f"{filter_lines}"
            "      set $upstream_uri $request_uri;\n"
            "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
            "      proxy_pass http://answer$upstream_uri;\n    }\n  }\n}\n")


def quoted(text):
    """An nginx single-quoted string (as tests/support/nginx.rs writes it): nginx turns `\\\\`,
    `\\'`, `\\n`, ... into characters, so every backslash of the JSON is doubled."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
