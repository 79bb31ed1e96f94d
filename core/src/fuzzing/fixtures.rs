//! The fixed keys and compiled configurations the targets run against, built once per process.
//! The keys are the test fixtures of `tests/fixtures/jose` (they protect nothing).

use crate::jose::{Algorithm, Jwk, SigningKey, VerifyingKey};
use crate::stages::Pipeline;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// P-256 private key (PKCS#8): signs the flow's ES256 tokens, verifies as `es-iss` and `k1`.
pub const P256_PKCS8: &str = include_str!("../../../tests/fixtures/jose/ec_p256_pkcs8.pem");
/// Its public half.
pub const P256_SPKI: &str = include_str!("../../../tests/fixtures/jose/ec_p256_public_spki.pem");
/// P-384 public key.
pub const P384_SPKI: &str = include_str!("../../../tests/fixtures/jose/ec_p384_public_spki.pem");
/// Ed25519 private key (PKCS#8).
pub const ED25519_PKCS8: &str = include_str!("../../../tests/fixtures/jose/ed25519_pkcs8.pem");
/// Ed448 public key.
pub const ED448_SPKI: &str = include_str!("../../../tests/fixtures/jose/ed448_public_spki.pem");
/// RSA-2048 public key.
pub const RSA2048_SPKI: &str = include_str!("../../../tests/fixtures/jose/rsa2048_public_spki.pem");
/// The HMAC secret of consumer `c-1`'s `fuzz-iss` credential and of the `jws` target's HS key.
pub const HS_SECRET: &str = "fuzz-secret";
/// The `oct` JWK custom_jwt signs with.
pub const OCT_K: &str = "a2V5LWZvci1mdXp6LXRlc3Rz";
/// The fixed clock of the flow (requests add a little to it).
pub const T0: u64 = 1_700_000_000;

/// Everything the targets share.
pub struct Fixtures {
    /// Keys `jws` verifies with: HS256 secret, P-256, P-384, Ed25519, Ed448, RSA-2048.
    pub verifying: Vec<VerifyingKey>,
    /// HS256 signer (`fuzz-iss`).
    pub hs: SigningKey,
    /// ES256 signer (`es-iss`, `kid` `k1`).
    pub es: SigningKey,
    /// A JWKS document with the ES256 public key as `k1`.
    pub jwks: String,
    /// The flow's configurations: name, compiled form, header names only the filter may set.
    pub configs: Vec<(&'static str, Pipeline, Vec<&'static str>)>,
}

static FIXTURES: OnceLock<Option<Fixtures>> = OnceLock::new();

/// The fixtures, `None` only if a fixture no longer loads (a unit test guards that).
pub fn get() -> Option<&'static Fixtures> {
    FIXTURES.get_or_init(|| build().ok()).as_ref()
}

/// The fixtures, or why one does not load.
pub fn build() -> Result<Fixtures, String> {
    let hs = SigningKey::hmac(HS_SECRET.as_bytes()).map_err(|e| e.to_string())?;
    let es = SigningKey::parse_pem(P256_PKCS8).map_err(|e| e.to_string())?;
    let ed = SigningKey::parse_pem(ED25519_PKCS8).map_err(|e| e.to_string())?;
    let mut verifying = vec![hs.verifying_key(), es.verifying_key(), ed.verifying_key()];
    for pem in [P384_SPKI, ED448_SPKI, RSA2048_SPKI] {
        verifying.push(VerifyingKey::parse_pem(pem).map_err(|e| e.to_string())?);
    }
    let k1 = Jwk::from_keys(es.verifying_key(), None)
        .with_kid("k1")
        .with_alg(Algorithm::ES256)
        .map_err(|e| e.to_string())?
        .to_public_json()
        .map_err(|e| e.to_string())?;
    let jwks = json!({ "keys": [k1] });
    let es_private = Jwk::from_keys(es.verifying_key(), Some(es.clone()))
        .with_kid("es-private")
        .with_alg(Algorithm::ES256)
        .map_err(|e| e.to_string())?
        .to_private_json()
        .map_err(|e| e.to_string())?;
    let mut configs = Vec::new();
    for (name, value, owned) in config_values(&jwks, &Value::Object(es_private)) {
        let compiled = Pipeline::load_with_env(value.to_string().as_bytes(), &fixed_env)
            .map_err(|e| format!("config {name}: {e}"))?;
        configs.push((name, compiled, owned));
    }
    Ok(Fixtures {
        verifying,
        hs,
        es,
        jwks: jwks.to_string(),
        configs,
    })
}

/// The environment the `config` target loads with: `FUZZ_KEY` and `FUZZ_CERT` are set.
pub fn fixed_env(name: &str) -> Option<String> {
    match name {
        "FUZZ_KEY" => Some(P256_PKCS8.to_owned()),
        "FUZZ_CERT" => Some(include_str!("../../../tests/fixtures/jose/ec_p256_chain.pem").into()),
        _ => None,
    }
}

