//! Differential test against an independent implementation: Python `jwcrypto` (OpenSSL), driven
//! through `tests/support/jose_oracle.py`.
//!
//! For all thirteen algorithms: tokens we sign verify in jwcrypto (with the public JWK we
//! export), tokens jwcrypto signs verify here (with the JWK it generated), a tampered token is
//! rejected by both sides, and both compute the same RFC 7638 thumbprint.
//!
//! The interpreter is `$JWT_RELAY_PYTHON`, else `<repo>/.venv/bin/python` (created by
//! `make tools`). Without it this test fails: it never passes silently.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use jwt_relay_core::jose::{b64, jws, Algorithm, JoseError, Jwk, JwsHeader, OctKeyEncoding};
use serde_json::{json, Map, Value};

/// Runs one oracle request (shared runner in tests/support/oracle.rs) and checks that every op
/// succeeded: its results, one per op.
fn oracle(ops: Vec<Value>) -> Vec<Value> {
    let count = ops.len();
    let results = support::oracle::run(ops);
    assert_eq!(results.len(), count);
    for r in &results {
        assert!(r.get("error").is_none(), "oracle op failed: {r}");
    }
    results
}

fn claims(alg: Algorithm) -> Map<String, Value> {
    json!({"sub": "alice", "alg_under_test": alg.name(), "n": 42, "nested": {"ok": true}})
        .as_object()
        .unwrap()
        .clone()
}

/// Replaces the claims segment, keeping header and signature: the signature no longer matches.
fn tamper(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64::encode(json!({"sub": "mallory"}).to_string());
    format!("{}.{}.{}", parts[0], forged, parts[2])
}

struct Case {
    alg: Algorithm,
    /// jwcrypto's private JWK.
    private_jwk: Value,
    /// The JWK we hand back to jwcrypto for verification: our public export (oct: the secret).
    verify_jwk: Value,
    ours: Jwk,
}

#[test]
fn differential_all_algorithms_agree_with_jwcrypto() {
    // 1. jwcrypto generates one key per algorithm.
    let keys = oracle(
        Algorithm::ALL
            .iter()
            .map(|a| json!({"op": "keygen", "alg": a.name()}))
            .collect(),
    );
    let cases: Vec<Case> = Algorithm::ALL
        .iter()
        .zip(keys)
        .map(|(&alg, reply)| {
            let private_jwk = reply["jwk"].clone();
            let ours = Jwk::from_value(&private_jwk, OctKeyEncoding::Base64Url)
                .unwrap_or_else(|e| panic!("{alg}: cannot import jwcrypto's JWK: {e}"));
            assert!(
                ours.signing_key().is_some(),
                "{alg}: private JWK without signing key"
            );
            let verify_jwk = match ours.to_public_json() {
                Ok(public) => Value::Object(public),
                Err(JoseError::InvalidJwk(_)) => private_jwk.clone(), // oct: shared secret
                Err(e) => panic!("{alg}: export failed: {e}"),
            };
            Case {
                alg,
                private_jwk,
                verify_jwk,
                ours,
            }
        })
        .collect();

    // 2. We sign; jwcrypto verifies ours and a tampered copy, signs its own, and computes
    //    thumbprints.
    let our_tokens: Vec<String> = cases
        .iter()
        .map(|c| {
            jws::sign(
                &JwsHeader::new(c.alg),
                &claims(c.alg),
                c.ours.signing_key().unwrap(),
            )
            .unwrap()
        })
        .collect();
    let mut ops = Vec::new();
    for (c, token) in cases.iter().zip(&our_tokens) {
        let alg = c.alg.name();
        ops.push(json!({"op": "verify", "jwk": c.verify_jwk, "alg": alg, "token": token}));
        ops.push(json!({"op": "verify", "jwk": c.verify_jwk, "alg": alg, "token": tamper(token)}));
        ops.push(json!({"op": "sign", "jwk": c.private_jwk, "alg": alg, "claims": claims(c.alg)}));
        ops.push(json!({"op": "thumbprint", "jwk": c.verify_jwk}));
    }
    let results = oracle(ops);

    let mut their_tokens = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let [ours_there, tampered_there, signed_there, thumb] = &results[4 * i..4 * i + 4] else {
            unreachable!()
        };
        assert_eq!(
            ours_there["valid"], true,
            "{}: jwcrypto rejects our token",
            c.alg
        );
        assert_eq!(
            ours_there["claims"],
            Value::Object(claims(c.alg)),
            "{}",
            c.alg
        );
        assert_eq!(
            tampered_there["valid"], false,
            "{}: jwcrypto accepts a tampered token",
            c.alg
        );
        assert_eq!(
            thumb["thumbprint"].as_str().unwrap(),
            c.ours.thumbprint().unwrap(),
            "{}: thumbprints differ",
            c.alg
        );

        // 3. We verify jwcrypto's token, with the key imported from its JWK.
        let token = signed_there["token"].as_str().unwrap().to_owned();
        let parsed = jws::parse(&token).unwrap();
        assert_eq!(parsed.header().alg(), c.alg);
        parsed
            .verify(c.ours.verifying_key())
            .unwrap_or_else(|e| panic!("{}: jwcrypto's token rejected here: {e}", c.alg));
        assert_eq!(parsed.claims(), &claims(c.alg));
        // Our tampered token and jwcrypto's tampered token are both rejected here.
        for forged in [tamper(&our_tokens[i]), tamper(&token)] {
            assert_eq!(
                jws::parse(&forged).unwrap().verify(c.ours.verifying_key()),
                Err(JoseError::SignatureMismatch),
                "{}: tampered token accepted here",
                c.alg
            );
        }
        their_tokens.push(token);
    }

    // 4. jwcrypto rejects its own token once tampered, closing the square.
    let ops = cases
        .iter()
        .zip(&their_tokens)
        .map(|(c, t)| json!({"op": "verify", "jwk": c.verify_jwk, "alg": c.alg.name(), "token": tamper(t)}))
        .collect();
    for (c, r) in cases.iter().zip(oracle(ops)) {
        assert_eq!(
            r["valid"], false,
            "{}: jwcrypto accepts its tampered token",
            c.alg
        );
    }
    eprintln!("differential: {} algorithms checked both ways", cases.len());
    assert_eq!(cases.len(), 13);
}

#[test]
fn differential_cross_family_token_rejected_by_both() {
    // An HS256 token whose secret is the text of an RSA public JWK (the classic confusion): our
    // RSA key refuses it by family; jwcrypto refuses it too.
    let keys = oracle(vec![json!({"op": "keygen", "alg": "RS256"})]);
    let rsa = Jwk::from_value(&keys[0]["jwk"], OctKeyEncoding::Base64Url).unwrap();
    let public = Value::Object(rsa.to_public_json().unwrap());
    let secret = public.to_string();
    let hmac = jwt_relay_core::jose::SigningKey::hmac(secret.as_bytes()).unwrap();
    let token = jws::sign(
        &JwsHeader::new(Algorithm::HS256),
        &claims(Algorithm::HS256),
        &hmac,
    )
    .unwrap();
    assert_eq!(
        jws::parse(&token).unwrap().verify(rsa.verifying_key()),
        Err(JoseError::AlgorithmMismatch)
    );
    let r = oracle(vec![
        json!({"op": "verify", "jwk": public, "alg": "HS256", "token": token}),
    ]);
    assert_eq!(r[0]["valid"], false);
}
