//! The seed plugins' own specs and source, ported case by case and run on every host (Envoy,
//! and Kong's engine when `JWT_RELAY_NGX_BIN` is set):
//!
//! - Optum's kong-upstream-jwt (`upstream_jwt`): `spec/upstream-jwt/02-access_spec.lua`, and
//!   `src/access.lua`, `src/schema.lua`, `src/handler.lua` of its last release (1.4).
//! - Kong's x-custom-jwt (`custom_jwt`, `jwks_endpoint`): `kong/plugins/x-custom-jwt/handler.lua`
//!   and `schema.lua`, and the examples of its README.
//!
//! Each test names the `it` text or the source lines it comes from. The keys are the
//! repository's generated fixtures (tests/fixtures/jose) or generated here by jwcrypto; where
//! the filter answers differently on purpose the test asserts the filter's answer and names
//! the README row ("Different on purpose") that says why.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::Engine as _;
use jwt_relay_core::jose::{jws, VerifyingKey};
use serde_json::{json, Value};
use support::tokens::{claims_of, fixture, header_of, now, sha256_hex, sign_hmac};
use support::{hosts, oracle, Gateway, Host, Request, Server, Setup};

const GENERIC: &str = "You are not authorized to access to this service";
const NO_METHOD: &str = "No suitable Authentication method is found: no Bearer token, no Basic \
    Auth, no mTLS, no Key Auth";
const CLIENT_ID_ISSUE: &str = "Issue with 'client_id' claim retrieval or Kong Consumer";
const DEFAULT_ISS: &str = "https://kong-gateway:8443/x-custom-jwt";
const DEFAULT_JKU: &str = "https://kong-gateway:8443/x-custom-jwt/jwks";

fn start(host: Host, config: &Value) -> (Server, Gateway) {
    let upstream = Server::ok();
    let gw = Gateway::start(host, Setup::new(config.to_string(), upstream.addr()));
    (upstream, gw)
}

/// The one request the upstream received and the token in its header `name`.
fn received_token(upstream: &Server, name: &str) -> String {
    let rec = upstream.single();
    let values = rec.header_all(name);
    assert_eq!(values.len(), 1, "one {name} header: {values:?}");
    values[0].to_string()
}

/// Sorted member names of a JSON object.
fn names(object: &Value) -> Vec<String> {
    let mut names: Vec<String> = object.as_object().unwrap().keys().cloned().collect();
    names.sort();
    names
}

