//! The integration harness shared by every test file: a real Envoy, recording servers, a client.
#![allow(dead_code, unused_imports)]

pub mod envoy;
pub mod gateway;
pub mod h2;
pub mod http;
pub mod nginx;
pub mod oracle;
pub mod server;
pub mod tokens;

pub use envoy::{Envoy, Setup};
pub use gateway::{hosts, hosts_for, Gateway, Host};
pub use http::{Request, Response};
pub use server::{Recorded, Reply, Server};
