// Runs a wasm32-wasip1 command module (e.g. examples/jose_bench) under Node's node:wasi, whose V8
// stands in for Envoy's. Usage: node --no-warnings bench/wasi_run.mjs MODULE.wasm [ARGS...]
// The module gets its arguments and environment, stdout/stderr, and no filesystem access.
//
// A command built against the jwt-relay library also carries the filter's proxy-wasm exports,
// and with them imports of the proxy-wasm host functions (module "env"). A benchmark never calls
// them, so each non-WASI function import is stubbed with one that throws if it ever is.
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
const imports = wasi.getImportObject();
for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
  if (from in imports && name in imports[from]) continue;
  if (kind !== 'function') {
    throw new Error(`cannot stub non-function import ${from}.${name} (${kind})`);
  }
  imports[from] ??= {};
  imports[from][name] = () => {
    throw new Error(`host function ${from}.${name} is not available under node:wasi`);
  };
}
const instance = await WebAssembly.instantiate(module, imports);
// The library's proxy-wasm glue also exports `_initialize` (a reactor entry point), which
// node:wasi refuses next to `_start`; run the command through `_start` and memory alone.
const { _start, memory } = instance.exports;
process.exitCode = wasi.start({ exports: { _start, memory } });
