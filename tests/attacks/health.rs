//! The check that closes every attack group: the VM survived and still serves.

use crate::support::{Envoy, Request, Server};
use std::time::{Duration, Instant};

/// Asserts the filter's VM did not trap: Envoy never reloaded it (its `wasm.<plugin>.vm_reload*`
/// counters stay at zero) and nothing in its log says so.
pub fn assert_vm_alive(envoy: &Envoy) {
    for counter in ["vm_reload", "vm_reload_failure", "vm_reload_success"] {
        let name = format!("wasm.jwt_relay.{counter}");
        assert_eq!(envoy.stat(&name), Some(0), "{name}");
    }
    let log = envoy.log();
    for bad in [
        "panicked at",
        "wasm trap",
        "Function: proxy_on",
        "failed to call",
    ] {
        assert!(
            !log.contains(bad),
            "VM trouble ({bad:?}) in the Envoy log:\n{log}"
        );
    }
}

/// Asserts a known-good request still reaches the upstream after an attack group.
pub fn assert_still_serves(envoy: &Envoy, upstream: &Server, good: &Request) {
    let before = upstream.requests().len();
    let resp = envoy.send(good);
    assert_eq!(
        resp.status,
        200,
        "known-good request after the attacks: {}",
        resp.text()
    );
    assert_eq!(upstream.requests().len(), before + 1);
    assert_vm_alive(envoy);
}

/// Polls an observable result until it holds, for at most `limit`.
pub fn poll_until(limit: Duration, mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
