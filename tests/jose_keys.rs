//! Key import (PEM, DER, JWK, JWKS), export, and key/algorithm binding, including the
//! algorithm-confusion cases a JWT verifier must refuse.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use jwt_relay_core::jose::{
    b64, jws, pem, Algorithm, EcCurve, Family, JoseError, Jwk, JwkSet, JwsHeader, OctKeyEncoding,
    SigningKey, VerifyingKey,
};
use serde_json::{json, Map, Value};

use support::fixture;

fn claims() -> Map<String, Value> {
    json!({"sub": "alice", "iss": "jwt-relay-test", "exp": 4_102_444_800_u64})
        .as_object()
        .unwrap()
        .clone()
}

fn der_of(pem_text: &str) -> Vec<u8> {
    pem::parse_single(pem_text).unwrap().der.to_vec()
}

/// An HS256 token whose HMAC secret is `secret`, built by hand as an attacker would.
fn hs256_token_with_secret(secret: &[u8]) -> String {
    let key = SigningKey::hmac(secret).unwrap();
    jws::sign(&JwsHeader::new(Algorithm::HS256), &claims(), &key).unwrap()
}

#[test]
fn pem_rsa_every_format_loads_and_agrees() {
    let signer = SigningKey::from_pem(&fixture("rsa2048_pkcs8.pem"), Algorithm::RS256).unwrap();
    let signer_pkcs1 =
        SigningKey::from_pem(&fixture("rsa2048_pkcs1.pem"), Algorithm::PS256).unwrap();
    let token = jws::sign(&JwsHeader::new(Algorithm::RS256), &claims(), &signer).unwrap();
    let token_pss = jws::sign(&JwsHeader::new(Algorithm::PS256), &claims(), &signer_pkcs1).unwrap();
    for name in [
        "rsa2048_public_spki.pem",
        "rsa2048_public_pkcs1.pem",
        "rsa2048_cert.pem",
    ] {
        let key = VerifyingKey::from_pem(&fixture(name), Algorithm::RS256).unwrap();
        assert_eq!(key.rsa_bits(), Some(2048), "{name}");
        jws::parse(&token).unwrap().verify(&key).unwrap();
        jws::parse(&token_pss).unwrap().verify(&key).unwrap();
        let from_der = VerifyingKey::from_der(&der_of(&fixture(name)), Algorithm::RS384).unwrap();
        jws::parse(&token).unwrap().verify(&from_der).unwrap();
    }
}

#[test]
fn pem_ec_pkcs8_and_sec1_load_for_each_curve() {
    for (curve, alg, name) in [
        (EcCurve::P256, Algorithm::ES256, "p256"),
        (EcCurve::P384, Algorithm::ES384, "p384"),
        (EcCurve::P521, Algorithm::ES512, "p521"),
    ] {
        let public =
            VerifyingKey::from_pem(&fixture(&format!("ec_{name}_public_spki.pem")), alg).unwrap();
        assert_eq!(public.ec_curve(), Some(curve));
        for format in ["pkcs8", "sec1"] {
            let signer =
                SigningKey::from_pem(&fixture(&format!("ec_{name}_{format}.pem")), alg).unwrap();
            let sig = signer.sign(alg, b"input").unwrap();
            assert_eq!(sig.len(), 2 * curve.field_len());
            public.verify(alg, b"input", &sig).unwrap();
            let der_signer =
                SigningKey::from_der(&der_of(&fixture(&format!("ec_{name}_{format}.pem"))), alg)
                    .unwrap();
            public
                .verify(alg, b"input", &der_signer.sign(alg, b"input").unwrap())
                .unwrap();
        }
    }
}

#[test]
fn pem_ed25519_loads_and_signs() {
    let signer = SigningKey::from_pem(&fixture("ed25519_pkcs8.pem"), Algorithm::EdDSA).unwrap();
    let public =
        VerifyingKey::from_pem(&fixture("ed25519_public_spki.pem"), Algorithm::EdDSA).unwrap();
    assert_eq!(public.family(), Family::Ed);
    let token = jws::sign(&JwsHeader::new(Algorithm::EdDSA), &claims(), &signer).unwrap();
    jws::parse(&token).unwrap().verify(&public).unwrap();
}