/// A lower-case hyphenated UUID v4 (what `utils.uuid()` gives).
fn is_uuid_v4(id: &Value) -> bool {
    let Some(id) = id.as_str() else { return false };
    let b = id.as_bytes();
    id.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
        && id
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

// ---------------------------------------------------------------------------------------------
// kong-upstream-jwt
// ---------------------------------------------------------------------------------------------

/// The key and certificate as kong-upstream-jwt's `KONG_SSL_CERT_KEY` / `KONG_SSL_CERT_DER`
/// files held them, in variables (the filter cannot read files; README "Different on purpose").
fn with_key_env(setup: Setup) -> Setup {
    setup
        .env("GW_SIGNING_KEY", &fixture("rsa2048_pkcs8.pem"))
        .env("GW_CERT", &fixture("rsa2048_cert.pem"))
}

fn upstream_jwt(extra: Value) -> Value {
    let mut section = json!({"private_key_env": "GW_SIGNING_KEY", "certificate_env": "GW_CERT",
                             "x5c_format": "plugin"});
    section
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    section
}

fn start_upstream_jwt(host: Host, config: &Value) -> (Server, Gateway) {
    let upstream = Server::ok();
    let setup = with_key_env(Setup::new(config.to_string(), upstream.addr()));
    (upstream, Gateway::start(host, setup))
}

fn gateway_public_jwk() -> Value {
    oracle::public_jwk(&fixture("rsa2048_public_spki.pem"))
}

/// kong-upstream-jwt, spec/upstream-jwt/02-access_spec.lua, `it("a valid JWT passes")` (lines
/// 84-95, set up in lines 9-57): the minted token, sent in `My-Authorization` with `Bearer `
/// and `iss` `source-kong`, is looped back through a gateway whose jwt stage reads that header
/// with `key_claim_name: iss` and the gateway's public key as consumer tieske's RS256
/// credential `source-kong`: 200, and the upstream gets tieske's consumer headers.
#[test]
fn upstream_jwt_spec_a_valid_jwt_passes() {
    let consumer_id = "5b2f7e1c-0d4a-4c3e-9f6b-81a2d3c4e5f6";
    for host in hosts() {
        let upstream = Server::ok();
        let verifier = json!({
            "consumers": [{"id": consumer_id, "username": "tieske", "custom_id": "also_tieske",
                           "jwt_secrets": [{"key": "source-kong", "algorithm": "RS256",
                                            "rsa_public_key": fixture("rsa2048_public_spki.pem")}]}],
            "jwt": {"header_names": ["My-Authorization"], "key_claim_name": "iss"}
        });
        let loopback = Gateway::start(host, Setup::new(verifier.to_string(), upstream.addr()));
        let minter = json!({"upstream_jwt": upstream_jwt(json!({
            "issuer": "source-kong", "header": "My-Authorization", "include_credential_type": true
        }))});
        let gw = Gateway::start(
            host,
            with_key_env(Setup::new(minter.to_string(), loopback.listener())),
        );
        let resp = gw.send(&Request::get("/request").header("host", "test1.com"));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let rec = upstream.single();
        assert_eq!(rec.header("x-consumer-custom-id"), Some("also_tieske"));
        assert_eq!(rec.header("x-consumer-id"), Some(consumer_id));
        assert_eq!(rec.header("x-consumer-username"), Some("tieske"));
        assert_eq!(rec.header("x-credential-identifier"), Some("source-kong"));
        let value = rec.header("my-authorization").unwrap();
        let token = value
            .strip_prefix("Bearer ")
            .expect("include_credential_type");
        assert_eq!(claims_of(token)["iss"], "source-kong");
    }
}

/// kong-upstream-jwt, src/schema.lua lines 15-16 (`header` defaults to `JWT`,
/// `include_credential_type` to false) and src/access.lua lines 146-152 and 161: the bare token
/// in `JWT`, set over the client's copy (`ngx.req.set_header`); with `include_credential_type`,
/// `Bearer ` and the token.
#[test]
fn upstream_jwt_header_defaults_to_jwt_without_bearer() {
    for host in hosts() {
        let (upstream, gw) =
            start_upstream_jwt(host, &json!({"upstream_jwt": upstream_jwt(json!({}))}));
        let resp = gw.send(&Request::get("/r").header("JWT", "client-copy"));
        assert_eq!(resp.status, 200);
        let token = received_token(&upstream, "jwt");
        assert_eq!(token.split('.').count(), 3, "{token}");
        assert!(!token.starts_with("Bearer "), "{token}");
        assert!(oracle::verify(&gateway_public_jwk(), "RS256", &token).is_some());

        let config =
            json!({"upstream_jwt": upstream_jwt(json!({"include_credential_type": true}))});
        let (upstream, gw) = start_upstream_jwt(host, &config);
        assert_eq!(gw.send(&Request::get("/r")).status, 200);
        let value = received_token(&upstream, "jwt");
        let token = value.strip_prefix("Bearer ").unwrap();
        assert!(oracle::verify(&gateway_public_jwk(), "RS256", token).is_some());
    }
}

/// kong-upstream-jwt, src/access.lua lines 78-99: the JOSE header is `typ` `JWT`, `alg`
/// `RS256`, `x5c` one base64url certificate (with `x5c_format: plugin`; the standard base64
/// chain with `x5t#S256` by default, README "Different on purpose"), `kid` only when `key_id`
/// is set (an empty `key_id` too: `""` is true in Lua); RS256 over `header.claims` with the
/// gateway's private key.
#[test]
fn upstream_jwt_jose_header_typ_alg_x5c_and_kid_only_with_key_id() {
    let cert_der = jwt_relay_core::jose::pem::parse_certificate_chain(&fixture("rsa2048_cert.pem"))
        .unwrap()
        .remove(0);
    let x5c = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&cert_der);
    for host in hosts() {
        for key_id in [None, Some("gw-key-1"), Some("")] {
            let mut section = upstream_jwt(json!({}));
            if let Some(kid) = key_id {
                section["key_id"] = json!(kid);
            }
            let (upstream, gw) = start_upstream_jwt(host, &json!({"upstream_jwt": section}));
            assert_eq!(gw.send(&Request::get("/r")).status, 200);
            let token = received_token(&upstream, "jwt");
            let mut want = json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
            if let Some(kid) = key_id {
                want["kid"] = json!(kid);
            }
            assert_eq!(header_of(&token), want, "{host:?} {key_id:?}");
            assert!(oracle::verify(&gateway_public_jwk(), "RS256", &token).is_some());
        }
    }
}

/// kong-upstream-jwt, src/access.lua lines 106-130: without `issuer` the claims are `exp` (now plus
/// 60), `jti` (a fresh UUID per request) and `payloadhash`, and `aud` where the host names
/// the service (on Envoy the route's cluster; the bare Kong engine has no service); no `iat`,
/// no `iss`, no consumer claims without a consumer.
#[test]
fn upstream_jwt_claims_without_issuer_are_exp_jti_payloadhash() {
    for host in hosts() {
        let (upstream, gw) =
            start_upstream_jwt(host, &json!({"upstream_jwt": upstream_jwt(json!({}))}));
        let before = now();
        for path in ["/a", "/b"] {
            assert_eq!(gw.send(&Request::get(path)).status, 200);
        }
        let after = now();
        let claims: Vec<Value> = upstream
            .wait_for(2)
            .iter()
            .map(|r| claims_of(r.header("jwt").unwrap()))
            .collect();
        for c in &claims {
            let mut want = vec!["exp", "jti", "payloadhash"];
            match host {
                Host::Envoy => {
                    assert_eq!(c["aud"], "upstream");
                    want.insert(0, "aud");
                }
                Host::Ngx => {}
            }
            assert_eq!(names(c), want, "{host:?}: {c}");
            let exp = c["exp"].as_u64().unwrap();
            assert!(exp >= before + 60 && exp <= after + 60, "{c}");
            assert!(is_uuid_v4(&c["jti"]), "{c}");
            assert_eq!(c["payloadhash"], "");
        }
        assert_ne!(claims[0]["jti"], claims[1]["jti"]);
    }
}

