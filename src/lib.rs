//! jwt-relay: a Proxy-Wasm HTTP filter that verifies, reconciles and mints JWTs.
//!
//! This crate is the thin glue between a Proxy-Wasm host (Envoy, Istio, Kong's ngx_wasm_module)
//! and the pure core, `jwt_relay_core`, which decides everything.

pub mod filter;
