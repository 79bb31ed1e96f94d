//! Compact JWS (RFC 7515 §7.1): parse and sign.
//!
//! [`parse`] bounds the token length before decoding anything, then answers with the same
//! error, in the same order, as Kong's `jwt` plugin decoder:
//!
//! 1. fewer than three `.`-separated segments, or header/claims not base64url JSON → `invalid
//!    JSON`;
//! 2. header not an object, or `alg` missing, not a string or not one of the thirteen (so
//!    `none` too) → `invalid alg`;
//! 3. claims not a JSON object → `invalid claims`;
//! 4. signature segment (everything after the second `.`, so `<s>.x` when there are more
//!    segments, as Kong's tokenizer cuts) not base64url → `invalid signature`.
//!
//! Two refusals of ours come on top, so that a token Kong would refuse still gets Kong's answer:
//!
//! - a member name repeated in any object of the header or the claims is `invalid JSON` (step 1):
//!   RFC 7515 §5.2 allows keeping the last one, but readers that keep different ones disagree on
//!   what was signed (see `json`);
//! - after step 4, any `crit` header member is [`JoseError::UnsupportedCrit`] and a `b64` other
//!   than `true` is [`JoseError::UnsupportedB64`]: this crate understands no extension, and RFC
//!   7515 §4.1.11 says a token whose `crit` is not understood is invalid.
//!
//! A [`Jws`] exists only through [`parse`], so every verification ([`Jws::verify`]) sees a token
//! that passed these checks. Parsing does not verify: call [`Jws::verify`] with a key chosen by
//! configuration (the key decides the algorithm family; the header must agree).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{b64, json, Algorithm, JoseError, SigningKey, VerifyingKey};

/// Largest compact token accepted by [`parse`], in bytes (64 KiB). Checked before decoding.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A parsed JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    json: Map<String, Value>,
}

impl Header {
    /// The `alg` member, one of the thirteen algorithms.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` member, when present and a string.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `typ` member, when present and a string.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The whole header object, every member as sent.
    pub fn json(&self) -> &Map<String, Value> {
        &self.json
    }
}

/// A parsed (not yet verified) compact JWS.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws {
    header: Header,
    claims: Map<String, Value>,
    signing_input_len: usize,
    token: String,
    signature: Vec<u8>,
}

impl Jws {
    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The claims object.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// Takes the claims object.
    pub fn into_claims(self) -> Map<String, Value> {
        self.claims
    }

    /// The signing input: the ASCII `header.payload` exactly as received.
    pub fn signing_input(&self) -> &[u8] {
        self.token
            .as_bytes()
            .get(..self.signing_input_len)
            .unwrap_or_default()
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Verifies the signature with `key` for the header's `alg`; see [`VerifyingKey::verify`].
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), JoseError> {
        key.verify(self.header.alg, self.signing_input(), &self.signature)
    }
}

/// A header or claims segment: base64url, then strict JSON (a repeated member name is an error).
fn decode_json(segment: &str) -> Result<Value, JoseError> {
    let bytes = b64::decode(segment).map_err(|_| JoseError::InvalidJson)?;
    json::from_slice(&bytes).map_err(|_| JoseError::InvalidJson)
}

/// Refuses header members asking for processing this crate does not do.
fn check_no_extensions(header: &Map<String, Value>) -> Result<(), JoseError> {
    // No extension is understood, so every `crit` is refused: an unknown name (§4.1.11 says the
    // JWS is then invalid), a registered name or an empty list (both forbidden there), or a value
    // that is not a list at all. Accepting any of them would ignore what the issuer made critical.
    if header.contains_key("crit") {
        return Err(JoseError::UnsupportedCrit);
    }
    // `b64: false` (RFC 7797) means the payload segment is the raw payload: a verifier reading it
    // as base64url checks other bytes than the issuer meant. Only the default is read here.
    match header.get("b64") {
        None | Some(Value::Bool(true)) => Ok(()),
        Some(_) => Err(JoseError::UnsupportedB64),
    }
}

