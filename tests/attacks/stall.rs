//! A client that vanishes while the filter re-fetches the JWKS for its token's unknown `kid`.
//! The host drops that call with the stream: no callback ever comes. That used to leave the
//! fetch "in flight" for good, and the worker never fetched the set again (no re-fetch, no
//! background refresh): a rotated signing key was refused until a restart (regression test).
//!
//! Envoy only: it reads Envoy's fetch counters from the admin endpoint; on Kong's engine the
//! same state logic runs (`remote_jwks` unit tests), with the in-flight deadline as the backstop.

use crate::bypass::public_jwk;
use crate::health::{assert_vm_alive, poll_until};
use crate::support::tokens::{now, sign_pem};
use crate::support::{Envoy, Reply, Request, Server, Setup};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// `jwks_uri.cache_seconds` of the test: the background refresh interval.
const CACHE_SECONDS: u64 = 3;

/// Where the identity provider's gate stands: the next fetch after `Armed` is held (`Holding`)
/// until the test releases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    Armed,
    Holding,
    Released,
}

/// An identity provider whose published set the test changes, and whose answer to one fetch
/// can be held until released.
#[derive(Clone)]
struct Idp {
    set: Arc<Mutex<Value>>,
    gate: Arc<(Mutex<Gate>, Condvar)>,
}

impl Idp {
    fn new(set: Value) -> Self {
        Self {
            set: Arc::new(Mutex::new(set)),
            gate: Arc::new((Mutex::new(Gate::Open), Condvar::new())),
        }
    }

    /// The server's handler: holds the armed fetch (at most 30 s), then serves the current set.
    fn answer(&self) -> Reply {
        let (lock, cv) = &*self.gate;
        let mut gate = lock.lock().unwrap();
        if *gate == Gate::Armed {
            *gate = Gate::Holding;
            cv.notify_all();
            let limit = Duration::from_secs(30);
            gate = cv
                .wait_timeout_while(gate, limit, |g| *g != Gate::Released)
                .unwrap()
                .0;
        }
        drop(gate);
        Reply::json(200, &self.set.lock().unwrap())
    }

    fn set_gate(&self, to: Gate) {
        let (lock, cv) = &*self.gate;
        *lock.lock().unwrap() = to;
        cv.notify_all();
    }

    /// Waits (at most 30 s) until the armed fetch reached the provider.
    fn wait_holding(&self) {
        let (lock, cv) = &*self.gate;
        let gate = lock.lock().unwrap();
        let limit = Duration::from_secs(30);
        let (gate, _) = cv
            .wait_timeout_while(gate, limit, |g| *g != Gate::Holding)
            .unwrap();
        assert_eq!(
            *gate,
            Gate::Holding,
            "the re-fetch never reached the provider"
        );
    }
}

fn bearer(alg: &str, kid: &str) -> Request {
    let claims = json!({"sub": "u", "exp": now() + 600});
    let token = sign_pem(alg, &claims, Some(kid));
    Request::get("/r").header("authorization", &format!("Bearer {token}"))
}

/// Sends `req` over HTTP/1.1 on a connection the caller drops without reading the answer.
fn send_and_keep(envoy: &Envoy, req: &Request) -> TcpStream {
    let mut stream = TcpStream::connect(envoy.listener).unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\n",
        req.method, req.path, envoy.listener
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

#[test]
fn jwks_refetch_of_a_vanished_client_does_not_freeze_key_rotation() {
    let idp = Idp::new(json!({"keys": [public_jwk("RS256", "rsa-1")]}));
    let server = {
        let idp = idp.clone();
        Server::start(move |_| idp.answer())
    };
    let upstream = Server::ok();
    let config = json!({"jwt": {
        "jwks_uri": {"url": "http://idp.example/keys", "upstream": "idp",
                     "cache_seconds": CACHE_SECONDS, "timeout_ms": 20000},
        "claims_to_verify": ["exp"]
    }});
    let envoy =
        Envoy::start(Setup::new(config.to_string(), upstream.addr()).cluster("idp", server.addr()));
    server.wait_for(1);
    let good = bearer("RS256", "rsa-1");
    poll_until(
        Duration::from_secs(30),
        || envoy.send(&good).status == 200,
        "the startup JWKS verifies",
    );

    // A token under a kid the provider does not publish yet: the filter re-fetches, and the
    // provider holds that fetch. The client goes away meanwhile.
    idp.set_gate(Gate::Armed);
    let rotated = bearer("ES256", "ec-1");
    let client = send_and_keep(&envoy, &rotated);
    idp.wait_holding();
    drop(client);
    // The provider rotates: the new key must verify within the refresh interval (one tick and
    // a margin on top), far sooner than the held fetch's own timeout (20 s).
    *idp.set.lock().unwrap() =
        json!({"keys": [public_jwk("RS256", "rsa-1"), public_jwk("ES256", "ec-1")]});
    idp.set_gate(Gate::Released);
    let before = upstream.requests().len();
    poll_until(
        Duration::from_secs(CACHE_SECONDS + 3),
        || envoy.send(&rotated).status == 200,
        "the rotated key verifies",
    );
    assert_eq!(upstream.requests().len(), before + 1);
    assert_eq!(upstream.requests().last().unwrap().path, "/r");
    // Envoy ended the vanished request's context (on_done), which gave the fetch up at once.
    assert!(envoy.log().contains("fetch abandoned"), "{}", envoy.log());
    assert_vm_alive(&envoy);
}

/// A client that leaves while its reconcile call is out. Envoy does not cancel the call (the
/// host owns calls in the root context's name): the auth service's answer still comes, to a
/// request that is gone, and must neither reach the upstream nor trap the VM. That answer is
/// what clears the proxy-wasm SDK's entry for the call (README, Metrics).
#[test]
fn an_answer_to_a_vanished_reconcile_request_is_dropped_and_the_vm_serves_on() {
    let gate = Idp::new(json!({"user": "u"}));
    let auth = {
        let gate = gate.clone();
        Server::start(move |_| gate.answer())
    };
    let upstream = Server::ok();
    let config = json!({"reconcile": {"url": "http://auth.internal:8080", "upstream": "auth",
                                      "read_timeout": 20000}});
    let envoy =
        Envoy::start(Setup::new(config.to_string(), upstream.addr()).cluster("auth", auth.addr()));
    gate.set_gate(Gate::Armed);
    let client = send_and_keep(&envoy, &Request::get("/r"));
    gate.wait_holding();
    drop(client);
    poll_until(
        Duration::from_secs(30),
        || envoy.stat("http.ingress.downstream_rq_active") == Some(0),
        "Envoy ends the vanished request",
    );
    assert_eq!(envoy.stat("cluster.auth.upstream_rq_active"), Some(1));
    gate.set_gate(Gate::Released);
    poll_until(
        Duration::from_secs(30),
        || envoy.stat("cluster.auth.upstream_rq_completed") == Some(1),
        "the call outlives its request and is answered",
    );
    assert_eq!(envoy.stat("cluster.auth.upstream_rq_cancelled"), Some(0));
    assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());
    // The orphan answer trapped nothing: the next request is decided by the same VM.
    let resp = envoy.send(&Request::get("/r"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(upstream.single().header("user"), Some("u"));
    assert_vm_alive(&envoy);
}
