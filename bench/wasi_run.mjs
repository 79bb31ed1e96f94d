// Runs a wasm32-wasip1 command module (e.g. examples/jose_bench) under Node's node:wasi, whose V8
// stands in for Envoy's. Usage: node --no-warnings bench/wasi_run.mjs MODULE.wasm [ARGS...]
// The module gets its arguments and environment, stdout/stderr, and no filesystem access.
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { WASI } from 'node:wasi';

const [modulePath, ...args] = process.argv.slice(2);
if (!modulePath) {
  console.error('usage: node bench/wasi_run.mjs MODULE.wasm [ARGS...]');
  process.exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: [modulePath, ...args],
  env: process.env,
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(modulePath));
// The crate also holds the proxy-wasm glue, whose host imports ("env") a benchmark never calls:
// each is a stub that throws if it ever is.
const env = new Proxy({}, {
  get: (_, name) => () => { throw new Error(`proxy-wasm host call ${String(name)} in a benchmark`); },
});
const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env });
// The library's proxy-wasm entry exports `_initialize`, which a WASI command must not have.
const { _initialize, ...exports } = instance.exports;
process.exitCode = wasi.start({ exports });
