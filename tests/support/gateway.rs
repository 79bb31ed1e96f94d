//! One integration suite, two hosts: a test starts a [`Gateway`] per [`Host`] this machine has
//! and sends the same requests through each. Envoy is always there (`make test` installs it);
//! Kong's engine only where `JWT_RELAY_NGX_BIN` points at it, else its lane is skipped with one
//! printed line.

use super::envoy::fixture_path;
use super::envoy::{Envoy, Setup, StartFailure};
use super::http::{Request, Response};
use super::nginx::{ngx_bin, Nginx};
use std::net::SocketAddr;
use std::process::Command;
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

/// nginx reads the filter configuration inline from nginx.conf, where one argument is capped at
/// 4 KiB (`NGX_CONF_BUFFER`); Kong hands it over through Lua, without that cap.
pub const NGX_CONFIG_MAX: usize = 4000;

/// The hosts a test with this filter configuration can run on: as [`hosts`], less Kong's engine
/// when the configuration is too long for an nginx.conf argument (the test says so on stderr).
pub fn hosts_for(filter_config: &str) -> Vec<Host> {
    let mut all = hosts();
    if filter_config.len() > NGX_CONFIG_MAX && all.contains(&Host::Ngx) {
        eprintln!(
            "jwt-relay: configuration of {} bytes is too long for nginx.conf: Envoy only",
            filter_config.len()
        );
        all.retain(|h| *h == Host::Envoy);
    }
    all
}

/// A running host with the filter.
pub enum Gateway {
    Envoy(Envoy),
    Ngx(Nginx),
}

impl Gateway {
    /// Starts `host` with `setup`.
    pub fn start(host: Host, setup: Setup) -> Gateway {
        Self::try_start(host, setup).unwrap_or_else(|f| panic!("{host:?} did not start: {f:?}"))
    }

    /// Starts `host`; on failure its exit status and log.
    pub fn try_start(host: Host, setup: Setup) -> Result<Gateway, StartFailure> {
        match host {
            Host::Envoy => Envoy::try_start(setup).map(Gateway::Envoy),
            Host::Ngx => Nginx::try_start(setup).map(Gateway::Ngx),
        }
    }

    /// Starts `host` with a configuration the filter refuses, and returns the host's log.
    /// Envoy refuses to start. Kong's engine serves, answering every request 500 with nothing
    /// sent upstream: Kong drops a filter chain whose filter refuses its configuration and
    /// proxies the routes without it, so the filter never tells it (review).
    pub fn refused(host: Host, setup: Setup) -> String {
        let upstream = setup.upstream;
        match (host, Self::try_start(host, setup)) {
            (Host::Envoy, Ok(gw)) => panic!("Envoy served a refused configuration:\n{}", gw.log()),
            (Host::Envoy, Err(failure)) => {
                assert_ne!(
                    failure.exited, None,
                    "Envoy neither started nor exited:\n{}",
                    failure.log
                );
                assert_ne!(failure.exited, Some(0));
                failure.log
            }
            (Host::Ngx, Err(failure)) => panic!("the engine did not serve: {failure:?}"),
            (Host::Ngx, Ok(gw)) => {
                for req in [Request::get("/a"), Request::post("/b", b"x".to_vec())] {
                    let resp = gw.send(&req);
                    // The engine ends every body a filter answers with a LF.
                    assert_eq!(
                        (resp.status, resp.text().as_str()),
                        (500, "{\"message\":\"An unexpected error occurred\"}\n"),
                        "to {upstream}"
                    );
                }
                let log = gw.log();
                let rejected = log
                    .lines()
                    .find(|l| l.contains("jwt-relay: configuration rejected: "))
                    .unwrap_or_default();
                assert!(rejected.contains(super::nginx::FAILS_CLOSED), "{log}");
                log
            }
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

    /// `curl` GET `/r` over TLS (a gateway started with [`Setup::mtls`](super::Setup::mtls)),
    /// with the client certificate of `mtls_client_cert.pem` or without, and `args` (`-H`,
    /// `-u`): the status, `None` when the TLS handshake failed.
    pub fn curl_tls(&self, with_cert: bool, args: &[&str]) -> Option<u16> {
        let url = format!("https://{}/r", self.listener());
        let mut cmd = Command::new("curl");
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(["--cacert", &fixture_path("mtls_ca.pem")]);
        if with_cert {
            cmd.args(["--cert", &fixture_path("mtls_client_cert.pem")])
                .args(["--key", &fixture_path("mtls_client_key.pem")]);
        }
        let out = cmd.args(args).arg(url).output().expect("curl runs");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .ok()
            .filter(|code| *code != 0)
    }
}
