// The filter's own time per request in V8, apart from the proxy's ABI: Node instantiates the
// filter's .wasm with a proxy-wasm host written here in JS, whose calls cost next to nothing,
// and times every callback of one request (context create, request headers, response headers,
// log, done, delete) over many requests. Envoy runs the same module in V8, where the host's
// calls cost what the bench's "host-call floor" case shows.
//
// Usage: node --no-warnings bench/own_time.mjs MODULE.wasm CONFIG_FILE HEADERS_JSON ITERATIONS
//            [--tokens FILE] [--body BYTES]
// HEADERS_JSON is the request's headers as [[name, value], ...]. `--tokens` gives one token per
// line: request k carries token k (cycling) as `Authorization: Bearer`, so a cache smaller than
// the list never helps. `--body` sends a body of that many bytes after the headers (as Envoy
// does: headers without end of stream, then the whole body). Prints `US_PER_REQUEST`, then the
// headers the filter set, then each counter's increments per timed request (JSON). Exits non-zero
// when the filter answered the request itself or did not let it through (a misconfigured case
// must not be timed).
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const [modulePath, configPath, headersJson, iterationsArg, ...options] = process.argv.slice(2);
if (!modulePath || !configPath || !headersJson) {
  console.error('usage: node bench/own_time.mjs MODULE.wasm CONFIG_FILE HEADERS_JSON [ITERATIONS] '
    + '[--tokens FILE] [--body BYTES]');
  process.exit(2);
}
const option = (name) => {
  const at = options.indexOf(name);
  return at < 0 ? undefined : options[at + 1];
};
const iterations = Number(iterationsArg || 50000);
const config = readFileSync(configPath);
const headers = JSON.parse(headersJson);
const tokensPath = option('--tokens');
const tokens = tokensPath ? readFileSync(tokensPath, 'utf8').split('\n').filter((t) => t) : [];
const body = new Uint8Array(Number(option('--body') || 0)).fill(0x61);

// Proxy-Wasm statuses and callback answers.
const OK = 0, NOT_FOUND = 1, CONTINUE = 0;
// Buffer types.
const REQUEST_BODY = 0;

const wasi = new WASI({ version: 'preview1', args: [], env: {}, returnOnExit: true });
let instance;
const bytes = () => new Uint8Array(instance.exports.memory.buffer);
const view = () => new DataView(instance.exports.memory.buffer);

// Copies `data` into memory the module allocates, as a host does, and returns its address.
function handOver(data, ptrOut, sizeOut) {
  const at = instance.exports.proxy_on_memory_allocate(data.length);
  bytes().set(data, at);
  view().setUint32(ptrOut, at, true);
  view().setUint32(sizeOut, data.length, true);
  return OK;
}

// The header map in the ABI's format: count, (key length, value length)s, NUL-ended strings.
function headerMap(pairs) {
  const enc = new TextEncoder();
  const encoded = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)]);
  const size = 4 + encoded.reduce((n, [k, v]) => n + 8 + k.length + v.length + 2, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, encoded.length, true);
  let at = 4 + 8 * encoded.length;
  encoded.forEach(([k, v], i) => {
    dv.setUint32(4 + 8 * i, k.length, true);
    dv.setUint32(8 + 8 * i, v.length, true);
    out.set(k, at); at += k.length + 1;
    out.set(v, at); at += v.length + 1;
  });
  return out;
}

// One header map per token (encoded before timing), or the one request's.
const maps = tokens.length
  ? tokens.map((t) => headerMap(headers.map(([k, v]) => [k, k === 'authorization' ? `Bearer ${t}` : v])))
  : [headerMap(headers)];
let requestHeaders = maps[0];
// Headers the filter set, recorded during the warm-up only (decoding them is not its cost).
const set = new Map();
let recording = true;
let answeredLocally = false;
const text = (ptr, len) => new TextDecoder().decode(bytes().subarray(ptr, ptr + len));

function record(k, kl, v, vl) {
  if (recording) set.set(text(k, kl), text(v, vl));
  return OK;
}

// Counters by name, counted in the timed loop only: they show what the filter did per request
// (verified a signature, hit its cache, minted).
const metricNames = [];
const counted = new Map();
function defineMetric(_kind, name, len, idOut) {
  metricNames.push(text(name, len));
  view().setUint32(idOut, metricNames.length, true);
  return OK;
}
function incrementMetric(id, delta) {
  if (!recording) {
    const name = metricNames[id - 1];
    counted.set(name, (counted.get(name) ?? 0) + Number(delta));
  }
  return OK;
}

const host = {
  proxy_log: () => OK,
  proxy_get_current_time_nanoseconds: (out) => {
    view().setBigUint64(out, BigInt(Date.now()) * 1000000n, true);
    return OK;
  },
  proxy_get_buffer_bytes: (type, start, len, ptrOut, sizeOut) =>
    handOver(type === REQUEST_BODY ? body.subarray(start, start + len) : config, ptrOut, sizeOut),
  proxy_get_header_map_pairs: (_map, ptrOut, sizeOut) => handOver(requestHeaders, ptrOut, sizeOut),
  proxy_get_property: () => NOT_FOUND,
  proxy_define_metric: defineMetric,
  proxy_increment_metric: incrementMetric,
  proxy_record_metric: () => OK,
  proxy_replace_header_map_value: (_map, k, kl, v, vl) => record(k, kl, v, vl),
  proxy_add_header_map_value: (_map, k, kl, v, vl) => record(k, kl, v, vl),
  proxy_remove_header_map_value: () => OK,
  proxy_send_local_response: () => { answeredLocally = true; return OK; },
  proxy_set_tick_period_milliseconds: () => OK,
  proxy_continue_stream: () => OK,
  proxy_set_effective_context: () => OK,
};
const imports = wasi.getImportObject();
// Any other host function the module imports: a call would mean the case is not what it
// claims (a dispatch, shared data), so it fails loudly.
imports.env = new Proxy(host, {
  get: (known, name) => known[name] ?? (() => { throw new Error(`unexpected host call ${String(name)}`); }),
});
instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(modulePath)), imports);
wasi.initialize(instance);
const x = instance.exports;
const ROOT = 1;
x.proxy_on_context_create(ROOT, 0);
x.proxy_on_vm_start(ROOT, 0);
if (!x.proxy_on_configure(ROOT, config.length)) {
  console.error('the filter refused its configuration');
  process.exit(1);
}

function request(id) {
  requestHeaders = maps[id % maps.length];
  x.proxy_on_context_create(id, ROOT);
  let action = x.proxy_on_request_headers(id, headers.length, body.length ? 0 : 1);
  if (body.length) action = x.proxy_on_request_body(id, body.length, 1);
  x.proxy_on_response_headers(id, 2, 0);
  x.proxy_on_log(id);
  x.proxy_on_done(id);
  x.proxy_on_delete(id);
  return action;
}

// Warm-up: V8 compiles in tiers; the timed loop runs on the optimized code, as in Envoy.
let id = 2;
for (let i = 0; i < Math.min(iterations, 5000); i++) {
  if (request(id++) !== CONTINUE || answeredLocally) {
    console.error('the filter did not let the request through: the case is misconfigured');
    process.exit(1);
  }
}
recording = false;
const started = process.hrtime.bigint();
for (let i = 0; i < iterations; i++) request(id++);
const us = Number(process.hrtime.bigint() - started) / 1000 / iterations;
console.log(us.toFixed(3));
console.log(JSON.stringify([...set.keys()].sort()));
console.log(JSON.stringify(Object.fromEntries([...counted].map(([name, n]) => [name, n / iterations]))));