/// kong-upstream-jwt, src/access.lua lines 114-117: `issuer` adds `iss` and `iat` (now), and
/// `exp` is `iat + 60` (line 109).
#[test]
fn upstream_jwt_issuer_adds_iss_and_iat() {
    for host in hosts() {
        let config = json!({"upstream_jwt": upstream_jwt(json!({"issuer": "kong-gw"}))});
        let (upstream, gw) = start_upstream_jwt(host, &config);
        let before = now();
        assert_eq!(gw.send(&Request::get("/r")).status, 200);
        let after = now();
        let c = claims_of(&received_token(&upstream, "jwt"));
        assert_eq!(c["iss"], "kong-gw");
        let iat = c["iat"].as_u64().unwrap();
        assert!(iat >= before && iat <= after, "{c}");
        assert_eq!(c["exp"].as_u64().unwrap() - iat, 60);
    }
}

/// kong-upstream-jwt, src/access.lua lines 123-127: the authenticated consumer's `id` as
/// `consumerid` and `username` as `consumername` (handler.lua line 8: priority 900, after the
/// authentication plugins).
#[test]
fn upstream_jwt_consumer_id_and_username() {
    for host in hosts() {
        let config = json!({
            "consumers": [{"id": "0c5e8d2a-7f41-4b9e-a3d6-5e2f1c8b7a90", "username": "alice",
                           "keyauth_credentials": [{"key": "alice-key"}]}],
            "key_auth": {},
            "upstream_jwt": upstream_jwt(json!({}))
        });
        let (upstream, gw) = start_upstream_jwt(host, &config);
        assert_eq!(
            gw.send(&Request::get("/r").header("apikey", "alice-key"))
                .status,
            200
        );
        let c = claims_of(&received_token(&upstream, "jwt"));
        assert_eq!(c["consumerid"], "0c5e8d2a-7f41-4b9e-a3d6-5e2f1c8b7a90");
        assert_eq!(c["consumername"], "alice");
    }
}

