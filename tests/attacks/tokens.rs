//! Validly signed tokens that must still be refused: a `crit` or `b64` header asking for
//! processing the filter does not do, JSON with a member name twice (which readers resolve
//! differently), and HMAC tokens signed with an `oct` key anyone can download from a `jwks_uri`.

use super::health;
use crate::support::tokens::{self, b64, fixture, key_files, now, ASYMMETRIC};
use crate::support::{hosts_for, Envoy, Gateway, Host, Reply, Request, Response, Server, Setup};
use jwt_relay_core::jose::{Algorithm, Jwk, SigningKey, VerifyingKey};
use serde_json::{json, Value};

const HS_SECRET: &str = "s3cr3t-for-hs-credentials";
const HMAC: [&str; 3] = ["HS256", "HS384", "HS512"];
/// The challenge of the jwt stage for a bad token, with the realm these configs set.
const CHALLENGE: &str = "Bearer realm=\"api\", error=\"invalid_token\"";

/// The key that signs `alg` tokens: the credential's HMAC secret, else the fixture private key.
fn signing_key(alg: Algorithm) -> SigningKey {
    if HMAC.contains(&alg.name()) {
        return SigningKey::hmac(HS_SECRET.as_bytes()).unwrap();
    }
    SigningKey::from_pem(&fixture(key_files(alg.name()).0), alg).unwrap()
}