/// The flow's configurations, each with the header names a client copy of which must never
/// reach the upstream (beyond the consumer headers, which every configuration with an
/// authentication stage guards); `x-auth-*` is every name under that prefix.
fn config_values(
    jwks: &Value,
    es_private: &Value,
) -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let oct = json!({"kty": "oct", "alg": "HS256", "kid": "oct-1", "k": OCT_K});
    vec![
        (
            "full",
            json!({
                "consumers": [
                    {"id": "c-1", "username": "alice", "custom_id": "cust-1",
                     "jwt_secrets": [
                        {"key": "fuzz-iss", "secret": HS_SECRET},
                        {"key": "es-iss", "algorithm": "ES256", "rsa_public_key": P256_SPKI}],
                     "keyauth_credentials": [{"key": "fuzz-api-key"}],
                     "basicauth_credentials": [{"username": "fuzz-user", "password": "fuzz-pass"}]},
                    {"username": "anon"}
                ],
                "jwt": {
                    "uri_param_names": ["jwt", "token"],
                    "cookie_names": ["jwt", "session"],
                    "header_names": ["authorization", "x-token"],
                    "claims_to_verify": ["exp", "nbf"],
                    "claims_to_headers": [{"claim": "sub", "header": "x-sub"},
                                          {"claim": "a.b", "header": "X_Nested"}],
                    "anonymous": "anon"
                },
                "key_auth": {"anonymous": "anon", "hide_credentials": true},
                "basic_auth": {"anonymous": "anon", "hide_credentials": true},
                "reconcile": {
                    "url": "http://auth:8080", "upstream": "auth",
                    "forward_path": true, "forward_query": true, "forward_headers": true,
                    "forward_body": true, "injected_header_prefix": "X-Auth-",
                    "strip_prefixed_headers": true, "streamdown_injected_headers": true,
                    "cache_seconds": 5
                },
                "custom_jwt": {"private_jwk": oct, "downstream_custom_jwt_header": "x-minted"},
                "upstream_jwt": {"private_key": P256_PKCS8, "algorithm": "ES256", "x5c": false,
                                 "bind_request": true, "issuer": "gw", "key_id": "gw-1"},
                "jwks_endpoint": {}
            }),
            vec!["x-sub", "x-nested", "x-custom-jwt", "jwt", "x-auth-*"],
        ),
        (
            "jwks",
            json!({
                "jwt": {
                    "jwks": jwks,
                    "jwks_uri": {"url": "http://idp:9000/jwks", "upstream": "idp"},
                    "claims_to_headers": [{"claim": "role", "header": "x-role"}],
                    "issuers": ["es-iss", "fuzz-iss"],
                    "audiences": ["api"],
                    "leeway_seconds": 30
                },
                "reconcile": {
                    "url": "https://auth.example.com/base?x=1", "method": "GET",
                    "failure_mode_allow": true, "allowed_headers": ["user-id", "tenant"],
                    "copy_headers": false
                },
                "upstream_jwt": {"private_key": ED25519_PKCS8, "algorithm": "EdDSA",
                                 "x5c": false, "max_body_bytes": 64,
                                 "empty_body_payloadhash": "sha256",
                                 "include_credential_type": true}
            }),
            vec!["x-role", "user-id", "tenant", "jwt"],
        ),
        (
            "keys",
            json!({
                "consumers": [
                    {"id": "k-1", "custom_id": "kc",
                     "keyauth_credentials": [{"key": "fuzz-api-key"}],
                     "basicauth_credentials": [{"username": "fuzz-user", "password": "fuzz-pass"}]}
                ],
                "key_auth": {"key_names": ["apikey", "x-api-key"], "hide_credentials": true},
                "basic_auth": {},
                "custom_jwt": {"private_jwk": es_private, "verbose": true, "iss": null},
                "reconcile": {"url": "http://auth", "forward_body": true, "max_body_bytes": 32,
                              "inject_body_response_into_header": false, "cache_seconds": 60}
            }),
            vec!["x-custom-jwt"],
        ),
        (
            "body-keys",
            json!({
                "consumers": [
                    {"id": "b-1", "keyauth_credentials": [{"key": "fuzz-body-key"}]},
                    {"id": "b-anon"}
                ],
                "jwt": {"anonymous": "b-anon"},
                "key_auth": {"key_names": ["apikey", "x_api_key"], "key_in_body": true},
                "reconcile": {"url": "http://auth", "forward_body": true, "max_body_bytes": 64}
            }),
            vec![],
        ),
        (
            "hidden-body-keys",
            json!({
                "consumers": [
                    {"id": "h-1", "keyauth_credentials": [{"key": "fuzz-body-key"}]},
                    {"id": "h-anon"}
                ],
                "key_auth": {"key_names": ["apikey", "x_api_key"], "key_in_body": true,
                             "hide_credentials": true, "anonymous": "h-anon"},
                "upstream_jwt": {"private_key": ED25519_PKCS8, "algorithm": "EdDSA",
                                 "x5c": false, "max_body_bytes": 256},
                "reconcile": {"url": "http://auth", "forward_body": true, "max_body_bytes": 256}
            }),
            vec!["jwt"],
        ),
        (
            "unverified",
            json!({
                "custom_jwt": {"private_jwk": {"kty": "oct", "alg": "HS512", "k": OCT_K},
                               "allow_unverified_credentials": true, "verbose": true,
                               "k_verbatim": false, "audience": "aud",
                               "upstream_custom_jwt_header": "Authorization"},
                "jwks_endpoint": {"path": "/jwks"}
            }),
            vec!["authorization"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_fixture_loads() {
        let fixtures = super::build().unwrap();
        assert_eq!(fixtures.configs.len(), 6);
        assert!(super::get().is_some());
    }
}