/// kong-upstream-jwt, src/access.lua lines 134-144: `payloadhash` is the lower-case hex
/// SHA-256 of the body (`resty.string.to_hex`), and `""` when there is none (`to_hex("")`: a
/// GET, or a POST with an empty body); the upstream gets the body it covers.
#[test]
fn upstream_jwt_payloadhash_is_sha256_hex_of_body_or_empty() {
    let binary: Vec<u8> = (0..=255u8).rev().collect();
    for host in hosts() {
        let (upstream, gw) =
            start_upstream_jwt(host, &json!({"upstream_jwt": upstream_jwt(json!({}))}));
        let requests = [
            (Request::get("/r"), String::new()),
            (Request::post("/r", ""), String::new()),
            (Request::post("/r", "abc"), sha256_hex(b"abc")),
            (Request::post("/r", binary.clone()), sha256_hex(&binary)),
        ];
        for (req, _) in &requests {
            assert_eq!(gw.send(req).status, 200);
        }
        let seen = upstream.wait_for(requests.len());
        for (rec, (req, hash)) in seen.iter().zip(&requests) {
            assert_eq!(rec.body, req.body);
            let claims = oracle::verify(&gateway_public_jwk(), "RS256", rec.header("jwt").unwrap())
                .expect("signed by the gateway key");
            assert_eq!(
                claims["payloadhash"],
                json!(hash),
                "{host:?} {:?}",
                req.body
            );
        }
        assert_eq!(
            seen[2].header("jwt").map(claims_of).unwrap()["payloadhash"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// x-custom-jwt
// ---------------------------------------------------------------------------------------------

/// An RS256 private JWK with `kid` `kong`, as the plugin's README makes one.
fn rsa_jwk() -> Value {
    let mut jwk = oracle::keygen("RS256");
    jwk["kid"] = json!("kong");
    jwk["alg"] = json!("RS256");
    jwk
}

/// The public half of a private RSA JWK.
fn public_half(jwk: &Value) -> Value {
    json!({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
}

/// The plugin README's consumer (custom id `contact@konghq.com-ID1`) with its credentials, and
/// a second consumer without custom id.
fn readme_consumers() -> Value {
    json!([
        {"id": "8d0f3f1e-2b7c-4e55-9c1a-6f4e2d7b9a01", "username": "contact@konghq.com",
         "custom_id": "contact@konghq.com-ID1",
         "keyauth_credentials": [{"key": "012345AZERTY!"}],
         "basicauth_credentials": [{"username": "my-user", "password": "My p@ssword!"},
                                   {"username": "colon-user", "password": "pass:word"}],
         "jwt_secrets": [{"key": "idp", "secret": "idp-shared-secret"}]},
        {"id": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93", "username": "no-custom-id",
         "keyauth_credentials": [{"key": "second-key"}]}
    ])
}

fn basic(user_password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

fn idp_token(claims: &Value) -> String {
    format!(
        "Bearer {}",
        sign_hmac("HS256", b"idp-shared-secret", claims)
    )
}

/// A gateway with the README's consumers, the authentication sections of `auth`, and
/// `custom_jwt` signing with `jwk`, with the fields of `extra`.
fn start_custom(host: Host, auth: Value, jwk: &Value, extra: Value) -> (Server, Gateway) {
    let mut custom = json!({"private_jwk": jwk});
    custom
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let mut config = auth;
    config["consumers"] = readme_consumers();
    config["custom_jwt"] = custom;
    start(host, &config)
}

/// A 401 of the plugin (handler.lua lines 356-363): status, JSON body, content type.
fn assert_plugin_401(resp: &support::Response, verbose: Option<&str>) {
    let mut want = json!({"ErrorMessage": GENERIC});
    if let Some(v) = verbose {
        want["VerboseMessage"] = json!(v);
    }
    assert_eq!((resp.status, resp.json()), (401, want));
    assert_eq!(resp.header("content-type"), Some("application/json"));
}

/// `custom_jwt`'s `aud` without `audience`: the service URL on Kong; on Envoy the route's
/// cluster (`upstream` here); on the bare engine, which has neither, none. Never the request's
/// URL, whose host the client chooses (README "Different on purpose").
fn custom_aud(gw: &Gateway) -> Option<&'static str> {
    match gw.host() {
        Host::Envoy => Some("upstream"),
        Host::Ngx => None,
    }
}

/// The claim names of a custom token: `names` with `aud` where the host gives one.
fn with_aud(gw: &Gateway, names: &[&'static str]) -> Vec<&'static str> {
    let mut all: Vec<&str> = names.to_vec();
    if custom_aud(gw).is_some() {
        all.push("aud");
    }
    all.sort_unstable();
    all
}

/// The claims x-custom-jwt sets itself with the default `iss` and `expires_in` (handler.lua
/// lines 292-302 and 322-341) for the README's consumer: `act`, `iss`, `exp` = `iat` plus 1800,
/// a fresh UUID `jti`, and `aud` ([`custom_aud`]).
fn assert_plugin_claims(c: &Value, gw: &Gateway) {
    assert_eq!(c["act"], json!({"client_id": "contact@konghq.com-ID1"}));
    assert_eq!(c["iss"], DEFAULT_ISS);
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        1800
    );
    assert!(is_uuid_v4(&c["jti"]), "{c}");
    assert_eq!(c.get("aud").and_then(Value::as_str), custom_aud(gw), "{c}");
}

/// x-custom-jwt, schema.lua lines 10-18 (the defaults), handler.lua lines 11-96 (the JOSE
/// header: `typ`, the JWK's `alg` and `kid`, `jku`) and 322-341 (`iss`, `iat`, `exp` = `iat`
/// plus 1800, `aud`, `jti`), README "Example #4: Key Authentication" (`client_id` is the API key
/// of the `apikey` header, `act.client_id` the consumer's custom id): exactly these claims, in
/// `X-Custom-Jwt`, verified with the public key.
#[test]
fn custom_jwt_defaults_and_readme_key_auth_example() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(host, json!({"key_auth": {}}), &jwk, json!({}));
        let before = now();
        let resp = gw.send(
            &Request::get("/anything?x=1")
                .header("apikey", "012345AZERTY!")
                .header("X-Custom-Jwt", "client-copy"),
        );
        assert_eq!(resp.status, 200);
        let after = now();
        let token = received_token(&upstream, "x-custom-jwt");
        assert_eq!(
            header_of(&token),
            json!({"typ": "JWT", "alg": "RS256", "kid": "kong", "jku": DEFAULT_JKU})
        );
        let c = oracle::verify(&public_half(&jwk), "RS256", &token).expect("verifies");
        assert_eq!(
            names(&c),
            with_aud(&gw, &["act", "client_id", "exp", "iat", "iss", "jti"])
        );
        assert_eq!(c["client_id"], "012345AZERTY!");
        assert_plugin_claims(&c, &gw);
        let iat = c["iat"].as_u64().unwrap();
        assert!(iat >= before && iat <= after);
    }
}

/// x-custom-jwt, handler.lua lines 183-190 and 256-267, README "Example #1: Authorization:
/// Bearer": the whole (verified) token payload is copied, nested claims included, `client_id`
/// is its `clientId`, and `iss`, `iat`, `exp`, `aud`, `jti` are the plugin's own.
#[test]
fn custom_jwt_bearer_copies_the_token_payload() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(host, json!({"jwt": {}}), &jwk, json!({}));
        let incoming = json!({
            "iss": "idp", "exp": now() + 300, "iat": 1_712_685_416, "jti": "incoming-jti",
            "aud": "account", "sub": "cc163ff5-bfc1-4d6f-a1c1-6b03e295f62f", "typ": "Bearer",
            "azp": "contact@konghq.com", "scope": "openid email profile",
            "realm_access": {"roles": ["offline_access", "uma_authorization"]},
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
            "email_verified": false, "clientId": "contact@konghq.com"
        });
        let resp = gw.send(&Request::get("/oidc").header("authorization", &idp_token(&incoming)));
        assert_eq!(resp.status, 200);
        let token = received_token(&upstream, "x-custom-jwt");
        let c = oracle::verify(&public_half(&jwk), "RS256", &token).expect("verifies");
        for kept in [
            "sub",
            "typ",
            "azp",
            "scope",
            "realm_access",
            "resource_access",
            "email_verified",
            "clientId",
        ] {
            assert_eq!(c[kept], incoming[kept], "{kept}");
        }
        assert_eq!(c["client_id"], "contact@konghq.com");
        assert_plugin_claims(&c, &gw);
        assert!(c["iat"].as_u64().unwrap() > 1_712_685_416);
    }
}

/// x-custom-jwt, handler.lua lines 263-267 and 308-319: `bearer_clientid_claim` names the
/// claim; a token without it is refused with 401 and, with `verbose`, `Issue with 'client_id'
/// claim retrieval or Kong Consumer. Unable to get '<claim>' claim from the Bearer token`.
#[test]
fn custom_jwt_bearer_clientid_claim_configurable_and_missing_is_401() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(
            host,
            json!({"jwt": {}}),
            &jwk,
            json!({"bearer_clientid_claim": "azp", "verbose": true}),
        );
        let ok = idp_token(&json!({"iss": "idp", "azp": "app-7", "clientId": "other"}));
        assert_eq!(
            gw.send(&Request::get("/r").header("authorization", &ok))
                .status,
            200
        );
        let c = claims_of(&received_token(&upstream, "x-custom-jwt"));
        assert_eq!(c["client_id"], "app-7");
        let without = idp_token(&json!({"iss": "idp", "clientId": "app-7"}));
        let resp = gw.send(&Request::get("/r").header("authorization", &without));
        assert_plugin_401(
            &resp,
            Some(&format!(
                "{CLIENT_ID_ISSUE}. Unable to get 'azp' claim from the Bearer token"
            )),
        );
        assert_eq!(
            upstream.requests().len(),
            1,
            "the refused request never went up"
        );
    }
}

/// x-custom-jwt, handler.lua lines 192-200 and 273-279, README "Example #2: Authorization:
/// Basic": `client_id` is the basic-auth user.
#[test]
fn custom_jwt_basic_user_is_client_id() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(host, json!({"basic_auth": {}}), &jwk, json!({}));
        let resp = gw.send(
            &Request::get("/basicAuth").header("authorization", &basic("my-user:My p@ssword!")),
        );
        assert_eq!(resp.status, 200);
        let c = oracle::verify(
            &public_half(&jwk),
            "RS256",
            &received_token(&upstream, "x-custom-jwt"),
        )
        .expect("verifies");
        assert_eq!(
            names(&c),
            with_aud(&gw, &["act", "client_id", "exp", "iat", "iss", "jti"])
        );
        assert_eq!(c["client_id"], "my-user");
        assert_eq!(c["act"], json!({"client_id": "contact@konghq.com-ID1"}));
    }
}

