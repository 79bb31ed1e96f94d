"""bench/results.md: figures per case (medians over rounds), derived figures, and issue 16's goals.

Derived figures are computed within each round and then their median taken, so a slow spell of
the shared machine, which hits a case and its baseline in the same round, cancels out:
  CPU µs per request = the proxy's CPU time over the timed run (user + system, all its threads and
  workers, from /proc) / the requests wrk counted: what the proxy spent per request, whatever else
  ran on the machine,
  added µs per request = CPU µs per request - the baseline's (1/rps - 1/rps_baseline where the
  CPU time is unknown),
  jwt-relay / jwt_authn = rps_relay / rps_jwt_authn on the same tokens and key (issue 16's ratio),
  and by CPU = CPU_jwt_authn / CPU_relay: the same ratio for a worker that has a core to itself,
  body MB/s = (body - 1 KiB) / (added(body) - added(1 KiB)): the cost that grows with the body
  (copying it into the VM and hashing it) with the fixed cost (signing) taken away.
"""
import datetime
import math
import os
import platform
import re
import statistics
import subprocess
from dataclasses import dataclass

from cases import BODY_SIZES, DISTINCT_TOKENS, HOST_CALL_FLOOR, MINT_FLOOR, size_label
from dudect import table as dudect_table
from jose_compare import table as jose_table
from own_time import table as own_table
import v8
from load import WRK_CONNECTIONS, WRK_THREADS

NAN = float("nan")
MIB = 1024 * 1024


# Machine --------------------------------------------------------------------------------------

def machine():
    """What the figures were measured on, read before the run loads the machine."""
    cpuinfo = read("/proc/cpuinfo")
    models = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": models[0].strip() if models else platform.processor() or "unknown",
            "cores": len(re.findall(r"^processor\s*:", cpuinfo, re.M)) or os.cpu_count(),
            "load": " ".join(read("/proc/loadavg").split()[:3]),
            "rustc": command_line(["rustc", "--version"]),
            "wrk": command_line(["wrk", "-v"]).split(" Copyright")[0],
            "node": v8.version()}


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def command_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError):
        return "unknown"


# Figures --------------------------------------------------------------------------------------

@dataclass
class Figures:
    """One case on one lane: medians over rounds, and the samples they come from."""
    rps: float
    p50: float
    p99: float
    added: float        # µs per request over the baseline
    ratio: float        # rps / rps of the paired jwt_authn case
    cpu: float          # proxy CPU µs per request
    cpu_ratio: float    # the paired jwt_authn case's CPU per request / this case's
    rss: float
    first_ok: float
    rounds: list
    samples: list
    base_samples: list  # the baseline's samples, round by round


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else NAN


def per_round(samples, others, fn):
    """The median over rounds of fn(sample, other sample of the same round)."""
    if not others:
        return NAN
    return median([fn(a, b) for a, b in zip(samples, others)])


def added_us(a, b):
    """µs per request a adds to b: by CPU time where both have it (steadier on a shared
    machine than throughput), else by throughput."""
    if not (math.isnan(a.cpu_us) or math.isnan(b.cpu_us)):
        return a.cpu_us - b.cpu_us
    return (1 / a.rps - 1 / b.rps) * 1e6 if a.rps and b.rps else NAN


def cpu_ratio(a, b):
    return b.cpu_us / a.cpu_us if a.cpu_us > 0 else NAN


def figures(cases, results):
    """{case name: Figures} for the cases a lane ran."""
    out = {}
    for case in cases:
        samples = results.get(case.name)
        if not samples:
            continue
        base, pair = results.get(case.base), results.get(case.pair)
        out[case.name] = Figures(
            rps=median([s.rps for s in samples]), p50=median([s.p50_us for s in samples]),
            p99=median([s.p99_us for s in samples]),
            added=per_round(samples, base, added_us),
            ratio=per_round(samples, pair, lambda a, b: a.rps / b.rps if b.rps else NAN),
            cpu=median([s.cpu_us for s in samples]), cpu_ratio=per_round(samples, pair, cpu_ratio),
            rss=median([s.rss_mib for s in samples]), first_ok=median([s.first_ok_s for s in samples]),
            rounds=[s.rps for s in samples], samples=samples, base_samples=base or [])
    return out


def body_rate(figs, series, size):
    """MB/s of the part of the cost that grows with the body, per round, then the median."""
    small, big = figs.get(f"{series}, {size_label(BODY_SIZES[0])}"), figs.get(f"{series}, {size_label(size)}")
    if not small or not big:
        return NAN
    grow = size - BODY_SIZES[0]
    rates = []
    for s_small, s_big, b_small, b_big in zip(small.samples, big.samples, small.base_samples, big.base_samples):
        extra = added_us(s_big, b_big) - added_us(s_small, b_small)
        rates.append(grow / extra if extra > 0 else NAN)
    return median(rates)