#[test]
fn pem_rsa_1024_bits_rejected() {
    let err = VerifyingKey::parse_pem(&fixture("rsa1024_public_spki.pem")).unwrap_err();
    assert_eq!(
        err,
        JoseError::InvalidKey("RSA modulus smaller than 2040 bits")
    );
}

#[test]
fn pem_key_of_other_family_rejected_for_alg() {
    let rsa = fixture("rsa2048_public_spki.pem");
    assert_eq!(
        VerifyingKey::from_pem(&rsa, Algorithm::ES256).unwrap_err(),
        JoseError::AlgorithmMismatch
    );
    assert_eq!(
        VerifyingKey::from_pem(&rsa, Algorithm::HS256).unwrap_err(),
        JoseError::AlgorithmMismatch
    );
    let ec = fixture("ec_p256_public_spki.pem");
    assert_eq!(
        VerifyingKey::from_pem(&ec, Algorithm::ES384).unwrap_err(),
        JoseError::AlgorithmMismatch
    );
    assert_eq!(
        VerifyingKey::from_pem(&ec, Algorithm::EdDSA).unwrap_err(),
        JoseError::AlgorithmMismatch
    );
}

#[test]
fn pem_private_key_as_verifying_key_rejected() {
    for name in ["rsa2048_pkcs8.pem", "rsa2048_pkcs1.pem", "ec_p256_sec1.pem"] {
        assert!(matches!(
            VerifyingKey::parse_pem(&fixture(name)),
            Err(JoseError::InvalidKey(_))
        ));
    }
    assert!(matches!(
        SigningKey::parse_pem(&fixture("rsa2048_public_spki.pem")),
        Err(JoseError::InvalidKey(_))
    ));
}