fn optional_str(obj: &Map<String, Value>, name: &str) -> Option<String> {
    obj.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Parses a compact JWS; see the module doc for the error order.
pub fn parse(token: &str) -> Result<Jws, JoseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JoseError::TokenTooLarge);
    }
    // Kong cuts at the first two dots only: a fourth segment stays in the signature segment,
    // whose base64url then fails after the header and claims checks.
    let mut parts = token.splitn(3, '.');
    let (Some(h64), Some(c64), Some(s64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(JoseError::InvalidJson);
    };
    let header = decode_json(h64)?;
    let claims = decode_json(c64)?;

    let Value::Object(header) = header else {
        return Err(JoseError::InvalidAlg);
    };
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JoseError::InvalidAlg)?
        .parse::<Algorithm>()?;
    let Value::Object(claims) = claims else {
        return Err(JoseError::InvalidClaims);
    };
    let signature = b64::decode(s64).map_err(|_| JoseError::InvalidSignatureEncoding)?;
    check_no_extensions(&header)?;

    Ok(Jws {
        header: Header {
            alg,
            kid: optional_str(&header, "kid"),
            typ: optional_str(&header, "typ"),
            json: header,
        },
        claims,
        signing_input_len: h64.len() + 1 + c64.len(),
        token: token.to_owned(),
        signature,
    })
}

/// The header of a token to be signed. Typed members win over same-named `extra` members, so
/// `extra` can never change `alg`.
#[derive(Debug, Clone, PartialEq)]
pub struct JwsHeader {
    /// `alg`: must suit the signing key.
    pub alg: Algorithm,
    /// `typ`: `JWT` by default.
    pub typ: Option<String>,
    /// `kid`.
    pub kid: Option<String>,
    /// `jku`: URL of the JWKS holding the verification key.
    pub jku: Option<String>,
    /// `x5c`: certificate chain, standard base64 DER, leaf first (RFC 7515 §4.1.6).
    pub x5c: Option<Vec<String>>,
    /// `x5t#S256`: base64url SHA-256 of the leaf certificate's DER.
    pub x5t_s256: Option<String>,
    /// Any other members.
    pub extra: Map<String, Value>,
}

impl JwsHeader {
    /// A header with `alg` and `typ: JWT`.
    pub fn new(alg: Algorithm) -> Self {
        Self {
            alg,
            typ: Some("JWT".to_owned()),
            kid: None,
            jku: None,
            x5c: None,
            x5t_s256: None,
            extra: Map::new(),
        }
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `jku`.
    pub fn with_jku(mut self, jku: impl Into<String>) -> Self {
        self.jku = Some(jku.into());
        self
    }

    /// Sets `x5c` from DER certificates (leaf first) and `x5t#S256` from the leaf.
    pub fn with_certificate_chain(mut self, chain_der: &[Vec<u8>]) -> Self {
        self.x5c = Some(chain_der.iter().map(|c| STANDARD.encode(c)).collect());
        self.x5t_s256 = chain_der.first().map(|leaf| x5t_s256(leaf));
        self
    }

    /// The header as a JSON object.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut out = self.extra.clone();
        out.insert("alg".to_owned(), Value::from(self.alg.name()));
        let strings = [
            ("typ", &self.typ),
            ("kid", &self.kid),
            ("jku", &self.jku),
            ("x5t#S256", &self.x5t_s256),
        ];
        for (name, value) in strings {
            match value {
                Some(v) => out.insert(name.to_owned(), Value::from(v.as_str())),
                None => out.remove(name),
            };
        }
        match &self.x5c {
            Some(chain) => out.insert("x5c".to_owned(), Value::from(chain.clone())),
            None => out.remove("x5c"),
        };
        out
    }
}

/// `x5t#S256` of a DER certificate: base64url of its SHA-256.
pub fn x5t_s256(cert_der: &[u8]) -> String {
    b64::encode(Sha256::digest(cert_der))
}

/// A header serialized and base64url-encoded once, for a stage that mints every token under
/// the same one: an `x5c` chain is a kilobyte or more to hash, encode and serialize, twice
/// over, which no request needs to pay for again.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedHeader {
    alg: Algorithm,
    segment: String,
}

