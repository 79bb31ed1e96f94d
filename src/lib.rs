//! jwt-relay: a Proxy-Wasm HTTP filter that verifies, reconciles and mints JWTs.
//!
//! `config`, `jose` and `stages` are pure and test natively; `filter` is the thin proxy-wasm glue.

pub mod config;
pub mod filter;
pub mod jose;
pub mod stages;
