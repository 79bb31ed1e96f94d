//! What the ports of Kong's plugin specs share (`tests/kong_jwt_spec.rs`,
//! `tests/kong_auth_spec.rs`): a gateway per host for one route configuration, the consumer
//! headers Kong's `set_consumer` sends, and the checks of a refused configuration.

use super::gateway::{hosts_for, Gateway, Host};
use super::http::{Request, Response};
use super::server::{Recorded, Server};
use super::Setup;
use serde_json::{json, Value};

/// One host running one route configuration, with the recording upstream behind it.
pub struct Lane {
    pub host: Host,
    pub gw: Gateway,
    pub upstream: Server,
}

impl Lane {
    pub fn start(host: Host, config: &str) -> Lane {
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new(config, upstream.addr()));
        Lane { host, gw, upstream }
    }

    /// Sends a request Kong proxies: asserts the 200 (without a challenge) and returns what the
    /// upstream received.
    pub fn pass(&self, req: &Request) -> Recorded {
        let before = self.upstream.requests().len();
        let resp = self.gw.send(req);
        assert_eq!(resp.status, 200, "{:?}: {}", self.host, resp.text());
        assert_eq!(resp.header("www-authenticate"), None, "{:?}", self.host);
        self.upstream.wait_for(before + 1).swap_remove(before)
    }

    /// Sends a request Kong answers itself: asserts nothing reached the upstream.
    pub fn refuse(&self, req: &Request) -> Response {
        let before = self.upstream.requests().len();
        let resp = self.gw.send(req);
        assert_eq!(
            self.upstream.requests().len(),
            before,
            "{:?}: a refused request reached the upstream",
            self.host
        );
        resp
    }
}

/// A refusal as Kong's plugins answer it (`kong.response.exit` / `kong.response.error`): the
/// status 401, the JSON body, the challenge and the JSON content type.
pub fn assert_401(lane: &Lane, resp: &Response, body: Value, challenge: &str) {
    let host = lane.host;
    assert_eq!(resp.status, 401, "{host:?}: {}", resp.text());
    assert_eq!(resp.json(), body, "{host:?}");
    assert_eq!(resp.header("www-authenticate"), Some(challenge), "{host:?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{host:?}"
    );
}

pub const CONSUMER_HEADERS: [&str; 5] = [
    "x-consumer-id",
    "x-consumer-custom-id",
    "x-consumer-username",
    "x-credential-identifier",
    "x-anonymous-consumer",
];

/// The consumer headers the upstream received, in [`CONSUMER_HEADERS`] order.
pub fn consumer_headers(rec: &Recorded) -> Vec<(String, String)> {
    CONSUMER_HEADERS
        .iter()
        .flat_map(|n| {
            rec.header_all(n)
                .into_iter()
                .map(move |v| (n.to_string(), v.to_string()))
        })
        .collect()
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Kong's `set_consumer(consumer, credential)` headers: id, custom_id, username, the credential
/// identifier; `X-Anonymous-Consumer` absent.
pub fn consumer(
    id: &str,
    custom_id: &str,
    username: &str,
    credential: &str,
) -> Vec<(String, String)> {
    pairs(&[
        ("x-consumer-id", id),
        ("x-consumer-custom-id", custom_id),
        ("x-consumer-username", username),
        ("x-credential-identifier", credential),
    ])
}

/// Kong's `set_consumer(anonymous, nil)` headers: no credential, `X-Anonymous-Consumer: true`.
pub fn anonymous(id: &str, custom_id: &str, username: &str) -> Vec<(String, String)> {
    pairs(&[
        ("x-consumer-id", id),
        ("x-consumer-custom-id", custom_id),
        ("x-consumer-username", username),
        ("x-anonymous-consumer", "true"),
    ])
}

/// The configuration is refused at load ([`Gateway::refused`]), the log saying why.
pub fn assert_config_refused(config: &str, expected_log: &str) {
    for host in hosts_for(config) {
        let upstream = Server::ok();
        let log = Gateway::refused(host, Setup::new(config, upstream.addr()));
        assert!(
            log.contains(expected_log),
            "{host:?}: log lacks {expected_log:?}:\n{log}"
        );
        assert!(upstream.requests().is_empty(), "{host:?}");
    }
}

/// Kong compares these bodies byte for byte (`assert.equal('{"exp":"token expired"}', body)`).
pub fn assert_body_bytes(lane: &Lane, resp: &Response, want: &str) {
    // Different on purpose (README, host row): Kong's engine appends a LF to every body a
    // filter answers with (ngx_wasm_module's local response); Kong's plugin sends none.
    let want = match lane.host {
        Host::Envoy => want.to_string(),
        Host::Ngx => format!("{want}\n"),
    };
    assert_eq!(resp.text(), want, "{:?}", lane.host);
}

pub fn message(text: &str) -> Value {
    json!({ "message": text })
}
