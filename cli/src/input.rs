//! Reading what the user points at: files or stdin, keys as PEM or JWK, algorithm names.

use std::io::Read as _;

use jwt_relay_core::jose::{pem, Algorithm, Jwk, JwkSet, OctKeyEncoding, SigningKey, VerifyingKey};
use serde_json::Value;

use crate::args::CliError;

/// Reads a file, or stdin for `-`.
pub fn read_bytes(path: &str) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let outcome = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    outcome.map_err(|e| CliError::invalid(format!("cannot read {}: {e}", shown(path))))?;
    Ok(bytes)
}

/// Reads a UTF-8 text file, or stdin for `-`.
pub fn read_text(path: &str) -> Result<String, CliError> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| CliError::invalid(format!("{} is not UTF-8 text", shown(path))))
}

/// How a path is named in messages.
pub fn shown(path: &str) -> &str {
    if path == "-" {
        "stdin"
    } else {
        path
    }
}

/// Parses an `--alg` value.
pub fn algorithm(name: &str) -> Result<Algorithm, CliError> {
    name.parse().map_err(|_| {
        let all: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        CliError::usage(format!(
            "unknown algorithm '{name}' (one of {})",
            all.join(", ")
        ))
    })
}

/// True when the text looks like JSON (a JWK or JWKS) rather than PEM.
pub fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// One key from PEM text: a private key (PKCS#8, PKCS#1, SEC1) gives a JWK with its signing
/// key; a public key or certificate gives a public JWK. No `kid` or `alg`.
pub fn key_from_pem(text: &str, source: &str) -> Result<Jwk, CliError> {
    let bad = |e: jwt_relay_core::jose::JoseError| CliError::invalid(format!("{source}: {e}"));
    let first = pem::parse_blocks(text).map_err(bad)?;
    let private = first
        .first()
        .is_some_and(|block| block.label.ends_with("PRIVATE KEY"));
    if private {
        let key = SigningKey::parse_pem(text).map_err(bad)?;
        Ok(Jwk::from_keys(key.verifying_key(), Some(key)))
    } else {
        Ok(Jwk::from_keys(
            VerifyingKey::parse_pem(text).map_err(bad)?,
            None,
        ))
    }
}

/// One key from JSON text: a JWK, or a JWKS holding exactly one usable key. `oct` keys take
/// `k` as base64url (RFC 7518).
pub fn key_from_json(text: &str, source: &str) -> Result<Jwk, CliError> {
    let set = key_set(text, source)?;
    match set.keys() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::invalid(format!(
            "{source}: the JWKS holds no usable key{}",
            skipped_note(&set)
        ))),
        many => Err(CliError::invalid(format!(
            "{source}: the JWKS holds {} keys: pass a single JWK",
            many.len()
        ))),
    }
}

/// A key from a file holding a PEM key, a JWK or a one-key JWKS.
pub fn key_from_file(path: &str) -> Result<Jwk, CliError> {
    let text = read_text(path)?;
    if is_json(&text) {
        key_from_json(&text, shown(path))
    } else {
        key_from_pem(&text, shown(path))
    }
}

/// A JWKS document, or a single JWK taken as a set of one.
pub fn key_set(text: &str, source: &str) -> Result<JwkSet, CliError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CliError::invalid(format!("{source}: not JSON: {e}")))?;
    if value.get("keys").is_some() {
        return JwkSet::parse(text, OctKeyEncoding::Base64Url)
            .map_err(|e| CliError::invalid(format!("{source}: {e}")));
    }
    let jwk = Jwk::from_value(&value, OctKeyEncoding::Base64Url)
        .map_err(|e| CliError::invalid(format!("{source}: {e}")))?;
    Ok(JwkSet::from_keys(vec![jwk]))
}

/// A JWKS fetched from a URL, or a single JWK taken as a set of one. Anyone can download it, so
/// its `oct` keys are dropped, as the filter drops those of a `jwks_uri`: a published HMAC key
/// would "verify" tokens anyone could have signed.
pub fn published_key_set(text: &str, source: &str) -> Result<JwkSet, CliError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| CliError::invalid(format!("{source}: not JSON: {e}")))?;
    let doc = if value.get("keys").is_some() {
        value
    } else {
        serde_json::json!({ "keys": [value] })
    };
    JwkSet::parse_published(&doc.to_string())
        .map_err(|e| CliError::invalid(format!("{source}: {e}")))
}

/// `; skipped: key 0 (kid "a"): unsupported key: EC curve` for each key a JWKS left out, and the
/// count of `oct` keys a published set ignored.
pub fn skipped_note(set: &JwkSet) -> String {
    let mut note: String = set
        .skipped()
        .iter()
        .map(|s| match &s.kid {
            Some(kid) => format!("; skipped key {} (kid {kid:?}): {}", s.index, s.error),
            None => format!("; skipped key {}: {}", s.index, s.error),
        })
        .collect();
    if set.ignored_oct() > 0 {
        note.push_str(&format!(
            "; {} oct keys ignored: a published JWKS holds no secret",
            set.ignored_oct()
        ));
    }
    note
}

/// Pretty JSON with a final newline.
pub fn pretty(value: &Value) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| CliError::invalid(format!("cannot encode JSON: {e}")))
}
