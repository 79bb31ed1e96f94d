//! Signing keys of the mint stages, parsed once at configure time from a JWK (object or its
//! JSON text) or a PEM.

use crate::config::ConfigError;
use crate::jose::wipe::Wiped;
use crate::jose::{pem, Algorithm, Jwk, OctKeyEncoding, SigningKey};
use serde_json::Value;

/// A signing key with the algorithm it signs with and its public JWK.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The key.
    pub key: SigningKey,
    /// The algorithm.
    pub alg: Algorithm,
    /// `kid` header, if any.
    pub kid: Option<String>,
    /// The public JWK for the JWKS endpoint; `None` for HMAC secrets (never published).
    pub public_jwk: Option<Value>,
    /// A load-time warning about the key (`path: problem`).
    pub warning: Option<String>,
}

/// Refuses one key for both mint stages: a `custom_jwt` token (claims a consumer chose, and
/// handed to the client with `downstream_custom_jwt_header`) would then verify as an
/// `upstream_jwt` token wherever that key is trusted, even by an upstream that pins it
/// (review). Told by a signature: `custom_jwt`'s verifies under `upstream_jwt`'s key exactly
/// when they are one key (one RSA or EC key under RS256 and PS256 alike, one HMAC secret).
pub fn distinct_keys(custom: &Signer, upstream: &Signer) -> Result<(), ConfigError> {
    const PROBE: &[u8] = b"jwt-relay: are the two mint stages' keys one key?";
    let Ok(signature) = custom.key.sign(custom.alg, PROBE) else {
        return Ok(());
    };
    match upstream
        .key
        .verifying_key()
        .verify(custom.alg, PROBE, &signature)
    {
        Ok(()) => Err(err(
            "custom_jwt.private_jwk",
            "is upstream_jwt's signing key: a custom token would verify as an upstream token; \
             give each stage its own key",
        )),
        Err(_) => Ok(()),
    }
}

fn err(path: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError::new(path, problem)
}

/// A JWK given as an object or as its JSON text (parsed into a copy wiped once read).
fn read_jwk(value: &Value, oct: OctKeyEncoding, path: &str) -> Result<Jwk, ConfigError> {
    let parsed;
    let object = match value {
        Value::String(text) => {
            parsed = Wiped::new(
                serde_json::from_str(text)
                    .map_err(|_| err(path, "not a JWK object nor its JSON text"))?,
            );
            &*parsed
        }
        Value::Object(_) => value,
        _ => return Err(err(path, "must be a JWK object or its JSON text")),
    };
    Jwk::from_value(object, oct).map_err(|e| err(path, e.to_string()))
}

/// A signer from a private JWK; `alg` comes from the JWK unless `alg` is given.
pub fn from_jwk(
    value: &Value,
    alg: Option<Algorithm>,
    oct: OctKeyEncoding,
    path: &str,
) -> Result<Signer, ConfigError> {
    let jwk = read_jwk(value, oct, path)?;

    let alg = match (alg, jwk.algorithm()) {
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => return Err(err(path, "needs an \"alg\" member")),
    };
    let key = jwk
        .signing_key()
        .cloned()
        .ok_or_else(|| err(path, "is a public key: a private JWK is needed to sign"))?;
    key.check_alg(alg)
        .map_err(|_| err(path, format!("cannot sign {}", alg.name())))?;
    let kid = jwk.kid().map(str::to_string);
    let mut signer = Signer::new(key, alg, kid, &jwk, path);
    // x-custom-jwt signs with whatever JWK it is given (its README's keys from mkjwk.org may
    // say `"use": "enc"`): such a key signs, with a word in the log.
    if !jwk.may_sign() {
        let problem = "its \"use\" is not \"sig\" or its \"key_ops\" lack \"sign\": it signs all \
            the same, as x-custom-jwt does";
        let earlier = signer
            .warning
            .take()
            .map(|w| format!("{w}; "))
            .unwrap_or_default();
        signer.warning = Some(format!("{earlier}{path}: {problem}"));
    }
    Ok(signer)
}

/// A signer from a PEM private key (PKCS#1 or PKCS#8).
pub fn from_pem(
    text: &str,
    alg: Algorithm,
    kid: Option<String>,
    path: &str,
) -> Result<Signer, ConfigError> {
    let key = SigningKey::from_pem(text, alg).map_err(|e| err(path, e.to_string()))?;
    let jwk = Jwk::from_keys(key.verifying_key(), None);
    let jwk = match &kid {
        Some(k) => jwk.with_kid(k.clone()),
        None => jwk,
    };
    Ok(Signer::new(key, alg, kid, &jwk, path))
}

/// A signer from a DER private key (PKCS#8, PKCS#1 or SEC1).
pub fn from_der(
    der: &[u8],
    alg: Algorithm,
    kid: Option<String>,
    path: &str,
) -> Result<Signer, ConfigError> {
    let key = SigningKey::from_der(der, alg).map_err(|e| err(path, e.to_string()))?;
    let jwk = Jwk::from_keys(key.verifying_key(), None);
    let jwk = match &kid {
        Some(k) => jwk.with_kid(k.clone()),
        None => jwk,
    };
    Ok(Signer::new(key, alg, kid, &jwk, path))
}

impl Signer {
    /// A signer whose published JWK is `jwk`'s public part with `alg`, `use: sig` and `kid`.
    fn new(key: SigningKey, alg: Algorithm, kid: Option<String>, jwk: &Jwk, path: &str) -> Self {
        let public_jwk = public(jwk, alg, kid.as_deref());
        let weakness = key.verifying_key().weakness(Some(alg));
        let warning = weakness.map(|w| format!("{path}: {w}"));
        Self {
            key,
            alg,
            kid,
            public_jwk,
            warning,
        }
    }
}

fn public(jwk: &Jwk, alg: Algorithm, kid: Option<&str>) -> Option<Value> {
    let mut map = jwk.to_public_json().ok()?;
    map.insert("alg".into(), Value::from(alg.name()));
    map.insert("use".into(), Value::from("sig"));
    if let Some(k) = kid {
        map.insert("kid".into(), Value::from(k));
    }
    Some(Value::Object(map))
}

/// One DER certificate as a chain of one, checked to be X.509.
pub fn certificate_der(der: &[u8], path: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    pem::certificate_spki(der).map_err(|e| err(path, e.to_string()))?;
    Ok(vec![der.to_vec()])
}

/// DER certificates of a PEM chain, leaf first.
pub fn chain(text: &str, path: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    let certs = pem::parse_certificate_chain(text).map_err(|e| err(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(err(path, "holds no certificate"));
    }
    Ok(certs)
}
