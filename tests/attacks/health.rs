//! The check that closes every attack group: the VM survived and still serves.

use crate::support::{Envoy, Request, Server};

/// Asserts the filter's VM did not trap: nothing in Envoy's log says so.
pub fn assert_vm_alive(envoy: &Envoy) {
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
