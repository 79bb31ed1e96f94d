//! Metrics and logs through a real Envoy: counters by outcome, reason and algorithm appear in
//! `/stats` (Envoy prefixes plugin metrics with `wasmcustom.`); denials are logged with their
//! reason and request id, never the token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::json;
use support::tokens::{now, sign_hmac};
use support::{Envoy, Request, Server, Setup};

#[test]
fn counters_and_denial_logs_record_each_outcome() {
    let upstream = Server::ok();
    let config = json!({"consumers": [{"id": "c", "jwt_secrets": [{"key": "k", "secret": "s3cret"}]}], "jwt": {}});
    let envoy = Envoy::start(Setup::new(config.to_string(), upstream.addr()));
    let token = sign_hmac("HS256", b"s3cret", &json!({"iss": "k", "exp": now() + 60}));
    let good = Request::get("/r").header("authorization", &format!("Bearer {token}"));
    for _ in 0..3 {
        assert_eq!(envoy.send(&good).status, 200);
    }
    let bad = Request::get("/r")
        .header("authorization", "Bearer not.a.token")
        .header("x-request-id", "req-42");
    assert_eq!(envoy.send(&bad).status, 401);
    assert_eq!(envoy.send(&Request::get("/r")).status, 401);

    let stat = |name: &str| envoy.stat(&format!("wasmcustom.jwt_relay.{name}"));
    assert_eq!(stat("requests_allowed"), Some(3));
    assert_eq!(stat("tokens_verified.HS256"), Some(1));
    assert_eq!(stat("token_cache_hits"), Some(2));
    assert_eq!(stat("requests_denied.bad_token"), Some(1));
    assert_eq!(stat("requests_denied.no_token"), Some(1));
    // Gauges, refreshed at the VM's first finished request (then every 1024): its memory, in
    // whole 64 KiB pages, and the one token its cache held then.
    let memory = stat("vm_memory_bytes").expect("the VM memory gauge");
    assert!(memory > 0 && memory % 65536 == 0, "{memory}");
    assert_eq!(stat("token_cache_entries"), Some(1));
    assert_eq!(stat("reconcile_cache_entries"), Some(0));
    let log = envoy.log();
    assert!(
        log.contains("jwt-relay: denied: bad_token request_id=req-42"),
        "{log}"
    );
    assert!(
        !log.contains(&token) && !log.contains("not.a.token"),
        "a token reached the log"
    );
}

/// `"metrics": false` leaves the host's metrics alone (no counter is defined), and the filter
/// answers as with them: the switch Kong's engine needs before 3.8, where the metric calls trap.
#[test]
fn metrics_false_defines_no_counter() {
    let upstream = Server::ok();
    let config = json!({
        "metrics": false,
        "consumers": [{"id": "c", "jwt_secrets": [{"key": "k", "secret": "s3cret"}]}],
        "jwt": {}
    });
    let envoy = Envoy::start(Setup::new(config.to_string(), upstream.addr()));
    let token = sign_hmac("HS256", b"s3cret", &json!({"iss": "k", "exp": now() + 60}));
    let good = Request::get("/r").header("authorization", &format!("Bearer {token}"));
    assert_eq!(envoy.send(&good).status, 200);
    assert_eq!(envoy.send(&good).status, 200);
    assert_eq!(envoy.send(&Request::get("/r")).status, 401);
    assert_eq!(upstream.requests().len(), 2);
    let log = envoy.log();
    assert!(log.contains("jwt-relay: denied: no_token"), "{log}");
    for name in [
        "requests_allowed",
        "token_cache_hits",
        "requests_denied.no_token",
    ] {
        let stat = envoy.stat(&format!("wasmcustom.jwt_relay.{name}"));
        assert_eq!(stat, None, "{name}");
    }
}