/// A token over the exact header and claims JSON given (duplicates and all), validly signed
/// with `key` for `alg`.
fn sign_raw(alg: Algorithm, key: &SigningKey, header: &str, claims: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let signature = key.sign(alg, input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn bearer(token: &str) -> Request {
    Request::get("/resource").header("authorization", &format!("Bearer {token}"))
}

/// The filter answered 401 with Kong's JSON `message` and this challenge.
fn assert_refused(resp: &Response, message: &str, challenge: &str, case: &str) {
    assert_eq!(resp.status, 401, "{case}: {}", resp.text());
    assert_eq!(resp.json(), json!({ "message": message }), "{case}");
    assert_eq!(resp.header("www-authenticate"), Some(challenge), "{case}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json; charset=utf-8"),
        "{case}"
    );
}

/// The hosts that can take [`credentials_config`].
fn credential_hosts() -> Vec<Host> {
    hosts_for(&credentials_config().to_string())
}

/// A host with a jwt credential per algorithm (key claim `iss` = `key-<ALG>`), realm `api`.
fn start_with_credentials(host: Host) -> (Server, Gateway) {
    let upstream = Server::ok();
    let setup = Setup::new(credentials_config().to_string(), upstream.addr());
    (upstream, Gateway::start(host, setup))
}

fn credentials_config() -> Value {
    let mut secrets: Vec<Value> = HMAC
        .iter()
        .map(|alg| json!({"key": format!("key-{alg}"), "algorithm": alg, "secret": HS_SECRET}))
        .collect();
    for alg in ASYMMETRIC {
        secrets.push(json!({"key": format!("key-{alg}"), "algorithm": alg,
                            "rsa_public_key": tokens::public_pem(alg)}));
    }
    json!({
        "consumers": [{"id": "c-1", "username": "alice", "jwt_secrets": secrets}],
        "jwt": {"realm": "api", "claims_to_verify": ["exp"]}
    })
}

/// A token the credentials must let through.
fn good_request() -> Request {
    let claims = json!({"iss": "key-HS256", "exp": now() + 600}).to_string();
    let alg = Algorithm::HS256;
    bearer(&sign_raw(
        alg,
        &signing_key(alg),
        r#"{"alg":"HS256"}"#,
        &claims,
    ))
}

/// `crit` members no implementation without extensions may accept: an unknown extension, a
/// registered name (forbidden in `crit`), `b64` itself, an empty list, a string, null.
const CRIT_FORMS: [&str; 7] = [
    r#""crit":["x-bank-approval"],"x-bank-approval":true"#,
    r#""crit":["exp"],"exp":1"#,
    r#""crit":["alg"]"#,
    r#""crit":["b64"],"b64":false"#,
    r#""crit":[]"#,
    r#""crit":"x-bank-approval""#,
    r#""crit":null"#,
];

#[test]
fn tokens_crit_or_b64_in_header_refused_for_every_algorithm() {
    for host in credential_hosts() {
        let (upstream, envoy) = start_with_credentials(host);
        let claims =
            |alg: &str| json!({"iss": format!("key-{alg}"), "exp": now() + 600}).to_string();
        let every_alg = HMAC.iter().chain(ASYMMETRIC.iter());
        for name in every_alg {
            let alg: Algorithm = name.parse().unwrap();
            let key = signing_key(alg);
            // Every form on two families; the unknown extension on every algorithm.
            let forms = if ["HS256", "ES256"].contains(name) {
                &CRIT_FORMS[..]
            } else {
                &CRIT_FORMS[..1]
            };
            for crit in forms {
                let header = format!(r#"{{"alg":"{name}",{crit}}}"#);
                let resp = envoy.send(&bearer(&sign_raw(alg, &key, &header, &claims(name))));
                assert_refused(&resp, "Bad token; unsupported crit", CHALLENGE, &header);
            }
            let header = format!(r#"{{"alg":"{name}","b64":false}}"#);
            let resp = envoy.send(&bearer(&sign_raw(alg, &key, &header, &claims(name))));
            assert_refused(&resp, "Bad token; unsupported b64", CHALLENGE, &header);
            // The same token without the extension goes through: only the header differs.
            let header = format!(r#"{{"alg":"{name}","b64":true}}"#);
            let resp = envoy.send(&bearer(&sign_raw(alg, &key, &header, &claims(name))));
            assert_eq!(resp.status, 200, "{header}: {}", resp.text());
        }
        let allowed = upstream.requests();
        assert_eq!(allowed.len(), HMAC.len() + ASYMMETRIC.len());
        assert!(allowed
            .iter()
            .all(|r| r.header("x-consumer-id") == Some("c-1")));
        health::assert_still_serves(&envoy, &upstream, &good_request());
    }
}

#[test]
fn tokens_duplicate_json_member_names_refused() {
    for host in credential_hosts() {
        let (upstream, envoy) = start_with_credentials(host);
        let (past, future) = (now() - 600, now() + 600);
        let hs256 = Algorithm::HS256;
        let key = signing_key(hs256);
        let good_header = r#"{"alg":"HS256"}"#;
        let good_claims = format!(r#"{{"iss":"key-HS256","exp":{future}}}"#);
        // Each case is signed with the real secret, and would verify with the last value winning.
        let cases = [
            (
                r#"{"alg":"none","alg":"HS256"}"#.to_string(),
                good_claims.clone(),
            ),
            (
                r#"{"alg":"HS256","alg":"HS256"}"#.to_string(),
                good_claims.clone(),
            ),
            (
                r#"{"alg":"HS256","kid":"a","kid":"b"}"#.to_string(),
                good_claims.clone(),
            ),
            (
                good_header.to_string(),
                format!(r#"{{"iss":"key-RS256","iss":"key-HS256","exp":{future}}}"#),
            ),
            (
                good_header.to_string(),
                format!(r#"{{"iss":"key-HS256","exp":{past},"exp":{future}}}"#),
            ),
            (
                good_header.to_string(),
                format!(r#"{{"iss":"key-HS256","exp":{future},"org":{{"id":1,"id":2}}}}"#),
            ),
            // Same name once unescaped.
            (
                good_header.to_string(),
                format!(r#"{{"iss":"key-HS256","\u0069ss":"key-HS256","exp":{future}}}"#),
            ),
        ];
        for (header, claims) in &cases {
            let resp = envoy.send(&bearer(&sign_raw(hs256, &key, header, claims)));
            assert_refused(
                &resp,
                "Bad token; invalid JSON",
                CHALLENGE,
                &format!("{header} {claims}"),
            );
        }
        // The other order, unsigned: it must not pass as `none` either (nor as `invalid alg`).
        let none_last = format!(
            "{}.{}.",
            b64(br#"{"alg":"HS256","alg":"none"}"#),
            b64(good_claims.as_bytes())
        );
        let resp = envoy.send(&bearer(&none_last));
        assert_refused(
            &resp,
            "Bad token; invalid JSON",
            CHALLENGE,
            "alg HS256 then none",
        );
        assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());
        health::assert_still_serves(&envoy, &upstream, &good_request());
    }
}

/// `k` of the served `oct` keys: base64url of the credential secret, so a token signed with it
/// is what anyone who downloaded the set could make.
fn oct_k() -> String {
    b64(HS_SECRET.as_bytes())
}

/// The published set: an `oct` key alone (`hmac-1`), and an `oct` key sharing `shared` with
/// the RSA fixture's public key.
fn published_jwks() -> Value {
    let rsa = VerifyingKey::from_pem(&tokens::public_pem("RS256"), Algorithm::RS256).unwrap();
    let rsa = Jwk::from_keys(rsa, None).with_kid("shared");
    json!({"keys": [
        {"kty": "oct", "kid": "hmac-1", "alg": "HS256", "use": "sig", "k": oct_k()},
        {"kty": "oct", "kid": "shared", "k": oct_k()},
        Value::Object(rsa.to_public_json().unwrap()),
    ]})
}

/// Waits until the filter has taken in a fetched set: the counter moves after the fetch is
/// parsed and logged. A request arriving while the startup fetch is in flight is answered
/// without waiting for it, so the allowed-token check needs the set in place first.
fn wait_for_fetched_set(envoy: &Envoy) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(n) = envoy
            .stat("wasmcustom.jwt_relay.jwks_fetch.ok")
            .filter(|n| *n > 0)
        {
            return n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no JWKS fetch:\n{}",
            envoy.log()
        );
    }
}

#[test]
fn tokens_hmac_with_published_oct_key_refused() {
    let idp = Server::start(|_| Reply::json(200, &published_jwks()));
    let upstream = Server::ok();
    let config = json!({"jwt": {
        "jwks_uri": {"url": "http://idp.example/keys", "upstream": "idp"},
        "claims_to_verify": ["exp"]
    }});
    let envoy =
        Envoy::start(Setup::new(config.to_string(), upstream.addr()).cluster("idp", idp.addr()));
    let claims = json!({"sub": "u", "exp": now() + 600}).to_string();
    let hs256 = Algorithm::HS256;
    let oct = SigningKey::hmac(HS_SECRET.as_bytes()).unwrap();
    // An unknown kid is fetched again once, then refused as unknown: no usable key has it.
    let unknown = "No credentials found for given 'kid'";
    let plain = "Bearer error=\"invalid_token\"";
    for header in [
        r#"{"alg":"HS256","kid":"hmac-1"}"#,
        r#"{"alg":"HS256","kid":"shared"}"#,
        r#"{"alg":"HS256"}"#,
    ] {
        let resp = envoy.send(&bearer(&sign_raw(hs256, &oct, header, &claims)));
        assert_refused(&resp, unknown, plain, header);
    }
    let fetches = wait_for_fetched_set(&envoy);

    let rs256 = Algorithm::RS256;
    let rsa = signing_key(rs256);
    let header = r#"{"alg":"RS256","kid":"shared","crit":["x"],"x":1}"#;
    let resp = envoy.send(&bearer(&sign_raw(rs256, &rsa, header, &claims)));
    assert_refused(&resp, "Bad token; unsupported crit", plain, header);
    assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());

    let good = bearer(&sign_raw(
        rs256,
        &rsa,
        r#"{"alg":"RS256","kid":"shared"}"#,
        &claims,
    ));
    health::assert_still_serves(&envoy, &upstream, &good);

    // One line per fetch, with the count and no key material.
    let log = envoy.log();
    let fetched =
        "jwt-relay: JWKS fetched: 1 keys (2 oct keys ignored: a published JWKS holds no secret)";
    let lines = log.lines().filter(|l| l.contains("JWKS fetched")).count();
    assert!(lines >= 1, "{log}");
    assert_eq!(lines, log.matches(fetched).count(), "{log}");
    let counted = envoy.stat("wasmcustom.jwt_relay.jwks_fetch.ok").unwrap();
    assert!(counted >= fetches);
    assert_eq!(lines as u64, counted, "{log}");
    assert_eq!(lines, idp.requests().len(), "{log}");
    for secret in [oct_k().as_str(), HS_SECRET] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}
