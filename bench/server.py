"""A proxy process started for one case: its port, its log, its memory, its CPU time, its first
answer."""
import os
import socket
import time
from dataclasses import dataclass
from subprocess import Popen

from load import probe

# A proxy compiles the filter before (Envoy) or at (nginx) its first request; on a busy shared
# machine that can take many seconds.
START_TIMEOUT_S = 120


@dataclass
class Server:
    proc: Popen
    port: int
    log: str
    admin: int | None = None
    started: float = 0.0

    def __post_init__(self):
        self.started = time.monotonic()

    def log_tail(self, lines=30):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def cpu_seconds(self):
        """User and system CPU time of the proxy and its children (nginx's worker), all threads:
        what the proxy spent, whoever else competes for the machine's two cores."""
        return sum(cpu_of(pid) for pid in tree(self.proc.pid))

    def rss_mib(self):
        """Resident memory of the proxy process (one worker: all its wasm VMs are in it)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            return kib / 1024
        except (OSError, StopIteration):
            return float("nan")

    def stop(self):
        # Only the process this bench started, by its own handle.
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def tree(pid):
    """The process and its descendants, from /proc/<pid>/task/<tid>/children."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return found


def cpu_of(pid):
    """utime + stime of one process (all its threads), in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_first_ok(server, load, name):
    """Seconds from spawning the proxy to its first 200 for this case's request (the first
    request a new worker can serve, compile time included). Any other answer means the case is
    misconfigured: the run stops with the proxy's log rather than timing errors."""
    deadline = server.started + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise SystemExit(f"{name}: the proxy exited\n{server.log_tail()}")
        status = probe(server.port, load)
        if status == 200:
            return time.monotonic() - server.started
        if status is not None and status != 503:
            raise SystemExit(f"{name}: answered {status}, not 200: the case is misconfigured\n{server.log_tail()}")
        time.sleep(0.02)
    raise SystemExit(f"{name}: no answer within {START_TIMEOUT_S} s\n{server.log_tail()}")
