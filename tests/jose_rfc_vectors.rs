//! Examples from the RFCs: RFC 7515 Appendix A.1–A.4 (JWS), RFC 8037 Appendix A (Ed25519),
//! RFC 7638 §3.1 and RFC 8037 A.3 (thumbprints). Keys enter through the JWK parser.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use jwt_relay_core::jose::{b64, jws, Algorithm, JoseError, Jwk, JwsHeader, OctKeyEncoding};
use serde_json::Value;

const A1_KEY: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow","kid":"HMAC key used in JWS A.1 example"}"#;
const A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

const A2_KEY: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB","d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ","p":"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc","q":"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc","dp":"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0","dq":"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU","qi":"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"}"#;
const A2_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

const A3_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#;
const A3_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

const A4_KEY: &str = r#"{"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2","d":"AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lOfRhWg6Y6rUrPAxerEzgdRhajnu0ferB0d53vM9mE15j2C"}"#;
/// A.4's payload is the text "Payload", not a JWT claims set, so it is checked at the key level.
const A4_TOKEN: &str = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

const ED25519_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
/// RFC 8037 A.4; the payload is plain text, so again key-level.
const ED25519_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// RFC 7638 §3.1 (the RFC 7517 A.1 RSA key).
const RFC7638_KEY: &str = r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;

fn jwk(json: &str) -> Jwk {
    Jwk::from_json(json, OctKeyEncoding::Base64Url).unwrap()
}

/// (signing input, signature) of a compact token, without JWT-level parsing.
fn split(token: &str) -> (&str, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (input, b64::decode(sig).unwrap())
}

#[test]
fn rfc7515_a1_hs256_verifies_and_resigns_identically() {
    let key = jwk(A1_KEY);
    let parsed = jws::parse(A1_TOKEN).unwrap();
    assert_eq!(parsed.header().alg(), Algorithm::HS256);
    assert_eq!(parsed.header().typ(), Some("JWT"));
    assert_eq!(parsed.claims()["iss"], Value::from("joe"));
    assert_eq!(parsed.claims()["exp"], Value::from(1_300_819_380));
    parsed.verify(key.verifying_key()).unwrap();
    let (input, sig) = split(A1_TOKEN);
    let ours = key
        .signing_key()
        .unwrap()
        .sign(Algorithm::HS256, input.as_bytes())
        .unwrap();
    assert_eq!(ours, sig);
}

#[test]
fn rfc7515_a2_rs256_verifies_and_resigns_identically() {
    let key = jwk(A2_KEY);
    let parsed = jws::parse(A2_TOKEN).unwrap();
    assert_eq!(parsed.header().alg(), Algorithm::RS256);
    parsed.verify(key.verifying_key()).unwrap();
    // RSASSA-PKCS1-v1_5 is deterministic: our signature must be the RFC's, byte for byte.
    let (input, sig) = split(A2_TOKEN);
    let ours = key
        .signing_key()
        .unwrap()
        .sign(Algorithm::RS256, input.as_bytes())
        .unwrap();
    assert_eq!(ours, sig);
}

#[test]
fn rfc7515_a3_es256_verifies_and_own_signature_round_trips() {
    let key = jwk(A3_KEY);
    let parsed = jws::parse(A3_TOKEN).unwrap();
    parsed.verify(key.verifying_key()).unwrap();
    // ECDSA in the RFC is randomized; ours (RFC 6979) must verify with the public key.
    let token = jws::sign(
        &JwsHeader::new(Algorithm::ES256),
        parsed.claims(),
        key.signing_key().unwrap(),
    )
    .unwrap();
    jws::parse(&token)
        .unwrap()
        .verify(key.verifying_key())
        .unwrap();
}

#[test]
fn rfc7515_a4_es512_verifies_at_key_level() {
    let key = jwk(A4_KEY);
    let (input, sig) = split(A4_TOKEN);
    assert_eq!(sig.len(), 132);
    key.verifying_key()
        .verify(Algorithm::ES512, input.as_bytes(), &sig)
        .unwrap();
    let ours = key
        .signing_key()
        .unwrap()
        .sign(Algorithm::ES512, input.as_bytes())
        .unwrap();
    key.verifying_key()
        .verify(Algorithm::ES512, input.as_bytes(), &ours)
        .unwrap();
    // Its payload is not a claims set, so the JWT parser refuses it as Kong would.
    assert_eq!(jws::parse(A4_TOKEN).unwrap_err(), JoseError::InvalidJson);
}

#[test]
fn rfc7515_tampered_payload_rejected() {
    let (input, sig) = split(A2_TOKEN);
    let mut tampered = input.as_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let key = jwk(A2_KEY);
    assert_eq!(
        key.verifying_key()
            .verify(Algorithm::RS256, &tampered, &sig),
        Err(JoseError::SignatureMismatch)
    );
}

#[test]
fn rfc8037_a4_ed25519_signature_matches_exactly() {
    let key = jwk(ED25519_KEY);
    let (input, sig) = split(ED25519_TOKEN);
    let ours = key
        .signing_key()
        .unwrap()
        .sign(Algorithm::EdDSA, input.as_bytes())
        .unwrap();
    assert_eq!(ours, sig);
}

#[test]
fn rfc8037_a5_ed25519_verifies() {
    let key = jwk(ED25519_KEY);
    let (input, sig) = split(ED25519_TOKEN);
    key.verifying_key()
        .verify(Algorithm::EdDSA, input.as_bytes(), &sig)
        .unwrap();
    let mut bad = sig.clone();
    bad[0] ^= 0x80;
    assert!(key
        .verifying_key()
        .verify(Algorithm::EdDSA, input.as_bytes(), &bad)
        .is_err());
}

#[test]
fn rfc7638_thumbprint_example_matches() {
    assert_eq!(
        jwk(RFC7638_KEY).thumbprint().unwrap(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn rfc8037_a3_ed25519_thumbprint_matches() {
    assert_eq!(
        jwk(ED25519_KEY).thumbprint().unwrap(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn rfc7517_public_export_round_trips_through_parser() {
    let key = jwk(RFC7638_KEY);
    let public = key.to_public_json().unwrap();
    let original: Value = serde_json::from_str(RFC7638_KEY).unwrap();
    assert_eq!(Value::Object(public.clone()), original);
    let again = Jwk::from_value(&Value::Object(public), OctKeyEncoding::Base64Url).unwrap();
    assert_eq!(again.thumbprint().unwrap(), key.thumbprint().unwrap());
}
