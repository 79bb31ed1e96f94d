"""What wrk sends for a case, and one wrk measurement.

A load is described as data (plain GET, GET with headers, a rotation through a file of tokens,
or a POST with a body of N bytes) so every host lane sends exactly the same requests. Anything
beyond a fixed GET becomes a small Lua script, written once per run into a scratch directory.
"""
import http.client
import os
import re
import subprocess
from dataclasses import dataclass, field

# wrk -t1 -c4: one load thread (the machine has few cores and the proxy has one worker) and
# enough connections to keep that worker busy while one request is in flight on the wire.
WRK_THREADS = 1
WRK_CONNECTIONS = 4


@dataclass(frozen=True)
class Load:
    """The requests of one case: `GET /r` unless told otherwise."""
    label: str = "GET"
    headers: tuple = ()               # ((name, value), ...) on every request
    tokens_file: str | None = None    # one token per line, sent round-robin as Bearer tokens
    body_bytes: int = 0               # > 0: POST with a body of this many bytes


@dataclass
class Sample:
    """One measurement: wrk's figures plus what the host reported around it."""
    rps: float
    p50_us: float
    p99_us: float
    errors: str = ""
    requests: int = 0                  # answers wrk counted in the timed run
    cpu_us: float = float("nan")       # proxy CPU time per request over the timed run
    first_ok_s: float = float("nan")   # from spawning the proxy to its first 200
    rss_mib: float = float("nan")      # proxy process resident memory after the run
    counters: dict = field(default_factory=dict)  # host counters over the measured window
    wasm_stats: dict = field(default_factory=dict)  # the host's own wasm statistics after the run


ROTATE_LUA = """-- Bearer tokens read from a file, one per request, round-robin across connections.
local tokens = {}
for line in io.lines(%(path)s) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format("GET", "/r", {["authorization"] = "Bearer " .. tokens[i]})
end
"""

BODY_LUA = """-- A POST whose body has a fixed size: the request is built once and replayed.
wrk.method = "POST"
wrk.body = string.rep("x", %(size)d)
wrk.headers["Content-Type"] = "application/octet-stream"
"""


def lua_script(load, scratch):
    """The Lua script a load needs (None for a fixed GET), written under `scratch`."""
    if load.tokens_file:
        text = ROTATE_LUA % {"path": lua_string(load.tokens_file)}
    elif load.body_bytes:
        text = BODY_LUA % {"size": load.body_bytes}
    else:
        return None
    path = os.path.join(scratch, re.sub(r"\W+", "_", load.label) + ".lua")
    with open(path, "w") as f:
        f.write(text)
    return path


def lua_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_command(port, load, seconds, scratch):
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--latency"]
    for name, value in load.headers:
        cmd += ["-H", f"{name}: {value}"]
    script = lua_script(load, scratch)
    if script:
        cmd += ["-s", script]
    return cmd + [f"http://127.0.0.1:{port}/r"]


def run_wrk(port, load, seconds, scratch):
    """Runs wrk once; any non-2xx answer means the case is misconfigured, so it stops the run."""
    out = subprocess.run(wrk_command(port, load, seconds, scratch),
                         check=True, capture_output=True, text=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{load.label}: {non2xx.group(1)} failed responses: the case is misconfigured\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Socket errors: (.*)", out)
    requests = re.search(r"(\d+) requests in", out)
    return Sample(rps, micros(lat.get("50")), micros(lat.get("99")),
                  errors.group(1).strip() if errors else "", int(requests.group(1)) if requests else 0)


def micros(text):
    """wrk's latency ('812.00us', '1.20ms', '2.01s') in microseconds."""
    if not text:
        return float("nan")
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[unit]


def probe(port, load):
    """Sends one request of the load and gives the answer's status (None: no connection). Used to
    wait for a proxy and to check that the case is configured right before timing it."""
    headers = dict(load.headers)
    body = None
    if load.tokens_file:
        with open(load.tokens_file) as f:
            headers["authorization"] = "Bearer " + f.readline().strip()
    if load.body_bytes:
        body = b"x" * load.body_bytes
        headers["content-type"] = "application/octet-stream"
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST" if body else "GET", "/r", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status
    except OSError:
        return None
