//! x-custom-jwt, kong-upstream-jwt and the JWKS endpoint on every host (Envoy, and Kong's engine
//! when `JWT_RELAY_NGX_BIN` is set): every signing
//! algorithm verified by an independent library (jwcrypto) with the JWKS the filter serves,
//! exact claims, payloadhash over bodies of every size, 413 above the limit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use support::tokens::{fixture, now};
use support::{hosts, oracle, Gateway, Host, Request, Server, Setup};

const JWKS_PATH: &str = "/.well-known/jwks.json";

fn consumers() -> Value {
    json!([{"id": "c-1", "username": "alice", "custom_id": "cust-1",
            "keyauth_credentials": [{"key": "alice-key"}],
            "basicauth_credentials": [{"username": "alice", "password": "pw"}],
            "jwt_secrets": [{"key": "idp", "secret": "hs-secret"}]}])
}

fn start(host: Host, config: Value) -> (Server, Gateway) {
    let upstream = Server::ok();
    let gw = Gateway::start(host, Setup::new(config.to_string(), upstream.addr()));
    (upstream, gw)
}

/// The JSON of a compact token's segment (0 header, 1 claims), unverified.
fn segment(token: &str, n: usize) -> Value {
    let text = token.split('.').nth(n).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn claims_of(token: &str) -> Value {
    segment(token, 1)
}

fn header_of(token: &str) -> Value {
    segment(token, 0)
}

fn served_jwks(gw: &Gateway) -> Value {
    let resp = gw.send(&Request::get(JWKS_PATH));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert_eq!(resp.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(resp.header("access-control-allow-origin"), Some("*"));
    resp.json()
}

/// The key that verifies the filter's tokens: the one public JWK it serves (with `kid`, without
/// private members), or for HMAC the secret itself, since the served set must be empty.
fn verifying_jwk(gw: &Gateway, private: &Value, alg: &str, kid: &str) -> Value {
    let served = served_jwks(gw);
    if alg.starts_with("HS") {
        assert_eq!(
            served,
            json!({"keys": []}),
            "HMAC secrets are never published"
        );
        return private.clone();
    }
    let keys = served["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{alg}");
    assert!(keys[0].get("d").is_none() && keys[0].get("p").is_none());
    assert_eq!(keys[0]["kid"], json!(kid));
    keys[0].clone()
}

#[test]
fn custom_jwt_every_algorithm_verifies_independently_with_served_jwks() {
    for host in hosts() {
        for alg in [
            "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA", "HS256", "HS384",
            "HS512",
        ] {
            let mut jwk = oracle::keygen(alg);
            jwk["kid"] = json!(format!("kid-{alg}"));
            jwk["alg"] = json!(alg);
            // `k_verbatim: false`: the oracle reads `k` as RFC 7518 says (the plugin's verbatim
            // default is covered by the unit tests of stages::mint::custom).
            let config = json!({"consumers": consumers(), "key_auth": {}, "jwks_endpoint": {},
                            "custom_jwt": {"private_jwk": jwk, "iss": "gateway", "jku": "https://gw/jwks",
                                           "k_verbatim": false}});
            let (upstream, gw) = start(host, config);
            let before = now();
            let resp = gw.send(
                &Request::get("/orders?x=1")
                    .header("apikey", "alice-key")
                    .header("x-custom-jwt", "forged"),
            );
            assert_eq!(resp.status, 200, "{alg}");
            let rec = upstream.single();
            let tokens = rec.header_all("x-custom-jwt");
            assert_eq!(tokens.len(), 1, "{alg}: client copy replaced");
            let token = tokens[0];
            let verify_key = verifying_jwk(&gw, &jwk, alg, &format!("kid-{alg}"));
            let claims = oracle::verify(&verify_key, alg, token)
                .unwrap_or_else(|| panic!("{alg}: jwcrypto rejected the token"));
            let iat = claims["iat"].as_u64().unwrap();
            assert!(iat >= before && iat <= now(), "{alg}");
            assert_eq!(claims["exp"].as_u64().unwrap(), iat + 1800);
            assert_eq!(claims["client_id"], "alice-key");
            assert_eq!(claims["iss"], "gateway");
            // No `audience`: Envoy's route cluster; the bare engine has no service (never the
            // request's URL, whose host is the client's).
            let aud = (host == Host::Envoy).then_some("upstream");
            assert_eq!(claims.get("aud").and_then(Value::as_str), aud, "{alg}");
            assert_eq!(claims["act"], json!({"client_id": "cust-1"}));
            assert_eq!(claims["jti"].as_str().unwrap().len(), 36);
            let header = header_of(token);
            assert_eq!(
                (header["alg"].as_str(), header["typ"].as_str()),
                (Some(alg), Some("JWT"))
            );
            assert_eq!(header["kid"], json!(format!("kid-{alg}")));
            assert_eq!(header["jku"], "https://gw/jwks");
            assert_eq!(
                upstream.requests().len(),
                1,
                "the JWKS request never reaches the upstream"
            );
        }
    }
}

#[test]
fn custom_jwt_client_id_per_verified_credential_kind() {
    for host in hosts() {
        let mut jwk = oracle::keygen("ES256");
        jwk["alg"] = json!("ES256");
        let config = json!({"consumers": consumers(),
        "jwt": {"anonymous": "c-1"}, "basic_auth": {"anonymous": "c-1"}, "key_auth": {"anonymous": "c-1"},
        "custom_jwt": {"private_jwk": jwk.to_string(), "upstream_custom_jwt_header": "Authorization",
                       "downstream_custom_jwt_header": "X-Minted"}});
        let (upstream, gw) = start(host, config);
        let bearer = support::tokens::sign_hmac(
            "HS256",
            b"hs-secret",
            &json!({"iss": "idp", "clientId": "app-7", "scope": "read", "act": {"sub": "svc"}}),
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:pw")
        );
        let requests = [
            Request::get("/a").header("authorization", &format!("Bearer {bearer}")),
            Request::get("/b").header("authorization", &basic),
            Request::get("/c").header("apikey", "alice-key"),
        ];
        let mut echoed = Vec::new();
        for req in &requests {
            let resp = gw.send(req);
            assert_eq!(resp.status, 200);
            echoed.push(resp.header("x-minted").unwrap().to_string());
        }
        let seen = upstream.wait_for(3);
        let minted: Vec<Value> = seen
            .iter()
            .map(|r| {
                claims_of(
                    r.header("authorization")
                        .unwrap()
                        .strip_prefix("Bearer ")
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(minted[0]["client_id"], "app-7");
        assert_eq!(minted[0]["scope"], "read", "the verified payload is copied");
        assert_eq!(
            minted[0]["act"],
            json!({"sub": "svc", "client_id": "cust-1"}),
            "an incoming act is kept, client_id added"
        );
        assert_eq!(minted[1]["act"], json!({"client_id": "cust-1"}));
        assert_eq!(minted[1]["client_id"], "alice");
        assert_eq!(minted[2]["client_id"], "alice-key");
        // A verified Bearer token without `bearer_clientid_claim`: the plugin's 401.
        let no_client = support::tokens::sign_hmac("HS256", b"hs-secret", &json!({"iss": "idp"}));
        let resp =
            gw.send(&Request::get("/d").header("authorization", &format!("Bearer {no_client}")));
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.json(),
            json!({"ErrorMessage": "You are not authorized to access to this service"})
        );
        assert!(resp.header("x-minted").is_none());
        assert_eq!(upstream.requests().len(), 3);
        // As in the plugin, the response carries the upstream value, `Bearer ` included.
        for (rec, echo) in seen.iter().zip(&echoed) {
            assert!(echo.starts_with("Bearer "));
            assert_eq!(rec.header("authorization").unwrap(), echo);
        }
    }
}

#[test]
fn custom_jwt_without_verified_credential_is_401() {
    for host in hosts() {
        let mut jwk = oracle::keygen("HS256");
        jwk["alg"] = json!("HS256");
        let (upstream, gw) = start(
            host,
            json!({"custom_jwt": {"private_jwk": jwk, "verbose": true}}),
        );
        let unsigned =
            support::tokens::raw_token(r#"{"alg":"HS256"}"#, r#"{"clientId":"admin"}"#, "AAAA");
        let resp =
            gw.send(&Request::get("/r").header("authorization", &format!("Bearer {unsigned}")));
        assert_eq!(resp.status, 401);
        assert_eq!(
            resp.json(),
            json!({"ErrorMessage": "You are not authorized to access to this service",
                                    "VerboseMessage": "No suitable Authentication method is found: no Bearer token, no Basic Auth, no mTLS, no Key Auth"})
        );
        assert_eq!(resp.header("content-type"), Some("application/json"));
        assert!(upstream.requests().is_empty());

        // The insecure fallback still needs a consumer, as the plugin does: the anonymous one.
        let (upstream, gw) = start(
            host,
            json!({"consumers": [{"id": "anon"}], "key_auth": {"anonymous": "anon"},
                   "custom_jwt": {"private_jwk": jwk, "allow_unverified_credentials": true}}),
        );
        assert_eq!(
            gw.send(&Request::get("/r").header("authorization", &format!("Bearer {unsigned}")))
                .status,
            200
        );
        assert_eq!(
            claims_of(upstream.single().header("x-custom-jwt").unwrap())["client_id"],
            "admin"
        );
    }
}

#[test]
fn custom_jwt_jti_unique_across_1000_requests() {
    for host in hosts() {
        let mut jwk = oracle::keygen("HS256");
        jwk["alg"] = json!("HS256");
        let (upstream, gw) = start(
            host,
            json!({"consumers": consumers(), "key_auth": {}, "custom_jwt": {"private_jwk": jwk}}),
        );
        for _ in 0..1000 {
            assert_eq!(
                gw.send(&Request::get("/r").header("apikey", "alice-key"))
                    .status,
                200
            );
        }
        let jtis: HashSet<String> = upstream
            .wait_for(1000)
            .iter()
            .map(|r| {
                claims_of(r.header("x-custom-jwt").unwrap())["jti"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(jtis.len(), 1000);
    }
}

fn upstream_jwt_config(max_body: u64) -> Value {
    json!({"consumers": consumers(), "key_auth": {}, "jwks_endpoint": {"path": "/keys"},
           "upstream_jwt": {"private_key": fixture("ec_p256_pkcs8.pem"), "certificate": fixture("ec_p256_chain.pem"),
                            "algorithm": "ES256", "key_id": "gw-1", "issuer": "kong-gw", "bind_request": true,
                            "max_body_bytes": max_body}})
}

#[test]
fn upstream_jwt_payloadhash_for_every_size_whole_and_chunked() {
    for host in hosts() {
        let limit = 8 * 1024 * 1024;
        let (upstream, gw) = start(host, upstream_jwt_config(limit));
        let served = gw.send(&Request::get("/keys")).json();
        let key = served["keys"][0].clone();
        assert_eq!(key["kid"], "gw-1");
        let sizes = [0usize, 1, 64 * 1024, 1024 * 1024, 8 * 1024 * 1024];
        let mut expected = Vec::new();
        for size in sizes {
            let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            // kong-upstream-jwt's code: "" for an empty body.
            let hash: String = match size {
                0 => String::new(),
                _ => Sha256::digest(&body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            };
            for chunked in [false, true] {
                let mut req =
                    Request::post("/upload?b=2&a=1", body.clone()).header("apikey", "alice-key");
                if chunked {
                    req = req.chunked(16 * 1024 + 3);
                }
                let resp = gw.send(&req);
                assert_eq!(resp.status, 200, "{size} bytes, chunked {chunked}");
                expected.push((body.clone(), hash.clone()));
            }
        }
        let seen = upstream.wait_for(expected.len());
        for (rec, (body, hash)) in seen.iter().zip(&expected) {
            assert_eq!(&rec.body, body, "the upstream got the exact body");
            let token = rec.header("jwt").unwrap();
            let claims = oracle::verify(&key, "ES256", token)
                .expect("jwcrypto verifies with the served key");
            assert_eq!(claims["payloadhash"], json!(hash));
            assert_eq!(claims["consumerid"], "c-1");
            assert_eq!(claims["consumername"], "alice");
            assert_eq!(claims["iss"], "kong-gw");
            assert_eq!(
                claims["exp"].as_u64().unwrap(),
                claims["iat"].as_u64().unwrap() + 60
            );
            match host {
                Host::Envoy => assert_eq!(claims["aud"], "upstream"),
                // aud is the Kong service's name; the bare engine has none (docs/kong.md).
                Host::Ngx => assert!(claims.get("aud").is_none(), "{claims}"),
            }
            assert_eq!(
                (claims["method"].as_str(), claims["path"].as_str()),
                (Some("POST"), Some("/upload"))
            );
            let qhash: String = Sha256::digest(b"b=2&a=1")
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(claims["queryhash"], json!(qhash));
        }
        for rec in &seen[..2] {
            assert_eq!(claims_of(rec.header("jwt").unwrap())["payloadhash"], "");
        }
    }
}

/// The plugin's claims: `iss` and `iat` only with `issuer`; `consumername` only for a consumer
/// with a username; `payloadhash` `""` for an empty body unless `empty_body_payloadhash` asks
/// for the SHA-256 of the empty string.
#[test]
fn upstream_jwt_claims_as_the_plugin_sets_them() {
    let empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for host in hosts() {
        for (option, want_empty) in [(None, ""), (Some("empty"), ""), (Some("sha256"), empty_sha)] {
            let mut upstream_jwt = json!({"private_key": fixture("ec_p256_pkcs8.pem"), "algorithm": "ES256", "x5c": false});
            if let Some(option) = option {
                upstream_jwt["empty_body_payloadhash"] = json!(option);
            }
            let config = json!({"key_auth": {}, "upstream_jwt": upstream_jwt,
                "consumers": [{"id": "c-1", "username": "alice", "keyauth_credentials": [{"key": "alice-key"}]},
                              {"id": "c-2", "keyauth_credentials": [{"key": "nameless-key"}]}]});
            let (upstream, gw) = start(host, config);
            let before = now();
            let requests = [
                Request::get("/a").header("apikey", "alice-key"),
                Request::post("/b", "").header("apikey", "nameless-key"),
                Request::post("/c", "abc").header("apikey", "nameless-key"),
            ];
            for req in &requests {
                assert_eq!(gw.send(req).status, 200, "{host:?} {option:?}");
            }
            let after = now();
            let claims: Vec<Value> = upstream
                .wait_for(3)
                .iter()
                .map(|r| claims_of(r.header("jwt").unwrap()))
                .collect();
            for c in &claims {
                assert!(c.get("iat").is_none() && c.get("iss").is_none(), "{c}");
                let exp = c["exp"].as_u64().unwrap();
                assert!(exp >= before + 60 && exp <= after + 60, "{c}");
            }
            assert_eq!(
                (&claims[0]["consumerid"], &claims[0]["consumername"]),
                (&json!("c-1"), &json!("alice"))
            );
            assert_eq!(claims[1]["consumerid"], "c-2");
            assert!(claims[1].get("consumername").is_none(), "{}", claims[1]);
            assert_eq!(claims[0]["payloadhash"], want_empty, "{host:?} {option:?}");
            assert_eq!(claims[1]["payloadhash"], want_empty, "{host:?} {option:?}");
            assert_eq!(
                claims[2]["payloadhash"],
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
        }
    }
}

/// kong-upstream-jwt's `KONG_SSL_CERT_KEY` / `KONG_SSL_CERT_DER`: the key and certificate
/// from environment variables the host gives the VM (Envoy's `vm_config.environment_variables`,
/// nginx's `env` directive), here a PEM key and a base64 DER certificate (a `.cer` file).
#[test]
fn upstream_jwt_keys_from_environment_variables() {
    let key_pem = fixture("rsa2048_pkcs8.pem");
    let cert_pem = fixture("rsa2048_cert.pem");
    let cert_der = jwt_relay_core::jose::pem::parse_certificate_chain(&cert_pem)
        .unwrap()
        .remove(0);
    let cert_b64 = base64::engine::general_purpose::STANDARD.encode(&cert_der);
    let public = oracle::public_jwk(&fixture("rsa2048_public_spki.pem"));
    for host in hosts() {
        let config = json!({"upstream_jwt": {"private_key_env": "KONG_SSL_CERT_KEY",
                                             "certificate_env": "KONG_SSL_CERT_DER"}});
        let upstream = Server::ok();
        let setup = Setup::new(config.to_string(), upstream.addr())
            .env("KONG_SSL_CERT_KEY", &key_pem)
            .env("KONG_SSL_CERT_DER", &cert_b64);
        let gw = Gateway::start(host, setup);
        assert_eq!(gw.send(&Request::post("/r", "abc")).status, 200, "{host:?}");
        let token = upstream.single().header("jwt").unwrap().to_string();
        let claims = oracle::verify(&public, "RS256", &token)
            .unwrap_or_else(|| panic!("{host:?}: jwcrypto rejected the token"));
        assert_eq!(
            claims["payloadhash"],
            json!(support::tokens::sha256_hex(b"abc"))
        );
        let header = header_of(&token);
        assert_eq!(header["x5c"], json!([cert_b64]), "{host:?}");
        // The certificate carried holds the key that signed.
        let from_cert =
            oracle::public_jwk(&jwt_relay_core::jose::pem::encode("CERTIFICATE", &cert_der));
        assert!(
            oracle::verify(&from_cert, "RS256", &token).is_some(),
            "{host:?}"
        );
    }
}

#[test]
fn upstream_jwt_x5c_is_the_standard_base64_chain_with_thumbprint() {
    for host in hosts() {
        let (upstream, gw) = start(host, upstream_jwt_config(1024));
        assert_eq!(
            gw.send(
                &Request::get("/r")
                    .header("apikey", "alice-key")
                    .header("JWT", "forged")
            )
            .status,
            200
        );
        let rec = upstream.single();
        assert_eq!(rec.header_all("jwt").len(), 1);
        let header = header_of(rec.header("jwt").unwrap());
        let chain: Vec<Vec<u8>> =
            jwt_relay_core::jose::pem::parse_certificate_chain(&fixture("ec_p256_chain.pem"))
                .unwrap();
        assert_eq!(chain.len(), 2);
        let want: Vec<String> = chain
            .iter()
            .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
            .collect();
        assert_eq!(header["x5c"], json!(want));
        assert_eq!(
            header["x5t#S256"],
            json!(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&chain[0]))
            )
        );
        assert_eq!(header["kid"], "gw-1");
    }
}

#[test]
fn upstream_jwt_body_above_limit_is_413() {
    for host in hosts() {
        let (upstream, gw) = start(host, upstream_jwt_config(1000));
        for chunked in [false, true] {
            let mut req = Request::post("/r", vec![b'a'; 1001]).header("apikey", "alice-key");
            if chunked {
                req = req.chunked(100);
            }
            let resp = gw.send(&req);
            assert_eq!(
                (resp.status, resp.json()),
                (
                    413,
                    json!({"message": "Request body is larger than 1000 bytes"})
                )
            );
        }
        assert_eq!(
            gw.send(&Request::post("/r", vec![b'a'; 1000]).header("apikey", "alice-key"))
                .status,
            200
        );
        assert_eq!(upstream.requests().len(), 1);
    }
}

/// Browsers (jwt.io) fetch a `jku` across origins: the keys are served to `GET` and `HEAD`
/// with `Access-Control-Allow-Origin: *`, and a CORS preflight is answered (x-custom-jwt's
/// README serves them behind Kong's CORS plugin, `origins: *`). Other methods are no JWKS
/// request: they go on to authentication.
#[test]
fn jwks_endpoint_answers_head_and_cors_preflights() {
    for host in hosts() {
        let (upstream, gw) = start(host, upstream_jwt_config(1024));
        let head = gw.send(&Request::new("HEAD", "/keys"));
        assert_eq!(head.status, 200, "{host:?}");
        assert_eq!(
            head.header("access-control-allow-origin"),
            Some("*"),
            "{host:?}"
        );
        assert!(head.body.is_empty(), "{host:?}");
        let preflight = Request::new("OPTIONS", "/keys")
            .header("Origin", "https://jwt.io")
            .header("Access-Control-Request-Method", "GET");
        let resp = gw.send(&preflight);
        assert_eq!(resp.status, 204, "{host:?}");
        assert_eq!(
            resp.header("access-control-allow-origin"),
            Some("*"),
            "{host:?}"
        );
        assert_eq!(
            resp.header("access-control-allow-methods"),
            Some("GET, HEAD, OPTIONS"),
            "{host:?}"
        );
        assert!(upstream.requests().is_empty(), "{host:?}");
        // A POST on the path is no JWKS request: it goes on to authentication (key-auth).
        assert_eq!(
            gw.send(&Request::post("/keys", "x")).status,
            401,
            "{host:?}"
        );
        assert!(upstream.requests().is_empty(), "{host:?}");
    }
}

#[test]
fn jwks_endpoint_serves_previous_keys_and_refuses_private_ones() {
    for host in hosts() {
        let old = oracle::keygen("RS256");
        let public_old: Value = json!({"kty": "RSA", "n": old["n"], "e": old["e"], "kid": "old-1"});
        // A member the parser does not know is not published (it could hold anything: review
        // found `"priv": <d>` served as written).
        let mut written = public_old.clone();
        written["priv"] = old["d"].clone();
        written["x5t"] = json!("not-checked");
        let mut config = upstream_jwt_config(1024);
        config["jwks_endpoint"]["previous_keys"] = json!([written]);
        let (_upstream, gw) = start(host, config);
        let keys = gw.send(&Request::get("/keys")).json()["keys"]
            .as_array()
            .unwrap()
            .clone();
        let kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, ["gw-1", "old-1"]);
        assert_eq!(keys[1], public_old, "{host:?}");

        // RFC 7518's other primes are private too.
        let mut other_primes = public_old.clone();
        other_primes["oth"] = json!([{"r": old["p"], "d": old["dp"], "t": old["qi"]}]);
        let mut bad = upstream_jwt_config(1024);
        bad["jwks_endpoint"]["previous_keys"] = json!([other_primes]);
        let log = Gateway::refused(host, Setup::new(bad.to_string(), Server::ok().addr()));
        assert!(log.contains("configuration rejected: jwks_endpoint.previous_keys[0]: holds private or secret member \"oth\""), "{host:?}: {log}");

        let mut bad = upstream_jwt_config(1024);
        bad["jwks_endpoint"]["previous_keys"] = json!([old]);
        let log = Gateway::refused(host, Setup::new(bad.to_string(), Server::ok().addr()));
        assert!(log.contains("configuration rejected: jwks_endpoint.previous_keys[0]: holds private or secret member \"d\""), "{host:?}: {log}");

        // Another key under the gateway's `kid` is refused (a verifier picking by `kid` would
        // take one for the other); the gateway's own key listed again is published once.
        let mut bad = upstream_jwt_config(1024);
        let mut clash = public_old.clone();
        clash["kid"] = json!("gw-1");
        bad["jwks_endpoint"]["previous_keys"] = json!([public_old, clash]);
        let log = Gateway::refused(host, Setup::new(bad.to_string(), Server::ok().addr()));
        assert!(log.contains("configuration rejected: jwks_endpoint.previous_keys[1]: publishes another key under a kid already published"), "{host:?}: {log}");
        let mut again = upstream_jwt_config(1024);
        again["jwks_endpoint"]["previous_keys"] = json!([keys[0], public_old]);
        let (_upstream, gw) = start(host, again);
        let served = gw.send(&Request::get("/keys")).json()["keys"].clone();
        assert_eq!(served, json!([keys[0], public_old]), "{host:?}");
    }
}

#[test]
fn upstream_jwt_missing_or_bad_key_refuses_config() {
    for host in hosts() {
        let cases = [
            (
                json!({"upstream_jwt": {"x5c": false}}),
                "upstream_jwt.private_key: missing: give private_key or private_key_env",
            ),
            (
                json!({"upstream_jwt": {"private_key_env": "KONG_SSL_CERT_KEY", "x5c": false}}),
                "upstream_jwt.private_key_env: environment variable KONG_SSL_CERT_KEY is not set",
            ),
            (
                json!({"upstream_jwt": {"private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "x5c": false}}),
                "upstream_jwt.private_key: ",
            ),
            (
                json!({"upstream_jwt": {"private_key": fixture("rsa2048_pkcs8.pem")}}),
                "upstream_jwt.certificate: required while x5c is true (or certificate_env)",
            ),
        ];
        for (config, message) in cases {
            let log = Gateway::refused(host, Setup::new(config.to_string(), Server::ok().addr()));
            assert!(
                log.contains(&format!("configuration rejected: {message}")),
                "{host:?}: {message}\n{log}"
            );
        }
    }
}

#[test]
fn upstream_jwt_every_algorithm_verifies_independently_with_served_jwks() {
    for host in hosts() {
        for alg in [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
            "EdDSA", "HS256", "HS384", "HS512",
        ] {
            let mut jwk = oracle::keygen(alg);
            jwk["alg"] = json!(alg);
            let config = json!({"jwks_endpoint": {},
            "upstream_jwt": {"private_key": jwk, "algorithm": alg, "key_id": format!("up-{alg}"), "x5c": false}});
            let (upstream, gw) = start(host, config);
            assert_eq!(gw.send(&Request::post("/r", "abc")).status, 200, "{alg}");
            let token = upstream.single().header("jwt").unwrap().to_string();
            let key = verifying_jwk(&gw, &jwk, alg, &format!("up-{alg}"));
            let claims = oracle::verify(&key, alg, &token)
                .unwrap_or_else(|| panic!("{alg}: jwcrypto rejected it"));
            let want: String = Sha256::digest(b"abc")
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(claims["payloadhash"], json!(want), "{alg}");
            assert!(
                claims.get("iat").is_none() && claims.get("iss").is_none(),
                "{alg}: no issuer, no iat: {claims}"
            );
            assert_eq!(header_of(&token)["kid"], json!(format!("up-{alg}")));
        }
    }
}

/// RSA keys of every size the filter's signing kernel holds beyond RSA-2048 (RSA-3072 on its
/// 55-limb size, RSA-4096 on the 74-limb one and RSA-6144 on the 110-limb one, the last two
/// checked on the runtime-sized public kernel): tokens made inside each host's Wasm runtime
/// verify in jwcrypto.
#[test]
fn upstream_jwt_rsa_keys_of_every_kernel_size_verify_independently() {
    for host in hosts() {
        for (pem, alg) in [
            ("rsa3072_pkcs8.pem", "RS384"),
            ("rsa4096_pkcs8.pem", "PS256"),
            ("rsa6144_pkcs8.pem", "RS256"),
        ] {
            // ngx: this configuration exceeds nginx.conf's 4096-byte parameter ("too long
            // parameter"), a limit of the bare engine's harness, not Kong's: reported.
            if host == Host::Ngx && pem == "rsa6144_pkcs8.pem" {
                continue;
            }
            let config = json!({"jwks_endpoint": {},
            "upstream_jwt": {"private_key": fixture(pem), "algorithm": alg, "key_id": "big", "x5c": false}});
            let (upstream, gw) = start(host, config);
            let key = served_jwks(&gw)["keys"][0].clone();
            for body in ["first", "second"] {
                assert_eq!(gw.send(&Request::post("/r", body)).status, 200, "{pem}");
            }
            let received = upstream.wait_for(2);
            assert_eq!(received.len(), 2, "{pem}");
            for received in received {
                let token = received.header("jwt").unwrap().to_string();
                let claims = oracle::verify(&key, alg, &token)
                    .unwrap_or_else(|| panic!("{pem} {alg}: jwcrypto rejected it"));
                let want: String = Sha256::digest(&received.body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(claims["payloadhash"], json!(want), "{pem}");
            }
        }
    }
}

/// A token handed to the client (`downstream_custom_jwt_header`) goes with `Cache-Control:
/// no-store` in place of the upstream's `public`, and with the headers caches obey first
/// (`CDN-Cache-Control`, Cloudflare's, `Edge-Control`, `Surrogate-Control`, nginx's
/// `X-Accel-Expires`): a shared cache would serve it to the next client.
#[test]
fn custom_jwt_token_for_the_client_is_never_cacheable() {
    for host in hosts() {
        let jwk = json!({"kty": "oct", "kid": "k1", "alg": "HS256", "k": "minting-key-of-thirty-two-bytes!"});
        let config = json!({"consumers": consumers(), "key_auth": {},
            "custom_jwt": {"private_jwk": jwk, "downstream_custom_jwt_header": "X-Minted"}});
        let upstream = Server::start(|_| support::server::Reply::Respond {
            status: 200,
            headers: vec![
                ("cache-control".into(), "public, max-age=600".into()),
                ("cdn-cache-control".into(), "public, max-age=600".into()),
                ("cloudflare-cdn-cache-control".into(), "max-age=600".into()),
                ("edge-control".into(), "cache-maxage=600s".into()),
                ("x-accel-expires".into(), "600".into()),
            ],
            body: b"ok".to_vec(),
        });
        let gw = Gateway::start(host, Setup::new(config.to_string(), upstream.addr()));
        let resp = gw.send(&Request::get("/a").header("apikey", "alice-key"));
        assert_eq!(resp.status, 200);
        for name in [
            "cache-control",
            "cdn-cache-control",
            "cloudflare-cdn-cache-control",
            "edge-control",
            "surrogate-control",
        ] {
            assert_eq!(resp.header_all(name), ["no-store"], "{name}");
        }
        assert_eq!(resp.header_all("x-accel-expires"), ["0"]);
        let token = resp.header("x-minted").unwrap();
        assert_eq!(claims_of(token)["client_id"], "alice-key");
        let resp = gw.send(&Request::get("/b"));
        assert_eq!(resp.status, 401);
        assert!(resp.header("x-minted").is_none());
        assert_eq!(upstream.requests().len(), 1);
    }
}