/// x-custom-jwt, handler.lua lines 276-279 and 308-319: the decoded `user:password` is split
/// on every `:` and only two pieces give a `client_id`: a password with a `:` (which
/// basic-auth accepts) leaves none, a 401 `Issue with 'client_id' claim retrieval or Kong
/// Consumer`.
#[test]
fn custom_jwt_basic_password_with_colon_is_401() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(
            host,
            json!({"basic_auth": {}}),
            &jwk,
            json!({"verbose": true}),
        );
        let resp =
            gw.send(&Request::get("/r").header("authorization", &basic("colon-user:pass:word")));
        assert_plugin_401(&resp, Some(CLIENT_ID_ISSUE));
        assert!(upstream.requests().is_empty());
    }
}

/// x-custom-jwt, handler.lua lines 179-204 and 240-252: the plugin reads `Authorization` only,
/// so a basic-auth credential in `Proxy-Authorization`, or one basic-auth hid from the upstream
/// (`hide_credentials`), is no credential for it: 401 `No suitable Authentication method is
/// found: …`.
#[test]
fn custom_jwt_basic_hidden_or_in_proxy_authorization_is_no_credential() {
    let jwk = rsa_jwk();
    for host in hosts() {
        for hide in [false, true] {
            let (upstream, gw) = start_custom(
                host,
                json!({"basic_auth": {"hide_credentials": hide}}),
                &jwk,
                json!({"verbose": true}),
            );
            let credential = basic("my-user:My p@ssword!");
            let header = if hide {
                "authorization"
            } else {
                "proxy-authorization"
            };
            let resp = gw.send(&Request::get("/r").header(header, &credential));
            assert_plugin_401(&resp, Some(NO_METHOD));
            assert!(upstream.requests().is_empty(), "{host:?} hide {hide}");
        }
    }
}