#[test]
fn pem_garbage_rejected_without_panic() {
    for text in [
        "",
        "hello",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ] {
        assert!(VerifyingKey::parse_pem(text).is_err());
        assert!(SigningKey::parse_pem(text).is_err());
    }
    assert!(VerifyingKey::parse_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
    assert!(SigningKey::parse_der(&[]).is_err());
}

#[test]
fn certificate_chain_parses_and_leaf_key_verifies() {
    let chain_text = fixture("ec_p256_chain.pem");
    let chain = pem::parse_certificate_chain(&chain_text).unwrap();
    assert_eq!(chain.len(), 2);
    let leaf_key = VerifyingKey::from_pem(&chain_text, Algorithm::ES256).unwrap();
    let signer = SigningKey::from_pem(&fixture("ec_p256_pkcs8.pem"), Algorithm::ES256).unwrap();
    let header = JwsHeader::new(Algorithm::ES256).with_certificate_chain(&chain);
    let token = jws::sign(&header, &claims(), &signer).unwrap();
    let parsed = jws::parse(&token).unwrap();
    parsed.verify(&leaf_key).unwrap();
    let x5c = parsed.header().json()["x5c"].as_array().unwrap();
    assert_eq!(STANDARD.decode(x5c[0].as_str().unwrap()).unwrap(), chain[0]);
    assert_eq!(
        parsed.header().json()["x5t#S256"],
        Value::from(jws::x5t_s256(&chain[0]))
    );
}

#[test]
fn certificate_chain_with_key_block_rejected() {
    let text = format!(
        "{}{}",
        fixture("rsa2048_cert.pem"),
        fixture("rsa2048_public_spki.pem")
    );
    assert!(pem::parse_certificate_chain(&text).is_err());
}

// --- algorithm confusion -------------------------------------------------------------------

#[test]
fn confusion_hs256_signed_with_rsa_public_pem_rejected_by_rsa_key() {
    let pem_text = fixture("rsa2048_public_spki.pem");
    let rsa_key = VerifyingKey::parse_pem(&pem_text).unwrap();
    for secret in [pem_text.as_bytes().to_vec(), der_of(&pem_text)] {
        let token = hs256_token_with_secret(&secret);
        let parsed = jws::parse(&token).unwrap();
        assert_eq!(parsed.verify(&rsa_key), Err(JoseError::AlgorithmMismatch));
    }
}

#[test]
fn confusion_alg_none_rejected_at_parse() {
    let header = b64::encode(r#"{"alg":"none","typ":"JWT"}"#);
    let body = b64::encode(r#"{"sub":"admin"}"#);
    for token in [format!("{header}.{body}."), format!("{header}.{body}")] {
        let err = jws::parse(&token).unwrap_err();
        assert!(
            matches!(err, JoseError::InvalidAlg | JoseError::InvalidJson),
            "{err:?}"
        );
    }
    assert_eq!(
        jws::parse(&format!("{header}.{body}.")).unwrap_err(),
        JoseError::InvalidAlg
    );
    assert_eq!("none".parse::<Algorithm>(), Err(JoseError::InvalidAlg));
}

#[test]
fn confusion_es256_key_refuses_es384_token() {
    let p256 = SigningKey::from_pem(&fixture("ec_p256_pkcs8.pem"), Algorithm::ES256).unwrap();
    let p384 = SigningKey::from_pem(&fixture("ec_p384_pkcs8.pem"), Algorithm::ES384).unwrap();
    let token = jws::sign(&JwsHeader::new(Algorithm::ES384), &claims(), &p384).unwrap();
    let parsed = jws::parse(&token).unwrap();
    assert_eq!(
        parsed.verify(&p256.verifying_key()),
        Err(JoseError::AlgorithmMismatch)
    );
    assert_eq!(
        p256.sign(Algorithm::ES384, b"x"),
        Err(JoseError::AlgorithmMismatch)
    );
}

#[test]
fn confusion_wrong_length_es_signatures_rejected() {
    let signer = SigningKey::from_pem(&fixture("ec_p256_pkcs8.pem"), Algorithm::ES256).unwrap();
    let key = signer.verifying_key();
    let good = signer.sign(Algorithm::ES256, b"msg").unwrap();
    key.verify(Algorithm::ES256, b"msg", &good).unwrap();
    let mut longer = good.clone();
    longer.push(0);
    let mut padded = vec![0];
    padded.extend_from_slice(&good);
    // A DER-encoded signature of the same values, as some libraries produce.
    let der = {
        let int = |b: &[u8]| {
            let mut v = b.to_vec();
            while v.len() > 1 && v[0] == 0 {
                v.remove(0);
            }
            if v[0] & 0x80 != 0 {
                v.insert(0, 0);
            }
            let mut out = vec![0x02, v.len() as u8];
            out.extend(v);
            out
        };
        let body = [int(&good[..32]), int(&good[32..])].concat();
        [vec![0x30, body.len() as u8], body].concat()
    };
    for sig in [
        &good[..63],
        &longer[..],
        &padded[..],
        &[][..],
        &der[..],
        &[0u8; 64][..],
    ] {
        assert_eq!(
            key.verify(Algorithm::ES256, b"msg", sig),
            Err(JoseError::SignatureMismatch),
            "len {}",
            sig.len()
        );
    }
}

#[test]
fn confusion_each_family_refuses_other_families() {
    let keys = [
        VerifyingKey::hmac(b"secret").unwrap(),
        VerifyingKey::parse_pem(&fixture("rsa2048_public_spki.pem")).unwrap(),
        VerifyingKey::parse_pem(&fixture("ec_p256_public_spki.pem")).unwrap(),
        VerifyingKey::parse_pem(&fixture("ed25519_public_spki.pem")).unwrap(),
    ];
    for key in &keys {
        for alg in Algorithm::ALL {
            let allowed = key.check_alg(alg).is_ok();
            let expected = alg.family() == key.family()
                && (alg.family() != Family::Ec || alg.ec_curve() == key.ec_curve());
            assert_eq!(allowed, expected, "{key:?} {alg}");
            if !allowed {
                assert_eq!(
                    key.verify(alg, b"m", &[0; 64]),
                    Err(JoseError::AlgorithmMismatch)
                );
            }
        }
    }
}

#[test]
fn hmac_truncated_tag_rejected() {
    let key = SigningKey::hmac(b"secret").unwrap();
    let tag = key.sign(Algorithm::HS256, b"m").unwrap();
    assert!(key
        .verifying_key()
        .verify(Algorithm::HS256, b"m", &tag)
        .is_ok());
    assert_eq!(
        key.verifying_key()
            .verify(Algorithm::HS256, b"m", &tag[..16]),
        Err(JoseError::SignatureMismatch)
    );
    assert_eq!(
        VerifyingKey::hmac(b"").unwrap_err(),
        JoseError::InvalidKey("empty HMAC secret")
    );
}

// --- JWK / JWKS ----------------------------------------------------------------------------

#[test]
fn jwk_oct_base64url_and_verbatim_differ() {
    let text = r#"{"kty":"oct","k":"c2VjcmV0"}"#;
    let decoded = Jwk::from_json(text, OctKeyEncoding::Base64Url).unwrap();
    let verbatim = Jwk::from_json(text, OctKeyEncoding::Verbatim).unwrap();
    let tag = SigningKey::hmac(b"secret")
        .unwrap()
        .sign(Algorithm::HS256, b"m")
        .unwrap();
    assert!(decoded
        .verifying_key()
        .verify(Algorithm::HS256, b"m", &tag)
        .is_ok());
    assert!(verbatim
        .verifying_key()
        .verify(Algorithm::HS256, b"m", &tag)
        .is_err());
    let tag2 = SigningKey::hmac(b"c2VjcmV0")
        .unwrap()
        .sign(Algorithm::HS256, b"m")
        .unwrap();
    assert!(verbatim
        .verifying_key()
        .verify(Algorithm::HS256, b"m", &tag2)
        .is_ok());
    // x-custom-jwt secrets are arbitrary text, not base64url.
    let text = r#"{"kty":"oct","k":"not base64 +/="}"#;
    assert!(Jwk::from_json(text, OctKeyEncoding::Base64Url).is_err());
    assert!(Jwk::from_json(text, OctKeyEncoding::Verbatim).is_ok());
}

#[test]
fn jwk_export_from_pem_round_trips_with_members() {
    for (name, alg) in [
        ("rsa2048_public_spki.pem", Algorithm::PS256),
        ("ec_p521_public_spki.pem", Algorithm::ES512),
        ("ed25519_public_spki.pem", Algorithm::EdDSA),
    ] {
        let key = VerifyingKey::parse_pem(&fixture(name)).unwrap();
        let jwk = Jwk::from_keys(key, None)
            .with_kid("k1")
            .with_alg(alg)
            .unwrap()
            .with_use("sig");
        let public = jwk.to_public_json().unwrap();
        assert_eq!(public["kid"], "k1");
        assert_eq!(public["alg"], alg.name());
        assert_eq!(public["use"], "sig");
        assert!(!public.contains_key("d"));
        let back = Jwk::from_value(&Value::Object(public), OctKeyEncoding::Base64Url).unwrap();
        assert_eq!(back.thumbprint().unwrap(), jwk.thumbprint().unwrap());
        assert_eq!(back.algorithm(), Some(alg));
        assert!(back.allows(alg));
        assert!(back.signing_key().is_none());
    }
}

#[test]
fn jwk_private_export_never_contains_private_members() {
    let signer = SigningKey::from_pem(&fixture("rsa2048_pkcs8.pem"), Algorithm::RS256).unwrap();
    let jwk = Jwk::from_keys(signer.verifying_key(), Some(signer));
    let public = jwk.to_public_json().unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        assert!(!public.contains_key(private), "{private}");
    }
    assert!(Jwk::from_keys(VerifyingKey::hmac(b"s").unwrap(), None)
        .to_public_json()
        .is_err());
}

#[test]
fn jwk_private_export_round_trips_for_every_family() {
    let cases = [
        (fixture("rsa2048_pkcs1.pem"), Algorithm::RS256, "RSA"),
        (fixture("ec_p256_sec1.pem"), Algorithm::ES256, "EC"),
        (fixture("ec_p521_pkcs8.pem"), Algorithm::ES512, "EC"),
        (fixture("ed25519_pkcs8.pem"), Algorithm::EdDSA, "OKP"),
    ];
    for (pem_text, alg, kty) in cases {
        let signer = SigningKey::from_pem(&pem_text, alg).unwrap();
        let jwk = Jwk::from_keys(signer.verifying_key(), Some(signer))
            .with_kid("k1")
            .with_alg(alg)
            .unwrap();
        let private = jwk.to_private_json().unwrap();
        assert_eq!(
            (private["kty"].as_str(), private["kid"].as_str()),
            (Some(kty), Some("k1"))
        );
        let back = Jwk::from_value(&Value::Object(private), OctKeyEncoding::Base64Url).unwrap();
        assert_eq!(
            back.thumbprint().unwrap(),
            jwk.thumbprint().unwrap(),
            "{alg}"
        );
        let token =
            jws::sign(&JwsHeader::new(alg), &claims(), back.signing_key().unwrap()).unwrap();
        jws::parse(&token)
            .unwrap()
            .verify(jwk.verifying_key())
            .unwrap();
    }
}

#[test]
fn jwk_private_export_rsa_has_every_crt_member() {
    let signer = SigningKey::from_pem(&fixture("rsa2048_pkcs8.pem"), Algorithm::RS256).unwrap();
    let private = Jwk::from_keys(signer.verifying_key(), Some(signer))
        .to_private_json()
        .unwrap();
    let mut names: Vec<&str> = private.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["d", "dp", "dq", "e", "kty", "n", "p", "q", "qi"]);
}

#[test]
fn jwk_private_export_oct_gives_k_and_public_key_refused() {
    let jwk = Jwk::from_json(
        r#"{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}"#,
        OctKeyEncoding::Base64Url,
    )
    .unwrap();
    assert_eq!(
        Value::Object(jwk.to_private_json().unwrap()),
        json!({"kty": "oct", "k": "c2VjcmV0", "alg": "HS256"})
    );
    let public = VerifyingKey::parse_pem(&fixture("ed25519_public_spki.pem")).unwrap();
    assert_eq!(
        Jwk::from_keys(public, None).to_private_json().unwrap_err(),
        JoseError::NotASigningKey
    );
}

#[test]
fn spki_export_of_fixture_keys_is_byte_identical() {
    for name in [
        "rsa2048_public_spki.pem",
        "ec_p256_public_spki.pem",
        "ec_p384_public_spki.pem",
        "ec_p521_public_spki.pem",
        "ed25519_public_spki.pem",
    ] {
        let text = fixture(name);
        let key = VerifyingKey::parse_pem(&text).unwrap();
        assert_eq!(key.to_spki_der().unwrap(), der_of(&text), "{name}");
        assert_eq!(
            key.to_spki_pem().unwrap(),
            pem::encode("PUBLIC KEY", &der_of(&text))
        );
    }
}

#[test]
fn jwk_mismatched_private_member_rejected() {
    // RFC 7515 A.3's public point with a different scalar.
    let text = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}"#;
    assert_eq!(
        Jwk::from_json(text, OctKeyEncoding::Base64Url).unwrap_err(),
        JoseError::InvalidJwk("public members do not match the private key")
    );
}