impl EncodedHeader {
    /// Encodes `header` as [`sign`] would.
    pub fn new(header: &JwsHeader) -> Result<Self, JoseError> {
        let json = serde_json::to_vec(&header.to_json()).map_err(|_| JoseError::InvalidJson)?;
        Ok(Self {
            alg: header.alg,
            segment: b64::encode(json),
        })
    }

    /// The header's `alg`.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }
}

/// Signs `claims` under `header` with `key`, giving a compact JWS. Fails with
/// [`JoseError::AlgorithmMismatch`] when the key does not serve `header.alg`.
pub fn sign(
    header: &JwsHeader,
    claims: &Map<String, Value>,
    key: &SigningKey,
) -> Result<String, JoseError> {
    sign_encoded(&EncodedHeader::new(header)?, claims, key)
}

/// [`sign`] under a header encoded beforehand.
pub fn sign_encoded(
    header: &EncodedHeader,
    claims: &Map<String, Value>,
    key: &SigningKey,
) -> Result<String, JoseError> {
    key.check_alg(header.alg)?;
    let claims_json = serde_json::to_vec(claims).map_err(|_| JoseError::InvalidClaims)?;
    let mut token = header.segment.clone();
    token.push('.');
    token.push_str(&b64::encode(claims_json));
    let signature = key.sign(header.alg, token.as_bytes())?;
    token.push('.');
    token.push_str(&b64::encode(signature));
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(json: &str) -> String {
        b64::encode(json)
    }

    #[test]
    fn parse_fewer_than_three_segments_invalid_json() {
        assert_eq!(parse("a.b").unwrap_err(), JoseError::InvalidJson);
        assert_eq!(parse("a.b.c.d").unwrap_err(), JoseError::InvalidJson);
        assert_eq!(parse("").unwrap_err(), JoseError::InvalidJson);
        let t = format!("{}.{}", seg(r#"{"alg":"HS256"}"#), seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidJson);
    }

    #[test]
    fn parse_extra_segments_invalid_signature() {
        // Kong keeps `<s>.x` as the signature segment; `.` is not base64url.
        let valid = hs256(r#"{"alg":"HS256"}"#, "{}");
        for extra in [".x", ".", ".AQID.AQID"] {
            let t = format!("{valid}{extra}");
            assert_eq!(
                parse(&t).unwrap_err(),
                JoseError::InvalidSignatureEncoding,
                "{extra}"
            );
        }
        let t = format!("{}.{}..", seg(r#"{"alg":"HS256"}"#), seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidSignatureEncoding);
    }

    #[test]
    fn parse_extra_segments_keep_header_and_claims_errors_first() {
        let cases = [
            (seg("{not json"), seg("{}"), JoseError::InvalidJson),
            (
                seg(r#"{"alg":"HS256"}"#),
                seg("nope"),
                JoseError::InvalidJson,
            ),
            (seg(r#"{"alg":"none"}"#), seg("{}"), JoseError::InvalidAlg),
            (
                seg(r#"{"alg":"HS256"}"#),
                seg("[1]"),
                JoseError::InvalidClaims,
            ),
        ];
        for (h, c, want) in cases {
            let t = format!("{h}.{c}.AQID.x");
            assert_eq!(parse(&t).unwrap_err(), want, "{t}");
        }
    }

    #[test]
    fn parse_header_not_base64_json_invalid_json() {
        let t = format!("{}.{}.", seg("{not json"), seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidJson);
        let t = format!("e30+.{}.", seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidJson);
    }

    #[test]
    fn parse_claims_not_json_invalid_json_before_alg() {
        // Kong decodes both segments before looking at alg.
        let t = format!("{}.{}.", seg(r#"{"alg":"none"}"#), seg("nope"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidJson);
    }

    #[test]
    fn parse_alg_none_missing_or_number_invalid_alg() {
        for h in [
            r#"{"alg":"none"}"#,
            r#"{"typ":"JWT"}"#,
            r#"{"alg":256}"#,
            "[]",
            r#""x""#,
        ] {
            let t = format!("{}.{}.", seg(h), seg("{}"));
            assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidAlg, "{h}");
        }
    }

    #[test]
    fn parse_claims_array_invalid_claims() {
        let t = format!("{}.{}.", seg(r#"{"alg":"HS256"}"#), seg("[1]"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidClaims);
    }

    #[test]
    fn parse_bad_signature_segment_invalid_signature() {
        let t = format!("{}.{}.ab+c", seg(r#"{"alg":"HS256"}"#), seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidSignatureEncoding);
    }

    #[test]
    fn parse_oversized_token_rejected_before_decoding() {
        let t = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(parse(&t).unwrap_err(), JoseError::TokenTooLarge);
    }

    #[test]
    fn parse_valid_token_exposes_parts() {
        let h = seg(r#"{"alg":"HS256","kid":"k1","typ":"JWT","x":1}"#);
        let c = seg(r#"{"sub":"me"}"#);
        let t = format!("{h}.{c}.AQID");
        let jws = parse(&t).unwrap();
        assert_eq!(jws.header().alg(), Algorithm::HS256);
        assert_eq!(jws.header().kid(), Some("k1"));
        assert_eq!(jws.header().typ(), Some("JWT"));
        assert_eq!(jws.header().json().get("x"), Some(&Value::from(1)));
        assert_eq!(jws.claims().get("sub"), Some(&Value::from("me")));
        assert_eq!(jws.signing_input(), format!("{h}.{c}").as_bytes());
        assert_eq!(jws.signature(), &[1, 2, 3]);
    }

    #[test]
    fn parse_padded_segments_accepted_like_kong() {
        // This header encodes to 31 characters, so its padded form ends in one `=`.
        let key = SigningKey::hmac(b"k").unwrap();
        let h = format!("{}=", b64::encode(r#"{"alg":"HS256","x":"a"}"#));
        assert!(h.len().is_multiple_of(4));
        let c = b64::encode("{}");
        let input = format!("{h}.{c}");
        let sig = b64::encode(key.sign(Algorithm::HS256, input.as_bytes()).unwrap());
        let jws = parse(&format!("{input}.{sig}")).unwrap();
        assert_eq!(jws.signing_input(), input.as_bytes());
        jws.verify(&key.verifying_key()).unwrap();
    }

    /// A token over raw header and claims JSON, validly signed with the HMAC secret `k`.
    fn hs256(header: &str, claims: &str) -> String {
        let key = SigningKey::hmac(b"k").unwrap();
        let input = format!("{}.{}", seg(header), seg(claims));
        let sig = key.sign(Algorithm::HS256, input.as_bytes()).unwrap();
        format!("{input}.{}", b64::encode(sig))
    }

    const ALL_ALGS: [&str; 13] = [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "ES512", "EdDSA",
    ];

    #[test]
    fn parse_crit_in_any_form_unsupported_crit() {
        // Unknown name, registered names (forbidden in crit), empty list, not a list, null.
        let crits = [
            r#"["x-bank-approval"],"x-bank-approval":true"#,
            r#"["exp"],"exp":1"#,
            r#"["alg"]"#,
            r#"["b64"],"b64":true"#,
            "[]",
            r#""x-bank-approval""#,
            "{}",
            "null",
        ];
        for crit in crits {
            let valid = hs256(&format!(r#"{{"alg":"HS256","crit":{crit}}}"#), "{}");
            assert_eq!(
                parse(&valid).unwrap_err(),
                JoseError::UnsupportedCrit,
                "{crit}"
            );
            for alg in ALL_ALGS {
                let h = format!(r#"{{"alg":"{alg}","crit":{crit}}}"#);
                let t = format!("{}.{}.AQID", seg(&h), seg("{}"));
                assert_eq!(parse(&t).unwrap_err(), JoseError::UnsupportedCrit, "{h}");
            }
        }
    }

    #[test]
    fn parse_b64_other_than_true_unsupported_b64() {
        for b64 in ["false", r#""false""#, "0", "null", "{}"] {
            for alg in ALL_ALGS {
                let h = format!(r#"{{"alg":"{alg}","b64":{b64}}}"#);
                let t = format!("{}.{}.AQID", seg(&h), seg("{}"));
                assert_eq!(parse(&t).unwrap_err(), JoseError::UnsupportedB64, "{h}");
            }
        }
        let default = hs256(r#"{"alg":"HS256","b64":true}"#, "{}");
        let key = SigningKey::hmac(b"k").unwrap().verifying_key();
        parse(&default).unwrap().verify(&key).unwrap();
    }

    #[test]
    fn parse_crit_checked_after_kong_errors() {
        // A token Kong would refuse keeps Kong's answer.
        let crit = r#"{"alg":"HS256","crit":["x"]}"#;
        let t = format!("{}.{}.", seg(crit), seg("[1]"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidClaims);
        let t = format!("{}.{}.ab+c", seg(crit), seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidSignatureEncoding);
        let t = format!("{}.{}.", seg(r#"{"alg":"none","crit":["x"]}"#), seg("{}"));
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidAlg);
    }

    #[test]
    fn parse_duplicate_header_member_invalid_json() {
        for h in [
            r#"{"alg":"none","alg":"HS256"}"#,
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
            r#"{"alg":"HS256","jwk":{"kty":"oct","kty":"RSA"}}"#,
        ] {
            assert_eq!(
                parse(&hs256(h, "{}")).unwrap_err(),
                JoseError::InvalidJson,
                "{h}"
            );
        }
    }

    #[test]
    fn parse_duplicate_claim_invalid_json() {
        for c in [
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"exp":1,"sub":"x","exp":9999999999}"#,
            r#"{"org":{"id":1,"id":2}}"#,
            r#"{"aud":[{"x":1,"x":1}]}"#,
        ] {
            let t = hs256(r#"{"alg":"HS256"}"#, c);
            assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidJson, "{c}");
        }
    }

    #[test]
    fn parse_deeply_nested_claims_invalid_json_not_overflow() {
        let c = format!("{}1{}", r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
        let t = format!("{}.{}.", seg(r#"{"alg":"HS256"}"#), seg(&c));
        assert!(t.len() <= MAX_TOKEN_LEN);
        assert_eq!(parse(&t).unwrap_err(), JoseError::InvalidJson);
    }

    #[test]
    fn header_extra_alg_cannot_override_typed_alg() {
        let mut h = JwsHeader::new(Algorithm::HS256);
        h.extra.insert("alg".into(), Value::from("none"));
        assert_eq!(h.to_json().get("alg"), Some(&Value::from("HS256")));
    }

    #[test]
    fn sign_then_parse_and_verify_round_trips() {
        let key = SigningKey::hmac(b"secret").unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from("me"));
        let token = sign(
            &JwsHeader::new(Algorithm::HS384).with_kid("a"),
            &claims,
            &key,
        )
        .unwrap();
        let jws = parse(&token).unwrap();
        assert_eq!(jws.header().kid(), Some("a"));
        assert_eq!(jws.claims(), &claims);
        jws.verify(&key.verifying_key()).unwrap();
    }

    #[test]
    fn sign_alg_of_other_family_rejected() {
        let key = SigningKey::hmac(b"secret").unwrap();
        let err = sign(&JwsHeader::new(Algorithm::RS256), &Map::new(), &key).unwrap_err();
        assert_eq!(err, JoseError::AlgorithmMismatch);
    }

    #[test]
    fn a_header_encoded_beforehand_signs_the_same_token() {
        let key = SigningKey::hmac(b"secret").unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::from("me"));
        let header = JwsHeader::new(Algorithm::HS256)
            .with_kid("a")
            .with_certificate_chain(&[vec![1, 2, 3], vec![4, 5]]);
        let encoded = EncodedHeader::new(&header).unwrap();
        assert_eq!(encoded.alg(), Algorithm::HS256);
        let token = sign_encoded(&encoded, &claims, &key).unwrap();
        assert_eq!(token, sign(&header, &claims, &key).unwrap());
        let jws = parse(&token).unwrap();
        assert_eq!(
            jws.header().json()["x5c"],
            serde_json::json!(["AQID", "BAU="])
        );
        jws.verify(&key.verifying_key()).unwrap();
        let rs = EncodedHeader::new(&JwsHeader::new(Algorithm::RS256)).unwrap();
        let err = sign_encoded(&rs, &claims, &key).unwrap_err();
        assert_eq!(err, JoseError::AlgorithmMismatch);
    }
}
