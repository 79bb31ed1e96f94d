//! The check that closes every attack group: the VM survived and still serves.

use crate::support::{Envoy, Gateway, Request, Response, Server};
use std::time::{Duration, Instant};

/// A host running the filter, as the attack groups see it.
pub trait Proxy {
    fn send(&self, req: &Request) -> Response;
    /// Panics when the filter's VM trapped or was reloaded.
    fn check_alive(&self);
}

impl Proxy for Envoy {
    fn send(&self, req: &Request) -> Response {
        Envoy::send(self, req)
    }

    /// Envoy never reloaded the VM (its `wasm.<plugin>.vm_reload*` counters stay at zero) and
    /// nothing in its log says it trapped.
    fn check_alive(&self) {
        for counter in ["vm_reload", "vm_reload_failure", "vm_reload_success"] {
            let name = format!("wasm.jwt_relay.{counter}");
            assert_eq!(self.stat(&name), Some(0), "{name}");
        }
        assert_log_clean(
            &self.log(),
            &[
                "panicked at",
                "wasm trap",
                "Function: proxy_on",
                "failed to call",
            ],
        );
    }
}

impl Proxy for Gateway {
    fn send(&self, req: &Request) -> Response {
        Gateway::send(self, req)
    }

    /// Envoy as above; nginx logs a trap (which resets the instance) at `crit` or above.
    fn check_alive(&self) {
        match self {
            Gateway::Envoy(e) => e.check_alive(),
            Gateway::Ngx(_) => {
                assert_log_clean(&self.log(), &["panicked at", "trap", "[crit]", "[emerg]"])
            }
        }
    }
}

fn assert_log_clean(log: &str, markers: &[&str]) {
    for bad in markers {
        assert!(
            !log.contains(bad),
            "VM trouble ({bad:?}) in the log:\n{log}"
        );
    }
}

/// Asserts the filter's VM did not trap.
pub fn assert_vm_alive(proxy: &impl Proxy) {
    proxy.check_alive();
}

/// Asserts a known-good request still reaches the upstream after an attack group.
pub fn assert_still_serves(proxy: &impl Proxy, upstream: &Server, good: &Request) {
    let before = upstream.requests().len();
    let resp = proxy.send(good);
    assert_eq!(
        resp.status,
        200,
        "known-good request after the attacks: {}",
        resp.text()
    );
    assert_eq!(upstream.requests().len(), before + 1);
    assert_vm_alive(proxy);
}

/// Polls an observable result until it holds, for at most `limit`.
pub fn poll_until(limit: Duration, mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