#[test]
fn jwk_alg_unsuited_to_key_rejected() {
    let text = r#"{"kty":"oct","k":"c2VjcmV0","alg":"RS256"}"#;
    assert!(matches!(
        Jwk::from_json(text, OctKeyEncoding::Base64Url),
        Err(JoseError::InvalidJwk(_))
    ));
}

#[test]
fn jwk_point_off_curve_rejected() {
    let text = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a4"}"#;
    assert!(matches!(
        Jwk::from_json(text, OctKeyEncoding::Base64Url),
        Err(JoseError::InvalidKey(_))
    ));
}

#[test]
fn jwks_unknown_keys_skipped_and_counted() {
    let rsa = Jwk::from_keys(
        VerifyingKey::parse_pem(&fixture("rsa2048_public_spki.pem")).unwrap(),
        None,
    )
    .with_kid("rsa")
    .with_alg(Algorithm::RS256)
    .unwrap()
    .to_public_json()
    .unwrap();
    let ec = Jwk::from_keys(
        VerifyingKey::parse_pem(&fixture("ec_p256_public_spki.pem")).unwrap(),
        None,
    )
    .with_kid("ec")
    .to_public_json()
    .unwrap();
    let doc = json!({"keys": [
        rsa,
        {"kty": "OKP", "crv": "X448", "x": "AAAA", "kid": "x448"},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny"},
        {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
        ec,
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa["n"], "e": "AQAB"},
        "not an object",
    ]});
    let set = JwkSet::parse(&doc.to_string(), OctKeyEncoding::Base64Url).unwrap();
    assert_eq!(set.keys().len(), 4);
    assert_eq!(set.skipped().len(), 4);
    assert_eq!(set.skipped()[0].kid.as_deref(), Some("x448"));
    assert_eq!(set.skipped()[0].index, 1);
    assert!(matches!(
        set.skipped()[0].error,
        JoseError::UnsupportedKey(_)
    ));
    let rs: Vec<_> = set.candidates(Some("rsa"), Algorithm::RS256).collect();
    assert_eq!(rs.len(), 1);
    // `alg: RS256` on the JWK pins it: not a PS256 candidate; `use: enc` is never a candidate.
    assert_eq!(set.candidates(Some("rsa"), Algorithm::PS256).count(), 0);
    assert_eq!(set.candidates(Some("enc"), Algorithm::RS256).count(), 0);
    assert_eq!(set.candidates(None, Algorithm::ES256).count(), 1);
    assert_eq!(set.candidates(None, Algorithm::HS256).count(), 1);
    let public = set.to_public_json();
    assert_eq!(
        public["keys"].as_array().unwrap().len(),
        3,
        "oct key left out"
    );
}

