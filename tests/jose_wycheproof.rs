//! Wycheproof vectors (`tests/vectors/wycheproof/`, see its README) against `jose::VerifyingKey::verify`.
//!
//! Every `valid` case must verify, every `invalid` case must be rejected, `acceptable` may go
//! either way, and nothing may panic. Keys are imported through both the JWK and the PEM paths
//! where the vectors give them, and both imports must agree on every case. Counts are asserted
//! so the test cannot pass on an empty or misread file.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::PathBuf;

use jwt_relay_core::jose::{Algorithm, Jwk, OctKeyEncoding, VerifyingKey};
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    support::repo().join("tests/vectors/wycheproof")
}

fn load(file: &str) -> Value {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[derive(Debug, Default)]
struct Tally {
    valid_verified: usize,
    invalid_rejected: usize,
    acceptable: usize,
    skipped: usize,
    /// PSS signatures with another salt length (accepted, as by Kong).
    other_salt_accepted: usize,
    total: usize,
}

/// Keys for one test group: every import path the group offers (HMAC keys are per case).
fn group_keys(group: &Value, alg: Algorithm) -> Vec<(&'static str, VerifyingKey)> {
    let mut keys = Vec::new();
    for jwk_member in ["publicKeyJwk", "keyJwk"] {
        if let Some(jwk) = group.get(jwk_member) {
            let jwk = Jwk::from_value(jwk, OctKeyEncoding::Base64Url)
                .unwrap_or_else(|e| panic!("{jwk_member} import failed: {e}"));
            assert!(jwk.allows(alg), "JWK does not allow {alg}");
            keys.push(("jwk", jwk.verifying_key().clone()));
        }
    }
    if let Some(pem) = group.get("publicKeyPem").and_then(Value::as_str) {
        keys.push(("pem", VerifyingKey::from_pem(pem, alg).unwrap()));
    }
    if let Some(der) = group.get("publicKeyDer").and_then(Value::as_str) {
        keys.push(("der", VerifyingKey::from_der(&hex(der), alg).unwrap()));
    }
    keys
}

fn run(file: &str, alg: Algorithm, skip_group: impl Fn(&Value) -> bool) -> Tally {
    let doc = load(file);
    let mut tally = Tally::default();
    let groups = doc["testGroups"].as_array().unwrap();
    for group in groups {
        let tests = group["tests"].as_array().unwrap();
        tally.total += tests.len();
        if skip_group(group) {
            tally.skipped += tests.len();
            continue;
        }
        let keys = group_keys(group, alg);
        for case in tests {
            let id = &case["tcId"];
            let msg = hex(case["msg"].as_str().unwrap());
            let sig = hex(case["sig"].as_str().or(case["tag"].as_str()).unwrap());
            let mut keys = keys.clone();
            if let Some(key) = case.get("key").and_then(Value::as_str) {
                keys.push(("hmac", VerifyingKey::hmac(&hex(key)).unwrap()));
            }
            assert!(!keys.is_empty(), "{file} tcId {id}: no key");
            let outcomes: Vec<bool> = keys
                .iter()
                .map(|(_, key)| key.verify(alg, &msg, &sig).is_ok())
                .collect();
            assert!(
                outcomes.windows(2).all(|w| w[0] == w[1]),
                "{file} tcId {id}: import paths disagree: {:?}",
                keys.iter().map(|k| k.0).zip(&outcomes).collect::<Vec<_>>()
            );
            let ok = outcomes[0];
            // A genuine PSS signature with another salt length: the vector file fixes sLen, but
            // the filter reads the salt length from the signature as Kong (OpenSSL) does, so
            // these verify (README, "Different on purpose"). Other salt damage still fails.
            let comment = case["comment"].as_str().unwrap_or_default();
            if comment.starts_with("s_len changed to") {
                assert!(
                    ok,
                    "{file} tcId {id} ({comment}): another salt length rejected"
                );
                tally.other_salt_accepted += 1;
                continue;
            }
            match case["result"].as_str().unwrap() {
                "valid" => {
                    assert!(
                        ok,
                        "{file} tcId {id} ({}) valid but rejected",
                        case["comment"]
                    );
                    tally.valid_verified += 1;
                }
                "invalid" => {
                    assert!(
                        !ok,
                        "{file} tcId {id} ({}) invalid but accepted",
                        case["comment"]
                    );
                    tally.invalid_rejected += 1;
                }
                "acceptable" => tally.acceptable += 1,
                other => panic!("{file} tcId {id}: unknown result {other}"),
            }
        }
    }
    eprintln!(
        "{file}: {} cases, {} valid verified, {} invalid rejected, {} acceptable, {} skipped",
        tally.total, tally.valid_verified, tally.invalid_rejected, tally.acceptable, tally.skipped
    );
    assert_eq!(
        tally.total,
        tally.valid_verified
            + tally.invalid_rejected
            + tally.acceptable
            + tally.skipped
            + tally.other_salt_accepted
    );
    assert_eq!(
        tally.total,
        doc["numberOfTests"].as_u64().unwrap() as usize,
        "{file}"
    );
    assert!(tally.valid_verified > 0, "{file}: no valid case checked");
    assert!(
        tally.invalid_rejected > 0,
        "{file}: no invalid case checked"
    );
    tally
}

fn never(_: &Value) -> bool {
    false
}

#[test]
fn wycheproof_rsa_pkcs1_2048_sha256_matches_expectations() {
    run(
        "rsa_signature_2048_sha256_test.json",
        Algorithm::RS256,
        never,
    );
}

#[test]
fn wycheproof_rsa_pkcs1_2048_sha384_matches_expectations() {
    run(
        "rsa_signature_2048_sha384_test.json",
        Algorithm::RS384,
        never,
    );
}

#[test]
fn wycheproof_rsa_pkcs1_2048_sha512_matches_expectations() {
    run(
        "rsa_signature_2048_sha512_test.json",
        Algorithm::RS512,
        never,
    );
}

#[test]
fn wycheproof_rsa_pkcs1_3072_sha256_matches_expectations() {
    run(
        "rsa_signature_3072_sha256_test.json",
        Algorithm::RS256,
        never,
    );
}

#[test]
fn wycheproof_rsa_pkcs1_4096_sha512_matches_expectations() {
    run(
        "rsa_signature_4096_sha512_test.json",
        Algorithm::RS512,
        never,
    );
}

/// JWS fixes PSS to MGF1 with the same hash and a salt of the hash length; a group with other
/// parameters is not a JWS algorithm and would be skipped (the shipped files have none).
fn pss_mismatch(sha: &'static str, salt: u64) -> impl Fn(&Value) -> bool {
    move |g| g["sha"] != sha || g["mgfSha"] != sha || g["sLen"].as_u64() != Some(salt)
}

#[test]
fn wycheproof_rsa_pss_2048_sha256_matches_expectations() {
    let t = run(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        Algorithm::PS256,
        pss_mismatch("SHA-256", 32),
    );
    assert_eq!(t.skipped, 0);
}

#[test]
fn wycheproof_rsa_pss_4096_sha384_matches_expectations() {
    let t = run(
        "rsa_pss_4096_sha384_mgf1_48_test.json",
        Algorithm::PS384,
        pss_mismatch("SHA-384", 48),
    );
    assert_eq!(t.skipped, 0);
}

#[test]
fn wycheproof_rsa_pss_4096_sha512_matches_expectations() {
    let t = run(
        "rsa_pss_4096_sha512_mgf1_64_test.json",
        Algorithm::PS512,
        pss_mismatch("SHA-512", 64),
    );
    assert_eq!(t.skipped, 0);
}

#[test]
fn wycheproof_ecdsa_p256_p1363_matches_expectations() {
    run(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        Algorithm::ES256,
        never,
    );
}

#[test]
fn wycheproof_ecdsa_p384_p1363_matches_expectations() {
    run(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        Algorithm::ES384,
        never,
    );
}

#[test]
fn wycheproof_ecdsa_p521_p1363_matches_expectations() {
    run(
        "ecdsa_secp521r1_sha512_p1363_test.json",
        Algorithm::ES512,
        never,
    );
}

#[test]
fn wycheproof_ed25519_matches_expectations() {
    run("ed25519_test.json", Algorithm::EdDSA, never);
}

/// Truncated HMAC tags (tagSize below the hash size) are not JWS: those groups are skipped and
/// counted.
fn truncated(full_bits: u64) -> impl Fn(&Value) -> bool {
    move |g| g["tagSize"].as_u64() != Some(full_bits)
}

#[test]
fn wycheproof_hmac_sha256_matches_expectations() {
    let t = run("hmac_sha256_test.json", Algorithm::HS256, truncated(256));
    assert!(t.skipped > 0, "expected truncated-tag groups to be skipped");
}

#[test]
fn wycheproof_hmac_sha384_matches_expectations() {
    let t = run("hmac_sha384_test.json", Algorithm::HS384, truncated(384));
    assert!(t.skipped > 0, "expected truncated-tag groups to be skipped");
}

#[test]
fn wycheproof_hmac_sha512_matches_expectations() {
    let t = run("hmac_sha512_test.json", Algorithm::HS512, truncated(512));
    assert!(t.skipped > 0, "expected truncated-tag groups to be skipped");
}
