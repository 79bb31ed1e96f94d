//! The attack suite: requests an attacker would send, through a real Envoy loading the real
//! filter. Each group asserts that the filter answered the request itself and the upstream never
//! saw it, or saw only values the filter verified; after each group, the VM is still alive (no
//! trap in the log, no failed `wasm` counter) and a known-good request still goes through.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../support/mod.rs"]
mod support;

mod boundary;
mod bypass;
mod health;
mod identity;
mod stall;
mod tokens;