#[test]
fn jwks_not_a_key_set_rejected() {
    for doc in ["", "[]", r#"{"keys":{}}"#, r#"{"kty":"oct","k":"AA"}"#] {
        assert!(
            JwkSet::parse(doc, OctKeyEncoding::Base64Url).is_err(),
            "{doc}"
        );
    }
}

// --- hygiene -------------------------------------------------------------------------------

#[test]
fn debug_output_never_shows_secrets() {
    let secret = b"super-secret-hmac-key";
    let shown = format!(
        "{:?} {:?} {:?}",
        SigningKey::hmac(secret).unwrap(),
        VerifyingKey::hmac(secret).unwrap(),
        Jwk::from_json(
            r#"{"kty":"oct","k":"c3VwZXItc2VjcmV0LWhtYWMta2V5"}"#,
            OctKeyEncoding::Base64Url
        )
        .unwrap()
    );
    assert!(!shown.contains("super"), "{shown}");
    assert!(!shown.contains("115, 117"), "{shown}");
    let rsa = SigningKey::from_pem(&fixture("rsa2048_pkcs8.pem"), Algorithm::RS256).unwrap();
    let shown = format!("{rsa:?}");
    assert!(shown.len() < 80, "{shown}");
}

#[test]
fn error_messages_carry_no_input() {
    let token = format!(
        "{}.{}.",
        b64::encode(r#"{"alg":"SECRET-ALG"}"#),
        b64::encode("{}")
    );
    let err = jws::parse(&token).unwrap_err();
    assert_eq!(err.to_string(), "invalid alg");
    assert!(!format!("{err:?}").contains("SECRET"));
}
