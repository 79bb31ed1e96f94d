//! Test keys (from tests/fixtures/jose) and token minting for the integration tests.

use jwt_relay_core::jose::{jws, Algorithm, JwsHeader, SigningKey};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Reads a fixture file (the one reader: [`super::fixture`]).
pub fn fixture(name: &str) -> String {
    super::fixture(name)
}

/// (private PKCS#8 PEM, public SPKI PEM) fixture names for an asymmetric algorithm.
pub fn key_files(alg: &str) -> (&'static str, &'static str) {
    match alg {
        a if a.starts_with("RS") || a.starts_with("PS") => {
            ("rsa2048_pkcs8.pem", "rsa2048_public_spki.pem")
        }
        "ES256" => ("ec_p256_pkcs8.pem", "ec_p256_public_spki.pem"),
        "ES384" => ("ec_p384_pkcs8.pem", "ec_p384_public_spki.pem"),
        "ES512" => ("ec_p521_pkcs8.pem", "ec_p521_public_spki.pem"),
        "EdDSA" => ("ed25519_pkcs8.pem", "ed25519_public_spki.pem"),
        other => panic!("no key fixture for {other}"),
    }
}

/// The public PEM used to verify `alg`.
pub fn public_pem(alg: &str) -> String {
    fixture(key_files(alg).1)
}

/// Every asymmetric algorithm.
pub const ASYMMETRIC: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims_map(claims: &Value) -> Map<String, Value> {
    claims
        .as_object()
        .cloned()
        .expect("claims must be an object")
}

/// Signs claims with an asymmetric fixture key.
pub fn sign_pem(alg: &str, claims: &Value, kid: Option<&str>) -> String {
    let algorithm: Algorithm = alg.parse().unwrap();
    let key = SigningKey::from_pem(&fixture(key_files(alg).0), algorithm).unwrap();
    sign_with(&key, algorithm, claims, kid)
}

/// Signs claims with an HMAC secret.
pub fn sign_hmac(alg: &str, secret: &[u8], claims: &Value) -> String {
    let algorithm: Algorithm = alg.parse().unwrap();
    sign_with(&SigningKey::hmac(secret).unwrap(), algorithm, claims, None)
}

fn sign_with(key: &SigningKey, alg: Algorithm, claims: &Value, kid: Option<&str>) -> String {
    let mut header = JwsHeader::new(alg);
    if let Some(k) = kid {
        header = header.with_kid(k);
    }
    jws::sign(&header, &claims_map(claims), key).unwrap()
}

/// base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    jwt_relay_core::jose::b64::encode(bytes)
}

/// A token assembled from raw segments (for malformed-token tests).
pub fn raw_token(header: &str, claims: &str, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        b64(header.as_bytes()),
        b64(claims.as_bytes())
    )
}

/// The JSON of a compact token's segment `n` (0 the JOSE header, 1 the claims), unverified.
pub fn segment_of(token: &str, n: usize) -> Value {
    let text = token.split('.').nth(n).expect("a compact token");
    let bytes = jwt_relay_core::jose::b64::decode(text).expect("base64url segment");
    serde_json::from_slice(&bytes).expect("JSON segment")
}

/// The claims of a compact token, unverified (to read what the filter minted).
pub fn claims_of(token: &str) -> Value {
    segment_of(token, 1)
}

/// The JOSE header of a compact token, unverified.
pub fn header_of(token: &str) -> Value {
    segment_of(token, 0)
}

/// Lower-case hex of SHA-256 (`payloadhash`, `queryhash`).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