/// x-custom-jwt, handler.lua lines 232-238 and 288-289: `client_id` is the value of the
/// `apikey_header` header; a key key-auth hid (`hide_credentials`) is gone from the request
/// the plugin reads: 401 `No suitable Authentication method is found: …`.
#[test]
fn custom_jwt_api_key_header_is_client_id() {
    let jwk = rsa_jwk();
    for host in hosts() {
        for hide in [false, true] {
            let (upstream, gw) = start_custom(
                host,
                json!({"key_auth": {"key_names": ["x-api-key"], "hide_credentials": hide}}),
                &jwk,
                json!({"apikey_header": "X-Api-Key", "verbose": true}),
            );
            let resp = gw.send(&Request::get("/r").header("x-api-key", "second-key"));
            if hide {
                assert_plugin_401(&resp, Some(NO_METHOD));
                assert!(upstream.requests().is_empty());
                continue;
            }
            assert_eq!(resp.status, 200);
            let c = claims_of(&received_token(&upstream, "x-custom-jwt"));
            assert_eq!(c["client_id"], "second-key");
            // handler.lua line 296: `custom_id or id`.
            assert_eq!(
                c["act"],
                json!({"client_id": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93"})
            );
        }
    }
}

/// x-custom-jwt, handler.lua lines 181-238: Bearer, then Basic, then mTLS, then the API key.
/// With jwt and key-auth both required (no `anonymous`, so Kong runs both), a request with a
/// Bearer token and an API key gets the token's `clientId`, and `act` names the consumer Kong
/// ends with (key-auth's, priority 1250 after jwt's 1450); with key-auth and basic-auth, Basic
/// wins.
#[test]
fn custom_jwt_precedence_bearer_then_basic_then_api_key() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) =
            start_custom(host, json!({"jwt": {}, "key_auth": {}}), &jwk, json!({}));
        let bearer = idp_token(&json!({"iss": "idp", "clientId": "from-token"}));
        let resp = gw.send(
            &Request::get("/r")
                .header("authorization", &bearer)
                .header("apikey", "second-key"),
        );
        assert_eq!(resp.status, 200);
        let rec = upstream.single();
        assert_eq!(
            rec.header("x-consumer-id"),
            Some("3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93")
        );
        let c = claims_of(rec.header("x-custom-jwt").unwrap());
        assert_eq!(c["client_id"], "from-token");
        assert_eq!(
            c["act"],
            json!({"client_id": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93"})
        );

        let (upstream, gw) = start_custom(
            host,
            json!({"key_auth": {}, "basic_auth": {}}),
            &jwk,
            json!({}),
        );
        let resp = gw.send(
            &Request::get("/r")
                .header("authorization", &basic("my-user:My p@ssword!"))
                .header("apikey", "012345AZERTY!"),
        );
        assert_eq!(resp.status, 200);
        let c = claims_of(&received_token(&upstream, "x-custom-jwt"));
        assert_eq!(c["client_id"], "my-user");
    }
}

/// x-custom-jwt, handler.lua lines 131-160, 206-230 and 285-286, README "Example #3: mTLS
/// Client Certificate": `client_id` is the subject DN in certificate order with `, ` between
/// attributes; it comes after Basic and before the API key.
#[test]
fn custom_jwt_mtls_subject_dn_between_basic_and_api_key() {
    let dn = "C=NL, ST=Noord-Holland, O=Relay Test, Inc., OU=Platform, CN=client-1, \
        emailAddress=client-1@relay.test";
    for host in hosts() {
        let key = json!({"kty": "oct", "alg": "HS256", "kid": "kong", "k": "seed-spec-hmac-key-32-bytes-long"});
        let config = json!({"consumers": readme_consumers(),
                            "key_auth": {"anonymous": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93"},
                            "basic_auth": {"anonymous": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93"},
                            "custom_jwt": {"private_jwk": key}});
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new(config.to_string(), upstream.addr()).mtls());
        assert_eq!(gw.curl_tls(true, &[]), Some(200), "{host:?}");
        assert_eq!(
            gw.curl_tls(true, &["-H", "apikey: 012345AZERTY!"]),
            Some(200)
        );
        assert_eq!(
            gw.curl_tls(true, &["-u", "my-user:My p@ssword!"]),
            Some(200)
        );
        let client_ids: Vec<Value> = upstream
            .wait_for(3)
            .iter()
            .map(|r| claims_of(r.header("x-custom-jwt").unwrap())["client_id"].clone())
            .collect();
        assert_eq!(
            client_ids,
            [json!(dn), json!(dn), json!("my-user")],
            "{host:?}"
        );
    }
}

/// x-custom-jwt, handler.lua lines 240-252 and 356-363: no Bearer, Basic, client certificate
/// or API key: 401 `{"ErrorMessage": "You are not authorized to access to this service"}`,
/// `Content-Type: application/json`, `VerboseMessage` only with `verbose`; nothing reaches the
/// upstream and no downstream header is set.
#[test]
fn custom_jwt_no_credential_is_401() {
    let jwk = rsa_jwk();
    for host in hosts() {
        for verbose in [false, true] {
            let (upstream, gw) = start_custom(
                host,
                json!({"key_auth": {"anonymous": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93"}}),
                &jwk,
                json!({"verbose": verbose, "downstream_custom_jwt_header": "X-Minted"}),
            );
            let resp = gw.send(&Request::get("/r"));
            assert_plugin_401(&resp, verbose.then_some(NO_METHOD));
            assert!(resp.header("x-minted").is_none());
            assert!(upstream.requests().is_empty());
        }
    }
}

/// x-custom-jwt, handler.lua lines 292-306 and 308-319: a credential without a Kong consumer
/// (here a token verified by an inline JWKS, which names none): 401 `Issue with 'client_id'
/// claim retrieval or Kong Consumer. There is no Kong consumer credential`.
#[test]
fn custom_jwt_without_consumer_is_401() {
    let jwk = rsa_jwk();
    let idp = oracle::keygen("ES256");
    let idp_public = json!({"kty": "EC", "crv": idp["crv"], "x": idp["x"], "y": idp["y"],
                            "kid": "idp-1", "alg": "ES256"});
    for host in hosts() {
        let config = json!({"jwt": {"jwks": {"keys": [idp_public]}},
                            "custom_jwt": {"private_jwk": jwk, "verbose": true}});
        let (upstream, gw) = start(host, &config);
        let mut signer = idp.clone();
        signer["kid"] = json!("idp-1");
        let token = oracle::run(vec![json!({"op": "sign", "jwk": signer, "alg": "ES256",
                                            "claims": {"clientId": "app-7", "iss": "idp"}})])
        .remove(0)["token"]
            .as_str()
            .unwrap()
            .to_string();
        let resp = gw.send(&Request::get("/r").header("authorization", &format!("Bearer {token}")));
        assert_plugin_401(
            &resp,
            Some(&format!(
                "{CLIENT_ID_ISSUE}. There is no Kong consumer credential"
            )),
        );
        assert!(upstream.requests().is_empty());
    }
}

/// x-custom-jwt, handler.lua lines 294-302: `act.client_id` is the consumer's `custom_id`,
/// else its `id`; an incoming `act` object keeps its members.
#[test]
fn custom_jwt_act_is_custom_id_else_id_and_incoming_act_is_kept() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(host, json!({"jwt": {}}), &jwk, json!({}));
        let token = idp_token(&json!({"iss": "idp", "clientId": "app",
                                      "act": {"sub": "service-a", "client_id": "old"}}));
        assert_eq!(
            gw.send(&Request::get("/r").header("authorization", &token))
                .status,
            200
        );
        let c = claims_of(&received_token(&upstream, "x-custom-jwt"));
        assert_eq!(
            c["act"],
            json!({"sub": "service-a", "client_id": "contact@konghq.com-ID1"})
        );
    }
}

/// x-custom-jwt, handler.lua lines 364-374: with `upstream_custom_jwt_header: Authorization`
/// the value is `Bearer <jwt>`, set over the client's `Authorization`; the
/// `downstream_custom_jwt_header` response header carries the same value.
#[test]
fn custom_jwt_authorization_gets_bearer_and_downstream_echoes_it() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(
            host,
            json!({"jwt": {}}),
            &jwk,
            json!({"upstream_custom_jwt_header": "Authorization", "downstream_custom_jwt_header": "X-Custom-Jwt-Out"}),
        );
        let incoming = idp_token(&json!({"iss": "idp", "clientId": "app-7"}));
        let resp = gw.send(&Request::get("/r").header("authorization", &incoming));
        assert_eq!(resp.status, 200);
        let value = received_token(&upstream, "authorization");
        assert_ne!(value, incoming);
        let token = value.strip_prefix("Bearer ").expect("Bearer prefix");
        let c = oracle::verify(&public_half(&jwk), "RS256", token).expect("verifies");
        assert_eq!(c["client_id"], "app-7");
        assert_eq!(resp.header("x-custom-jwt-out"), Some(value.as_str()));
    }
}

/// x-custom-jwt, handler.lua lines 47-49 (an HS256/HS512 JWK signs with its `k` text as it
/// is), and README "Check the JWS with the JWT plugin and build the /introspect Route": the
/// minted token passes Kong's jwt plugin with `key_claim_name: client_id`,
/// `claims_to_verify: exp` and the `k` text as the consumer's HS256 secret (here the filter's
/// own jwt stage on a second gateway).
#[test]
fn custom_jwt_hmac_k_as_is_and_readme_introspect_round_trip() {
    let k = "introspect-hs256-secret-text-32b";
    for host in hosts() {
        let jwk = json!({"kty": "oct", "kid": "kong", "alg": "HS256", "k": k});
        let (upstream, gw) = start_custom(host, json!({"basic_auth": {}}), &jwk, json!({}));
        assert_eq!(
            gw.send(
                &Request::get("/basicAuth").header("authorization", &basic("my-user:My p@ssword!"))
            )
            .status,
            200
        );
        let token = received_token(&upstream, "x-custom-jwt");
        let parsed = jws::parse(&token).unwrap();
        assert!(parsed
            .verify(&VerifyingKey::hmac(k.as_bytes()).unwrap())
            .is_ok());
        assert_eq!(
            header_of(&token),
            json!({"typ": "JWT", "alg": "HS256", "kid": "kong", "jku": DEFAULT_JKU})
        );

        let introspect = json!({
            "consumers": [{"id": "c-introspect", "jwt_secrets": [{"key": "my-user", "algorithm": "HS256", "secret": k}]}],
            "jwt": {"key_claim_name": "client_id", "claims_to_verify": ["exp"]}
        });
        let (checked, checker) = start(host, &introspect);
        let resp = checker
            .send(&Request::get("/introspect").header("authorization", &format!("Bearer {token}")));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        assert_eq!(
            checked.single().header("x-credential-identifier"),
            Some("my-user")
        );
    }
}

/// x-custom-jwt, schema.lua lines 14-16 and handler.lua lines 62-69 and 322-326: `expires_in`,
/// `iss` and `jku` as configured, and `alg` the JWK's (RS512).
#[test]
fn custom_jwt_expires_in_iss_jku_and_alg_as_configured() {
    let mut jwk = oracle::keygen("RS512");
    jwk["alg"] = json!("RS512");
    jwk["kid"] = json!("k-512");
    for host in hosts() {
        let config = json!({"consumers": readme_consumers(), "key_auth": {},
                            "custom_jwt": {"private_jwk": jwk.to_string(), "expires_in": 60,
                                           "iss": "https://gw.example/iss",
                                           "jku": "https://gw.example/jwks"}});
        let (upstream, gw) = start(host, &config);
        assert_eq!(
            gw.send(&Request::get("/r").header("apikey", "012345AZERTY!"))
                .status,
            200
        );
        let token = received_token(&upstream, "x-custom-jwt");
        assert_eq!(
            header_of(&token),
            json!({"typ": "JWT", "alg": "RS512", "kid": "k-512", "jku": "https://gw.example/jwks"})
        );
        let c = oracle::verify(&public_half(&jwk), "RS512", &token).expect("verifies");
        assert_eq!(c["iss"], "https://gw.example/iss");
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
    }
}

/// x-custom-jwt README, Prerequisites (the `x-custom-jwt-jwks` route at `/x-custom-jwt/jwks`
/// answered by Request Termination: 200, `application/json`, `{"keys": [public JWK]}`): the
/// `jwks_endpoint` at the `jku` path serves the public key (no private member) without any
/// credential, never reaches the upstream, and verifies the minted token.
#[test]
fn custom_jwt_jwks_route_serves_the_public_key() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(
            host,
            json!({"key_auth": {}, "jwks_endpoint": {"path": "/x-custom-jwt/jwks"}}),
            &jwk,
            json!({}),
        );
        let resp = gw.send(&Request::get("/x-custom-jwt/jwks"));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let keys = resp.json()["keys"].as_array().unwrap().clone();
        assert_eq!(keys.len(), 1);
        let served = &keys[0];
        assert_eq!(
            (&served["kty"], &served["kid"], &served["n"], &served["e"]),
            (&json!("RSA"), &json!("kong"), &jwk["n"], &jwk["e"])
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(served.get(private).is_none(), "{private}");
        }
        assert!(upstream.requests().is_empty());
        assert_eq!(
            gw.send(&Request::get("/r").header("apikey", "012345AZERTY!"))
                .status,
            200
        );
        let token = received_token(&upstream, "x-custom-jwt");
        assert!(oracle::verify(served, "RS256", &token).is_some());
    }
}

