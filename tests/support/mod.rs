//! The integration harness shared by every test file: a real Envoy, recording servers, a client.
#![allow(dead_code, unused_imports)]

pub mod envoy;
pub mod gateway;
pub mod h2;
pub mod http;
pub mod kong_spec;
pub mod load;
pub mod nginx;
pub mod oracle;
pub mod server;
pub mod tokens;

pub use envoy::{Envoy, Setup};
pub use gateway::{hosts, hosts_for, Gateway, Host};
pub use http::{Request, Response};
pub use server::{Recorded, Reply, Server};

use std::path::{Path, PathBuf};

/// The repository's root (the workspace, where `Cargo.lock` is), whichever package's tests run:
/// every path a test reads is under it.
pub fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(here)
        .to_path_buf()
}

/// A file of `tests/fixtures/jose`, as text.
pub fn fixture(name: &str) -> String {
    let path = repo().join("tests/fixtures/jose").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
