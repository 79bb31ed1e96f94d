//! One integration suite, two hosts: a test starts a [`Gateway`] per [`Host`] this machine has
//! and sends the same requests through each. Envoy is always there (`make test` installs it);
//! Kong's engine only where `JWT_RELAY_NGX_BIN` points at it, else its lane is skipped with one
//! printed line.

use super::envoy::{Envoy, Setup};
use super::http::{Request, Response};
use super::nginx::{ngx_bin, Nginx};
use std::net::SocketAddr;
use std::sync::Once;

/// A proxy that runs the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Envoy,
    /// nginx + ngx_wasm_module, proxying as Kong does.
    Ngx,
}

static SKIP_NOTE: Once = Once::new();

/// The hosts to run a test on: Envoy, and Kong's engine when `JWT_RELAY_NGX_BIN` is set.
pub fn hosts() -> Vec<Host> {
    if ngx_bin().is_some() {
        return vec![Host::Envoy, Host::Ngx];
    }
    SKIP_NOTE.call_once(|| {
        eprintln!(
            "jwt-relay: JWT_RELAY_NGX_BIN is unset: the ngx_wasm_module (Kong) lane is skipped"
        );
    });
    vec![Host::Envoy]
}

/// A running host with the filter.
pub enum Gateway {
    Envoy(Envoy),
    Ngx(Nginx),
}

impl Gateway {
    /// Starts `host` with `setup`.
    pub fn start(host: Host, setup: Setup) -> Gateway {
        match host {
            Host::Envoy => Gateway::Envoy(Envoy::start(setup)),
            Host::Ngx => Gateway::Ngx(Nginx::start(setup)),
        }
    }

    /// Starts `host` with `setup`; when it does not come up (a refused filter configuration),
    /// everything it logged.
    pub fn try_start(host: Host, setup: Setup) -> Result<Gateway, String> {
        match host {
            Host::Envoy => Envoy::try_start(setup)
                .map(Gateway::Envoy)
                .map_err(|f| f.log),
            Host::Ngx => Nginx::try_start(setup).map(Gateway::Ngx).map_err(|f| f.log),
        }
    }

    pub fn host(&self) -> Host {
        match self {
            Gateway::Envoy(_) => Host::Envoy,
            Gateway::Ngx(_) => Host::Ngx,
        }
    }

    pub fn send(&self, req: &Request) -> Response {
        match self {
            Gateway::Envoy(e) => e.send(req),
            Gateway::Ngx(n) => n.send(req),
        }
    }

    pub fn log(&self) -> String {
        match self {
            Gateway::Envoy(e) => e.log(),
            Gateway::Ngx(n) => n.log(),
        }
    }

    pub fn listener(&self) -> SocketAddr {
        match self {
            Gateway::Envoy(e) => e.listener,
            Gateway::Ngx(n) => n.listener,
        }
    }
}