/// x-custom-jwt, handler.lua lines 50-56: a JWK `alg` other than RS256, RS512, HS256 and HS512
/// is a 401 `Unknown algorithm '<alg>'` on every request; the filter refuses such a key when
/// the configuration loads (README "Different on purpose": a bad JWK refuses the
/// configuration), here a JWK without `alg`.
#[test]
fn custom_jwt_jwk_without_alg_refuses_the_configuration() {
    let mut jwk = rsa_jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    for host in hosts() {
        let config = json!({"custom_jwt": {"private_jwk": jwk}});
        let log = Gateway::refused(host, Setup::new(config.to_string(), Server::ok().addr()));
        assert!(
            log.contains("configuration rejected: custom_jwt.private_jwk"),
            "{host:?}: {log}"
        );
    }
}

/// x-custom-jwt with `allow_unverified_credentials` (the plugin's own reading), handler.lua
/// lines 102-110, 268-270 and 273-283: a Bearer value that is not three dot-separated parts,
/// a Basic value that is not base64, and a decoded Basic value without one `:` are each the
/// plugin's 401 with its message.
#[test]
fn custom_jwt_unverified_malformed_bearer_and_basic() {
    let jwk = rsa_jwk();
    for host in hosts() {
        let (upstream, gw) = start_custom(
            host,
            json!({"key_auth": {"anonymous": "3a9c6b2e-5d1f-4f80-b7e4-0c2d8a6f1e93"}}),
            &jwk,
            json!({"verbose": true, "allow_unverified_credentials": true}),
        );
        let cases = [
            (
                "Bearer not-a-jwt".to_string(),
                format!(
                    "{CLIENT_ID_ISSUE}. Unable to get the 'Auth token' payload: Inconsistent \
                     JWT: unable to get the typical structure Header.Payload.Signature"
                ),
            ),
            (
                "Basic %%%".to_string(),
                format!("{CLIENT_ID_ISSUE}. Unable to decode correctly in base64 the 'Basic Auth'"),
            ),
            (basic("no-colon"), CLIENT_ID_ISSUE.to_string()),
        ];
        for (authorization, message) in &cases {
            let resp = gw.send(&Request::get("/r").header("authorization", authorization));
            assert_plugin_401(&resp, Some(message));
        }
        assert!(upstream.requests().is_empty());
        let resp = gw.send(&Request::get("/r").header("authorization", &basic("anyone:x")));
        assert_eq!(resp.status, 200);
        let c = claims_of(&received_token(&upstream, "x-custom-jwt"));
        assert_eq!(c["client_id"], "anyone");
    }
}
