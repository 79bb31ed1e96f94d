//! mTLS on every host: the client certificate's subject DN, as the host reports it (RFC 2253:
//! reversed and escaped), becomes x-custom-jwt's `client_id` in the plugin's form (certificate
//! order, `", "` between attributes, values as written), and it comes before an API key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use support::{hosts, Gateway, Server, Setup};

/// The client certificate's subject as x-custom-jwt writes it (an `O` with a comma in it).
const PLUGIN_DN: &str = "C=NL, ST=Noord-Holland, O=Relay Test, Inc., OU=Platform, CN=client-1, \
    emailAddress=client-1@relay.test";

/// An HS256 key the test reads tokens with (verbatim `k`, the plugin's reading).
fn jwk() -> Value {
    json!({"kty": "oct", "alg": "HS256", "k": "mtls-test-secret-of-32-bytes-long"})
}

fn config() -> Value {
    json!({
        "consumers": [{"id": "anon", "username": "anonymous"},
                      {"id": "c-1", "custom_id": "cust-1",
                       "keyauth_credentials": [{"id": "ka-1", "key": "alice-key"}]}],
        "key_auth": {"anonymous": "anon"},
        "custom_jwt": {"private_jwk": jwk()}
    })
}

fn client_id(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["client_id"].clone()
}

#[test]
fn mtls_subject_dn_is_client_id_in_the_plugins_form() {
    for host in hosts() {
        let upstream = Server::ok();
        let gw = Gateway::start(
            host,
            Setup::new(config().to_string(), upstream.addr()).mtls(),
        );
        // The anonymous consumer with a certificate, then a verified API key with one: mTLS
        // comes before the API key in the plugin's precedence.
        assert_eq!(gw.curl_tls(true, &[]), Some(200), "{host:?}");
        assert_eq!(gw.curl_tls(true, &["-H", "apikey: alice-key"]), Some(200));
        let seen = upstream.wait_for(2);
        for rec in &seen {
            let token = rec.header("x-custom-jwt").unwrap();
            assert_eq!(client_id(token), PLUGIN_DN, "{host:?}");
        }
        assert_eq!(seen[1].header("x-consumer-id"), Some("c-1"));
        // Without a certificate: Envoy fails the handshake, nginx answers 400; nothing reaches
        // the upstream.
        assert_ne!(gw.curl_tls(false, &[]), Some(200), "{host:?}");
        assert_eq!(upstream.requests().len(), 2);
    }
}