# Formatting -----------------------------------------------------------------------------------

def num(x, digits=0):
    return "–" if x is None or math.isnan(x) else f"{x:,.{digits}f}"


def kilo(rps):
    return "–" if math.isnan(rps) else (f"{rps / 1000:.1f}k" if rps >= 1000 else f"{rps:.0f}")


def duration(us):
    if math.isnan(us):
        return "–"
    return f"{us / 1000:.2f} ms" if abs(us) >= 1000 else f"{us:.0f} µs"


def checks(samples):
    """What the host's counters say each case did (summed over rounds)."""
    total = {}
    for s in samples:
        for k, v in s.counters.items():
            total[k] = total.get(k, 0) + v
    notes = []
    hits = total.get("wasmcustom.jwt_relay.token_cache_hits", 0)
    verified = sum(v for k, v in total.items() if ".tokens_verified." in k)
    if hits + verified:
        notes.append(f"cache hits {100 * hits / (hits + verified):.0f}%")
    minted = sum(v for k, v in total.items() if ".tokens_minted." in k)
    if minted:
        notes.append(f"minted {minted:,}")
    # The no-op filter counts a request once its calls ran to the end (a mint's after the body).
    floor = total.get("wasmcustom.noop.allowed", 0)
    if floor:
        notes.append(f"calls made {floor:,}")
    a_hit, a_miss = total.get("http.bench.jwt_authn.jwt_cache_hit", 0), total.get("http.bench.jwt_authn.jwt_cache_miss", 0)
    if "http.bench.jwt_authn.allowed" in total:
        notes.append(f"cache hits {100 * a_hit / (a_hit + a_miss):.0f}%" if a_hit + a_miss else "no cache")
    errors = {s.errors for s in samples if s.errors}
    if errors:
        notes.append("socket errors: " + "; ".join(sorted(errors)))
    return ", ".join(notes)


# Tables ---------------------------------------------------------------------------------------

def header(columns):
    """A markdown table head; columns are (title, numeric), numbers aligned right."""
    titles = [t for t, _ in columns]
    rule = ["---:" if numeric else "---" for _, numeric in columns]
    return ["| " + " | ".join(titles) + " |", "| " + " | ".join(rule) + " |"]


