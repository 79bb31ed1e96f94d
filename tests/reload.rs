//! Configuration reload under load: Envoy serves the filter through ECDS (a watched file, as a
//! config-management tool or an xDS server would deliver it) while connections send requests
//! back to back. New keys, a section added, a bad configuration and a section removed are
//! pushed in turn; every answer during and between the switches must be right, and no
//! connection may break.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::{json, Value};
use std::sync::Arc;
use support::load::Load;
use support::tokens::{now, sign_hmac};
use support::{fixture, Envoy, Request, Server, Setup};

/// Answers each connection must see between two switches, so traffic is known to flow across
/// every switch.
const BETWEEN: u64 = 300;

fn bearer(key: &str, secret: &[u8]) -> Request {
    let token = sign_hmac("HS256", secret, &json!({"iss": key, "exp": now() + 3600}));
    Request::get("/load").header("authorization", &format!("Bearer {token}"))
}

fn consumer(id: &str, key: &str, secret: &str) -> Value {
    json!({"id": id, "username": id, "jwt_secrets": [{"key": key, "secret": secret}]})
}

/// The first configuration: two consumers, JWT only.
fn first() -> Value {
    json!({"consumers": [consumer("alice", "k-alice", "alice-secret-1"), consumer("old", "k-old", "old-secret")],
           "jwt": {}})
}

/// New keys (bob in, old out) and an `upstream_jwt` section added.
fn second() -> Value {
    json!({"consumers": [consumer("alice", "k-alice", "alice-secret-1"), consumer("bob", "k-bob", "bob-secret")],
           "jwt": {},
           "upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"), "algorithm": "ES256", "x5c": false}})
}

/// The `upstream_jwt` section removed again.
fn third() -> Value {
    json!({"consumers": [consumer("alice", "k-alice", "alice-secret-1"), consumer("bob", "k-bob", "bob-secret")],
           "jwt": {}})
}

/// The last request the upstream received for `path`.
fn last_for(upstream: &Server, path: &str) -> support::Recorded {
    upstream
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("nothing reached the upstream for {path}"))
}

/// Where the second configuration differs from the first, a request sent after the switch shows it.
fn assert_serves(envoy: &Envoy, upstream: &Server, stage: &str, bob: u16, old: u16, minted: bool) {
    let probe = |req: Request, path: &str| {
        let mut req = req;
        req.path = path.to_string();
        envoy.send(&req).status
    };
    assert_eq!(
        probe(bearer("k-bob", b"bob-secret"), "/probe-bob"),
        bob,
        "{stage}: bob"
    );
    assert_eq!(
        probe(bearer("k-old", b"old-secret"), "/probe-old"),
        old,
        "{stage}: old"
    );
    assert_eq!(
        probe(bearer("k-alice", b"alice-secret-1"), "/probe-alice"),
        200,
        "{stage}"
    );
    let seen = last_for(upstream, "/probe-alice");
    assert_eq!(
        seen.header("jwt").is_some(),
        minted,
        "{stage}: upstream JWT header"
    );
    assert_eq!(seen.header("x-consumer-username"), Some("alice"), "{stage}");
}

#[test]
fn config_pushed_under_load_switches_with_no_failed_request() {
    let upstream = Server::ok();
    let envoy = Envoy::start(Setup::new(first().to_string(), upstream.addr()).ecds());
    assert_serves(&envoy, &upstream, "first", 401, 200, false);

    // alice is in every configuration, always with the same secret: each of her requests must
    // pass whatever configuration it meets, and reach the upstream as alice.
    let check = Arc::new(|r: &support::Response| match r.status {
        200 => Ok(()),
        s => Err(format!("status {s}: {}", r.text())),
    });
    let load = Load::start(
        envoy.listener,
        4,
        vec![bearer("k-alice", b"alice-secret-1")],
        check,
    );
    load.wait_for_more(BETWEEN);

    envoy
        .push_filter_config(&second().to_string())
        .expect("second applied");
    load.wait_for_more(BETWEEN);
    assert_serves(&envoy, &upstream, "second", 200, 401, true);

    let bad = json!({"consumers": [consumer("bob", "k-bob", "bob-secret")], "jwt": {"claims_to_verify": ["iat"]}});
    let refused = envoy
        .push_filter_config(&bad.to_string())
        .expect_err("bad config refused");
    assert!(
        refused.contains("jwt-relay: configuration rejected: jwt.claims_to_verify[0]"),
        "the refusal names the JSON path"
    );
    load.wait_for_more(BETWEEN);
    assert_serves(&envoy, &upstream, "after the bad one", 200, 401, true);

    envoy
        .push_filter_config(&third().to_string())
        .expect("third applied");
    load.wait_for_more(BETWEEN);
    assert_serves(&envoy, &upstream, "third", 200, 401, false);

    let report = load.stop();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.completed >= 4 * BETWEEN, "{report:?}");
    let at_upstream = upstream
        .requests()
        .iter()
        .filter(|r| r.path == "/load")
        .inspect(|r| assert_eq!(r.header("x-consumer-username"), Some("alice")))
        .count() as u64;
    assert_eq!(
        at_upstream, report.completed,
        "every answered request reached the upstream once"
    );
}

/// A configuration refused from the start leaves no filter to run: Envoy answers every request
/// itself and nothing reaches the upstream (fails closed) until a good one arrives.
#[test]
fn refused_first_config_fails_closed_until_a_good_one_arrives() {
    let upstream = Server::ok();
    let bad = json!({"consumers": [consumer("a", "k", "s")], "jwt": {"claims_to_verify": ["iat"]}});
    let envoy = Envoy::start(Setup::new(bad.to_string(), upstream.addr()).ecds());
    let alice = bearer("k-alice", b"alice-secret-1");
    for req in [Request::get("/none"), alice.clone()] {
        let answer = envoy.send(&req);
        assert_eq!(answer.status, 500, "{}", answer.text());
    }
    assert!(
        upstream.requests().is_empty(),
        "a request passed with no filter configured"
    );
    envoy
        .push_filter_config(&first().to_string())
        .expect("good config applied");
    assert_eq!(envoy.send(&alice).status, 200);
    assert_eq!(envoy.send(&Request::get("/none")).status, 401);
    assert_eq!(upstream.requests().len(), 1);
}
