//! jwt-relay: a Proxy-Wasm HTTP filter that verifies, reconciles and mints JWTs.
//!
//! This crate is the thin glue between a Proxy-Wasm host (Envoy, Istio, Kong's ngx_wasm_module)
//! and the pure core, `jwt_relay_core`, which decides everything.

pub mod filter;

/// Every block the filter frees is zeroed first ([`filter::wiping_alloc`]). Only in the module:
/// native test binaries keep their own allocators.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: filter::wiping_alloc::Wiping<std::alloc::System> =
    filter::wiping_alloc::Wiping(std::alloc::System);