def lane_table(cases, figs, paired):
    columns = [("case", False), ("req/s", True), ("p50 µs", True), ("p99 µs", True), ("CPU µs/req", True),
               ("added per request", True), ("against", False)]
    columns += [("jwt-relay / jwt_authn", True), ("by CPU", True)] if paired else []
    columns += [("req/s by round", False), ("counters", False), ("RSS MiB", True), ("first 200 after start", True)]
    lines = header(columns)
    for case in cases:
        f = figs.get(case.name)
        if not f:
            continue
        row = [case.name, num(f.rps), num(f.p50), num(f.p99), num(f.cpu, 1),
               duration(f.added) if case.base else "baseline", case.base or ""]
        row += [num(f.ratio, 2) if case.pair else "", num(f.cpu_ratio, 2) if case.pair else ""] if paired else []
        row += [" / ".join(kilo(r) for r in f.rounds), checks(f.samples), num(f.rss, 0), f"{f.first_ok:.2f} s"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def body_table(cases, figs):
    series = list(dict.fromkeys(c.series for c in cases if c.series))
    sizes = [size_label(s) for s in BODY_SIZES]
    lines = header([("mint", False)] + [(f"added, {s}", True) for s in sizes]
                   + [(f"body MB/s, {s}", True) for s in sizes[1:]])
    for name in series:
        added = [figs.get(f"{name}, {s}") for s in sizes]
        row = [name] + [duration(f.added) if f else "–" for f in added]
        row += [num(body_rate(figs, name, size)) for size in BODY_SIZES[1:]]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def verdict(ok):
    return "" if ok is None else (" ✔" if ok else " ✘")


def at_least(x, goal):
    return None if math.isnan(x) else x >= goal


def at_most(x, goal):
    return None if math.isnan(x) else x <= goal


def summary(figs, ngx_figs, wasm_bytes, startup=None):
    """Issue 16's table: measured now, with each goal and whether it is met."""
    get = lambda name: figs.get(name)
    field = lambda name, attr: getattr(get(name), attr) if get(name) else NAN
    rows = []

    relay, noop = field("jwt-relay {}", "rps"), field("no-op wasm filter", "rps")
    both = get("jwt-relay {}") and get("no-op wasm filter")
    bare = per_round(get("jwt-relay {}").samples, get("no-op wasm filter").samples,
                     lambda a, b: a.rps / b.rps) if both else NAN
    bare_cpu = per_round(get("jwt-relay {}").samples, get("no-op wasm filter").samples, cpu_ratio) if both else NAN
    rows.append(["`{}` / bare no-op proxy-wasm filter", "–", f"{kilo(relay)} vs {kilo(noop)} req/s",
                 ratio_cell(bare, bare_cpu), "≥ 0.97" + verdict(at_least(bare, 0.97))])
    goals = {("RS256", "same"): 1.0, ("RS256", "distinct"): 0.6, ("ES256", "distinct"): 0.35}
    for alg in ("RS256", "ES256"):
        for kind, authn, mine in (("same", f"jwt_authn {alg} same token (cache)", f"jwt-relay {alg} same token"),
                                  ("distinct", f"jwt_authn {alg} {DISTINCT_TOKENS} tokens (no cache)",
                                   f"jwt-relay {alg} {DISTINCT_TOKENS} tokens")):
            label = f"{alg}, same token (caches on)" if kind == "same" else f"{alg}, {DISTINCT_TOKENS:,} distinct tokens"
            ratio, goal = field(mine, "ratio"), goals.get((alg, kind))
            rows.append([label, f"{kilo(field(authn, 'rps'))} ({duration(field(authn, 'added'))} added)",
                         f"{kilo(field(mine, 'rps'))} ({duration(field(mine, 'added'))} added)",
                         ratio_cell(ratio, field(mine, "cpu_ratio")),
                         f"≥ {goal}" + verdict(at_least(ratio, goal)) if goal else "–"])
            if (alg, kind) == ("RS256", "same") and get(HOST_CALL_FLOOR):
                rows.append([f"↳ floor: {HOST_CALL_FLOOR}", "–",
                             f"{kilo(field(HOST_CALL_FLOOR, 'rps'))} ({duration(field(HOST_CALL_FLOOR, 'added'))} added)",
                             ratio_cell(field(HOST_CALL_FLOOR, "ratio"), field(HOST_CALL_FLOOR, "cpu_ratio")),
                             "– (no filter's code, only the ABI)"])
    rs = field("upstream_jwt RS256, 1 KiB", "added")
    rows.append(["upstream_jwt RS256 mint, 1 KiB body", "–", f"{duration(rs)} added", "–",
                 "≤ 1.5 ms" + verdict(at_most(rs, 1500))])
    for alg, goal in (("ES256", 150), ("EdDSA", 50)):
        added = field(f"upstream_jwt {alg}, 1 KiB", "added")
        rows.append([f"upstream_jwt {alg} mint, 1 KiB body", "–", f"{duration(added)} added", "–",
                     f"≤ {goal} µs" + verdict(at_most(added, goal))])
    if get(MINT_FLOOR):
        rows.append([f"↳ floor: {MINT_FLOOR}", "–", f"{duration(field(MINT_FLOOR, 'added'))} added", "–",
                     "– (no filter's code, only the ABI)"])
    rates = [body_rate(figs, "upstream_jwt EdDSA", s) for s in BODY_SIZES[1:]]
    fast = None if any(math.isnan(r) for r in rates) else min(rates) >= 400
    rows.append(["body hashing (EdDSA mint, 64 KiB and 1 MiB)", "–", " / ".join(f"{num(r)} MB/s" for r in rates),
                 "–", "≥ 400 MB/s, linear" + verdict(fast)])
    rows.append(["`.wasm` size", "–", f"{wasm_bytes / 1e6:.2f} MB ({wasm_bytes / MIB:.2f} MiB)", "–",
                 "≤ 1 MiB" + verdict(wasm_bytes <= MIB)])
    rows.append(envoy_first_request_row(figs))
    rows.append(first_request_row(ngx_figs, startup))
    lines = header([("case", False), ("jwt_authn (native)", False), ("jwt-relay", False), ("ratio", True),
                    ("goal", False)])
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def ratio_cell(by_rps, by_cpu):
    """Issue 16's ratio (req/s), with the same ratio by CPU time per request beside it."""
    return num(by_rps, 2) + ("" if math.isnan(by_cpu) else f" (CPU {by_cpu:.2f})")


def envoy_first_request_row(figs):
    """Envoy compiles the module as it loads the configuration: its first answer waits for it."""
    relay = median([f.first_ok for name, f in figs.items() if name.startswith(("jwt-relay", "upstream_jwt"))])
    noop = figs.get("no-op wasm filter")
    against = f" (no-op filter {noop.first_ok:.2f} s)" if noop else ""
    return ["first request after Envoy starts", "–", f"{relay:.2f} s{against}", "–", "≤ 0.3 s" + verdict(at_most(relay, 0.3))]


def first_request_row(ngx_figs, startup):
    """Kong's engine compiles the module when a worker starts, so its first answer waits for it,
    unless wasmtime's cache (Kong 3.8+) already holds the compiled module."""
    label = "first request on a new Kong/ngx worker"
    if ngx_figs is None:
        return [label, "–", "not measured (Kong lane skipped)", "–", "≤ 0.3 s"]
    if startup is None:
        return [label, "–", "not measured (no jwt-relay case selected)", "–", "≤ 0.3 s"]
    cold, cached = startup
    return [label, "–", f"{cached:.2f} s with wasmtime's cache (Kong 3.8+); {cold:.2f} s compiling (Kong 3.4–3.7, "
            "or a new .wasm)", "–", "≤ 0.3 s" + verdict(at_most(cached, 0.3))]


def memory_lines(lane_name, figs, samples_stats):
    """VM memory: the host's own statistic when it has one, else the process's RSS."""
    lines = []
    if samples_stats is not None:
        memory = {k: v for k, v in samples_stats.items() if re.search(r"mem|heap|bytes", k)}
        if memory:
            lines.append(f"- {lane_name} wasm memory statistics after the run: "
                         + ", ".join(f"`{k}` = {v:,}" for k, v in sorted(memory.items())))
        else:
            names = ", ".join(f"`{k}`" for k in sorted(samples_stats) if not k.startswith("wasm.remote_load"))
            lines.append(f"- {lane_name} exposes no wasm VM memory statistic (its wasm statistics: {names or 'none'}).")
    else:
        lines.append(f"- {lane_name} exposes no wasm VM memory statistic.")
    none, relay = figs.get("no filter"), [f for n, f in figs.items() if n.startswith(("jwt-relay", "upstream_jwt"))]
    if none and relay:
        rss = lambda name: num(figs[name].rss) if name in figs else "–"
        top = max(f.rss for f in relay)
        vms = (samples_stats or {}).get("wasm.wasm_vm_count")
        lines.append(f"- {lane_name} process RSS after the run (median over rounds), the closest figure to VM "
                     f"memory: {rss('no filter')} MiB without filters, {rss('no-op wasm filter')} MiB with the "
                     f"no-op filter, {rss('jwt-relay {}')} MiB with jwt-relay `{{}}`, at most {num(top)} MiB "
                     f"with jwt-relay in any case: jwt-relay adds about {num(top - none.rss)} MiB"
                     + (f" for its {vms} VMs (`wasm.wasm_vm_count`)." if vms else "."))
    return lines


# The whole file -------------------------------------------------------------------------------

def smoke(settings):
    return settings.seconds < 5 or settings.rounds < 3


def render(mach, settings, where, cases, runs, jose_rows, dudect_result=None, own_rows=None):
    lanes = {lane.name: (lane, results) for lane, results in runs}
    envoy_lane, envoy_results = lanes["Envoy"]
    figs = figures(cases, envoy_results)
    ngx_figs, startup = None, None
    if "Kong's engine" in lanes:
        ngx_lane, ngx_results = lanes["Kong's engine"]
        ngx_figs, startup = figures(cases, ngx_results), ngx_lane.startup
    wasm_bytes = os.path.getsize(where["relay"])
    out = ["# jwt-relay benchmark results", ""]
    if smoke(settings):
        out += [f"> **Smoke run** (BENCH_SECONDS={settings.seconds}, BENCH_ROUNDS={settings.rounds}): a check "
                "that the harness works, not figures to quote.", ""]
    out += ["Generated by `make bench` (bench/run.py), which overwrites this file. The machine is shared and "
            "noisy: ratios between cases of the same round count more than absolute figures.", ""]
    out += setup_lines(mach, settings, envoy_lane, where)
    out += ["", "## Summary against issue 16's goals (Envoy, V8)", ""] + summary(figs, ngx_figs, wasm_bytes, startup)
    out += ["", "## Envoy (V8): every case", ""] + lane_table(cases, figs, paired=True)
    out += ["", "### Body hashing (upstream_jwt, Envoy)", "",
            "Added time against Envoy buffering the same body without wasm; MB/s is the growth of "
            "the cost with the body (copy into the VM, SHA-256), the 1 KiB case's cost taken away. The cheap "
            "signers (HS256, EdDSA) give the steadiest MB/s: an RSA signature's own jitter is larger than the "
            "64 KiB body's cost.", ""]
    out += body_table(cases, figs)
    out += ["", "## Kong's engine (ngx_wasm_module)", ""] + ngx_section(lanes, cases, ngx_figs)
    out += ["", "## JOSE per operation (µs; wasm = wasm32-wasip1 in V8, bench/v8.py)", ""]
    out += jose_table(*jose_rows) if jose_rows else ["Skipped (BENCH_JOSE_MS=0)."]
    out += ["", "## The filter's own time per request (V8, host calls at no cost)", "",
            "The same `.wasm` files in V8 (the Node named above) behind a proxy-wasm host written in JS whose calls cost next "
            "to nothing (bench/own_time.mjs): every callback of one request, median of 3 runs (50,000 requests "
            "each; 5,000 for distinct tokens, 20,000 for minting). Each run also checks what the filter did: "
            "the headers it set and its counters per request (a signature verified, or a cache hit, or a "
            "token minted). Beside it, what the same case added per request in Envoy (CPU, above): the rest "
            "is the host's (a wasm filter at all, its calls, copying headers and bodies), the host-call "
            "floor cases show that part for a cached token and for a mint on a 1 KiB body.", ""]
    added = {name: f.added for name, f in figs.items()}
    out += own_table(own_rows, added) if own_rows else ["Skipped (BENCH_OWN=0)."]
    if not dudect_result:
        out += ["", "## Timing of the RSA kernel and ES256 signing (dudect): fixed vs random secret", "",
                "Skipped (BENCH_DUDECT=0)."]
    for build, comments, rows in dudect_result or []:
        out += ["", f"## Timing of the RSA kernel and ES256 signing (dudect, {build}): fixed vs random secret", ""]
        out += dudect_table(comments, rows, build)
    out += ["", "## Size and memory", ""] + size_lines(where, wasm_bytes)
    last_stats = last_wasm_stats(envoy_results)
    out += memory_lines("Envoy", figs, last_stats)
    if ngx_figs is not None:
        out += memory_lines("Kong's engine", ngx_figs, None)
    return "\n".join(out) + "\n"


def setup_lines(mach, settings, envoy_lane, where):
    return [
        f"- Date: {mach['date']}",
        f"- Machine: {mach['cpu']}, {mach['cores']} cores (/proc/cpuinfo); load average before the run: {mach['load']}",
        f"- {envoy_lane.version()}, V8 runtime, `--concurrency 1`, direct response (no upstream)",
        "- Kong's engine: " + ("JWT_RELAY_NGX_BIN, `worker_processes 1`, answer from a local server in the same nginx"
                               if where["ngx"] else "lane skipped (JWT_RELAY_NGX_BIN is unset)"),
        f"- {mach['rustc']}; {mach['wrk']}; {mach['node']} with `--no-liftoff`, as Envoy runs Wasm "
        "(JOSE per operation, the filter's own time; bench/v8.py)",
        f"- Load: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {settings.seconds} s per measurement after a "
        f"{settings.warmup} s warm-up, a fresh proxy per measurement, {settings.rounds} interleaved round(s), medians",
    ]


def ngx_section(lanes, cases, ngx_figs):
    if ngx_figs is None:
        return ["Skipped: JWT_RELAY_NGX_BIN is unset."]
    lines = ["jwt_authn is Envoy's own, so there is no pairing here; the body baseline is the plain proxy "
             "(nginx reads the whole body before proxying anyway). wasmtime's compile cache is on, as Kong 3.8+ "
             "configures it, so \"first 200 after start\" is a worker loading the compiled module from it.", ""]
    lines += lane_table(cases, ngx_figs, paired=False)
    return lines + ["", "### Body hashing (upstream_jwt, Kong's engine)", ""] + body_table(cases, ngx_figs)


def size_lines(where, wasm_bytes):
    noop = os.path.getsize(where["noop"])
    return [f"- `filters/jwt_relay.wasm`: {wasm_bytes:,} bytes ({wasm_bytes / MIB:.2f} MiB); "
            f"the no-op filter: {noop:,} bytes ({noop / MIB:.2f} MiB)"]


def last_wasm_stats(results):
    """Envoy's wasm statistics from the last jwt-relay measurement."""
    stats = [s.wasm_stats for samples in results.values() for s in samples if s.wasm_stats]
    return stats[-1] if stats else {}
