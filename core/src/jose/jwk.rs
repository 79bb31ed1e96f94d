//! JSON Web Keys (RFC 7517), their key types (RFC 7518 §6, RFC 8037 §2) and thumbprints
//! (RFC 7638).
//!
//! Supported: `kty` `RSA` (public; private with `d`, `p`, `q`), `EC` on `P-256`/`P-384`/`P-521`
//! (public; private with `d`), `oct`, and `OKP` on `Ed25519` (public; private with `d`). A
//! private JWK's public members must match its private ones. `kid`, `alg` and `use` are kept;
//! other members are ignored.
//!
//! A JWKS ([`JwkSet::parse`]) keeps the keys it understands and reports the others in
//! [`JwkSet::skipped`], so one exotic key (say `kty: OKP, crv: X448`) in a fetched set does not
//! take down a gateway's whole key set (an inline `jwt.jwks` refuses the configuration
//! instead: its author can fix it). A JWKS anyone can download ([`JwkSet::parse_published`]) never
//! yields an `oct` key: a published secret is no secret.

use serde_json::{Map, Value};

use super::wipe::{wipe, Wiped};
use sha2::{Digest, Sha256};

use super::key::PublicParams;
use super::{b64, Algorithm, EcCurve, JoseError, SigningKey, VerifyingKey};

/// Bound on the JWKS document accepted by [`JwkSet::parse`], in bytes.
pub const MAX_JWKS_LEN: usize = 512 * 1024;

/// How an `oct` JWK's `k` becomes the HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OctKeyEncoding {
    /// RFC 7518 §6.4.1: `k` is base64url; the secret is the decoded bytes.
    #[default]
    Base64Url,
    /// Compatibility with x-custom-jwt: the secret is `k`'s text bytes, not decoded.
    Verbatim,
}

/// One parsed JWK: a typed verifying key, the signing key if private members were present,
/// and the `kid`, `alg` and `use` members.
#[derive(Debug, Clone)]
pub struct Jwk {
    kid: Option<String>,
    alg: Option<String>,
    key_use: Option<String>,
    ops: Option<KeyOps>,
    verifying: VerifyingKey,
    signing: Option<SigningKey>,
}

/// The signature operations a JWK's `key_ops` (RFC 7517 §4.3) names; other operations
/// (`encrypt`, `wrapKey`, ...) are allowed in the list and give the key no signature use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyOps {
    sign: bool,
    verify: bool,
}

impl KeyOps {
    /// Reads `key_ops`: an array of distinct strings (RFC 7517 §4.3), or absent.
    fn read(obj: &Map<String, Value>) -> Result<Option<Self>, JoseError> {
        let Some(value) = obj.get("key_ops") else {
            return Ok(None);
        };
        let bad = JoseError::InvalidJwk("key_ops must be an array of distinct strings");
        // Eight operations are defined; a longer list is no key's (and would cost a quadratic
        // duplicate check).
        let ops = value.as_array().filter(|ops| ops.len() <= 32).ok_or(bad)?;
        let mut names: Vec<&str> = Vec::with_capacity(ops.len());
        for op in ops {
            let name = op.as_str().ok_or(bad)?;
            if names.contains(&name) {
                return Err(bad);
            }
            names.push(name);
        }
        Ok(Some(Self {
            sign: names.contains(&"sign"),
            verify: names.contains(&"verify"),
        }))
    }
}

/// A JWK that [`JwkSet::parse`] left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in the `keys` array.
    pub index: usize,
    /// Its `kid`, when it had a string one.
    pub kid: Option<String>,
    /// Why it was skipped (static reason, no key material).
    pub error: JoseError,
}

/// A JWK Set: the usable keys and the skipped ones.
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    keys: Vec<Jwk>,
    skipped: Vec<SkippedKey>,
    ignored_oct: usize,
    private_ignored: Vec<usize>,
}

/// A JWK's private members (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). A set only verifies, so
/// a key's private half is never read from one: parsing it would cost a private key's checks
/// (an RSA signature at load) on every fetch, and hold a leaked secret in every worker.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// What a JWKS parse does with `oct` (symmetric) keys.
#[derive(Debug, Clone, Copy)]
enum OctKeys {
    /// Use them, reading `k` this way (a set from the configuration: a secret kept secret).
    Use(OctKeyEncoding),
    /// Drop them unread and count them (a published set: its `k` is known to everyone).
    Ignore,
}

fn is_oct(entry: &Value) -> bool {
    entry.get("kty").and_then(Value::as_str) == Some("oct")
}

fn opt_string(obj: &Map<String, Value>, name: &'static str) -> Result<Option<String>, JoseError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::InvalidJwk(
            "kid, alg, use, kty and crv must be strings",
        )),
    }
}

fn req_str<'a>(obj: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, JoseError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::InvalidJwk("a key member is not a string")),
        None => Err(JoseError::InvalidJwk("a required key member is missing")),
    }
}

fn req_b64(
    obj: &Map<String, Value>,
    name: &'static str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, JoseError> {
    b64::decode(req_str(obj, name)?)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| JoseError::InvalidJwk("a key member is not base64url"))
}

fn parse_rsa(obj: &Map<String, Value>) -> Result<(VerifyingKey, Option<SigningKey>), JoseError> {
    let n = req_b64(obj, "n")?;
    let e = req_b64(obj, "e")?;
    if !obj.contains_key("d") {
        return Ok((VerifyingKey::rsa_from_components(&n, &e)?, None));
    }
    if obj.contains_key("oth") {
        return Err(JoseError::UnsupportedKey("multi-prime RSA JWK"));
    }
    if !obj.contains_key("p") || !obj.contains_key("q") {
        return Err(JoseError::UnsupportedKey("RSA private JWK without p and q"));
    }
    let signing = SigningKey::rsa_from_components(
        &n,
        &e,
        &req_b64(obj, "d")?,
        &req_b64(obj, "p")?,
        &req_b64(obj, "q")?,
    )?;
    Ok((signing.verifying_key(), Some(signing)))
}

fn parse_ec(obj: &Map<String, Value>) -> Result<(VerifyingKey, Option<SigningKey>), JoseError> {
    let curve = EcCurve::from_jwk_name(req_str(obj, "crv")?)
        .ok_or(JoseError::UnsupportedKey("EC curve"))?;
    let public =
        VerifyingKey::ec_from_coordinates(curve, &req_b64(obj, "x")?, &req_b64(obj, "y")?)?;
    if !obj.contains_key("d") {
        return Ok((public, None));
    }
    let signing = SigningKey::ec_from_scalar(curve, &req_b64(obj, "d")?)?;
    ensure_same_public(&public, &signing)?;
    Ok((public, Some(signing)))
}

fn parse_okp(obj: &Map<String, Value>) -> Result<(VerifyingKey, Option<SigningKey>), JoseError> {
    let ed448 = match req_str(obj, "crv")? {
        "Ed25519" => false,
        "Ed448" => true,
        _ => {
            return Err(JoseError::UnsupportedKey(
                "OKP curve other than Ed25519 and Ed448",
            ))
        }
    };
    let x = req_b64(obj, "x")?;
    let public = if ed448 {
        VerifyingKey::ed448_from_bytes(&x)?
    } else {
        VerifyingKey::ed25519_from_bytes(&x)?
    };
    if !obj.contains_key("d") {
        return Ok((public, None));
    }
    let d = req_b64(obj, "d")?;
    let signing = if ed448 {
        SigningKey::ed448_from_secret(&d)?
    } else {
        SigningKey::ed25519_from_seed(&d)?
    };
    ensure_same_public(&public, &signing)?;
    Ok((public, Some(signing)))
}

fn parse_oct(
    obj: &Map<String, Value>,
    oct: OctKeyEncoding,
) -> Result<(VerifyingKey, Option<SigningKey>), JoseError> {
    let secret = match oct {
        OctKeyEncoding::Base64Url => req_b64(obj, "k")?,
        OctKeyEncoding::Verbatim => zeroize::Zeroizing::new(req_str(obj, "k")?.as_bytes().to_vec()),
    };
    Ok((
        VerifyingKey::hmac(&secret)?,
        Some(SigningKey::hmac(&secret)?),
    ))
}

/// A private JWK whose public members do not belong to its private key is refused.
fn ensure_same_public(public: &VerifyingKey, signing: &SigningKey) -> Result<(), JoseError> {
    if public_members(public)? != public_members(&signing.verifying_key())? {
        return Err(JoseError::InvalidJwk(
            "public members do not match the private key",
        ));
    }
    Ok(())
}

/// The RFC 7638 required members, in lexicographic order, as (name, value) pairs.
fn public_members(key: &VerifyingKey) -> Result<Vec<(&'static str, String)>, JoseError> {
    Ok(match key.params()? {
        PublicParams::Oct(k) => vec![("k", b64::encode(k)), ("kty", "oct".into())],
        PublicParams::Rsa { n, e } => vec![
            ("e", b64::encode(e)),
            ("kty", "RSA".into()),
            ("n", b64::encode(n)),
        ],
        PublicParams::Ec { crv, x, y } => vec![
            ("crv", crv.jwk_name().into()),
            ("kty", "EC".into()),
            ("x", b64::encode(x)),
            ("y", b64::encode(y)),
        ],
        PublicParams::Ed25519 { x } => vec![
            ("crv", "Ed25519".into()),
            ("kty", "OKP".into()),
            ("x", b64::encode(x)),
        ],
        PublicParams::Ed448 { x } => vec![
            ("crv", "Ed448".into()),
            ("kty", "OKP".into()),
            ("x", b64::encode(x)),
        ],
    })
}

/// RFC 7638 thumbprint (SHA-256, base64url) of a key. For an `oct` key this hashes the secret,
/// as the RFC defines; do not publish it.
pub fn thumbprint(key: &VerifyingKey) -> Result<String, JoseError> {
    let members = public_members(key)?;
    let mut json = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        // Names and values are ASCII without quotes or backslashes; serialize anyway.
        json.push_str(&Value::from(*name).to_string());
        json.push(':');
        json.push_str(&Value::from(value.as_str()).to_string());
    }
    json.push('}');
    Ok(b64::encode(Sha256::digest(json.as_bytes())))
}

impl Jwk {
    /// Parses one JWK from JSON text.
    pub fn from_json(json: &str, oct: OctKeyEncoding) -> Result<Self, JoseError> {
        let value =
            Wiped::new(serde_json::from_str(json).map_err(|_| JoseError::InvalidJwk("not JSON"))?);
        Self::from_value(&value, oct)
    }

    /// Parses one JWK from a JSON value (which must be an object).
    pub fn from_value(value: &Value, oct: OctKeyEncoding) -> Result<Self, JoseError> {
        let obj = value
            .as_object()
            .ok_or(JoseError::InvalidJwk("not a JSON object"))?;
        let kid = opt_string(obj, "kid")?;
        let alg = opt_string(obj, "alg")?;
        let key_use = opt_string(obj, "use")?;
        let ops = KeyOps::read(obj)?;
        let kty = opt_string(obj, "kty")?.ok_or(JoseError::InvalidJwk("kty is missing"))?;
        let (verifying, signing) = match kty.as_str() {
            "RSA" => parse_rsa(obj)?,
            "EC" => parse_ec(obj)?,
            "OKP" => parse_okp(obj)?,
            "oct" => parse_oct(obj, oct)?,
            _ => return Err(JoseError::UnsupportedKey("kty")),
        };
        // A known `alg` must suit the key; an unknown one (e.g. an encryption alg) is kept
        // and makes the key unusable for signatures (see `allows`).
        if let Some(known) = alg.as_deref().and_then(|a| a.parse::<Algorithm>().ok()) {
            verifying
                .check_alg(known)
                .map_err(|_| JoseError::InvalidJwk("alg does not suit the key"))?;
        }
        Ok(Self {
            kid,
            alg,
            key_use,
            ops,
            verifying,
            signing,
        })
    }

    /// A JWK for a key, with no `kid`, `alg` or `use` (add them with the `with_*` methods).
    /// The private part of `signing` is kept for signing but never exported.
    pub fn from_keys(verifying: VerifyingKey, signing: Option<SigningKey>) -> Self {
        Self {
            kid: None,
            alg: None,
            key_use: None,
            ops: None,
            verifying,
            signing,
        }
    }

    /// Sets `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets `alg`; it must suit the key.
    pub fn with_alg(mut self, alg: Algorithm) -> Result<Self, JoseError> {
        self.verifying.check_alg(alg)?;
        self.alg = Some(alg.name().to_owned());
        Ok(self)
    }

    /// Sets `use` (normally `sig`).
    pub fn with_use(mut self, key_use: impl Into<String>) -> Self {
        self.key_use = Some(key_use.into());
        self
    }

    /// The `kid` member.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The `alg` member as written (may be an algorithm this crate does not know).
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The `alg` member as one of the thirteen algorithms, when it is one.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.alg.as_deref().and_then(|a| a.parse().ok())
    }

    /// The `use` member.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The verifying key (for `oct`, the secret).
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The signing key, when the JWK carried private members (always for `oct`).
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signing.as_ref()
    }

    /// True when this JWK may verify a token signed with `alg`: the key serves `alg`, the JWK's
    /// `alg` (if any) is exactly `alg`, its `use` (if any) is `sig` and its `key_ops` (if any)
    /// name `verify`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.verifying.check_alg(alg).is_ok()
            && self.alg.as_deref().is_none_or(|a| a == alg.name())
            && self.may_verify()
    }

    /// True when this JWK's `use` and `key_ops` (when given) let it verify: `use` is `sig`,
    /// `key_ops` names `verify`.
    pub fn may_verify(&self) -> bool {
        self.for_signatures() && self.ops.is_none_or(|ops| ops.verify)
    }

    /// True when this JWK's `use` and `key_ops` (when given) let it sign: `use` is `sig`,
    /// `key_ops` names `sign`.
    pub fn may_sign(&self) -> bool {
        self.for_signatures() && self.ops.is_none_or(|ops| ops.sign)
    }

    fn for_signatures(&self) -> bool {
        self.key_use.as_deref().is_none_or(|u| u == "sig")
    }

    /// The public JWK as a JSON object: key members, then `kid`, `alg`, `use` when set.
    /// An `oct` key has no public form and is an error.
    pub fn to_public_json(&self) -> Result<Map<String, Value>, JoseError> {
        let members = public_members(&self.verifying)?;
        if members.iter().any(|(name, _)| *name == "k") {
            return Err(JoseError::InvalidJwk("a symmetric key has no public form"));
        }
        let mut out = Map::new();
        for (name, value) in members {
            out.insert(name.to_owned(), Value::String(value));
        }
        self.insert_metadata(&mut out);
        Ok(out)
    }

    /// The private JWK as a JSON object: the key members, the private members (RFC 7518
    /// §6.2.2 and §6.3.2, RFC 8037 §2), then `kid`, `alg`, `use` when set. An `oct` key gives
    /// `kty` and `k` (base64url of the secret). [`JoseError::NotASigningKey`] for a public JWK.
    /// The result holds secrets: print or store it only where the user asked for key material.
    pub fn to_private_json(&self) -> Result<Map<String, Value>, JoseError> {
        let signing = self.signing.as_ref().ok_or(JoseError::NotASigningKey)?;
        let mut out = Map::new();
        // The signing key's own public half, so the document is consistent by construction.
        for (name, value) in public_members(&signing.verifying_key())? {
            out.insert(name.to_owned(), Value::String(value));
        }
        for (name, value) in signing.private_members()? {
            out.insert(name.to_owned(), Value::String(b64::encode(value)));
        }
        self.insert_metadata(&mut out);
        Ok(out)
    }

    fn insert_metadata(&self, out: &mut Map<String, Value>) {
        for (name, value) in [
            ("kid", &self.kid),
            ("alg", &self.alg),
            ("use", &self.key_use),
        ] {
            if let Some(v) = value {
                out.insert(name.to_owned(), Value::String(v.clone()));
            }
        }
    }

    /// RFC 7638 thumbprint (SHA-256, base64url) of this key.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        thumbprint(&self.verifying)
    }
}

impl JwkSet {
    /// Parses a JWKS document (`{"keys": [...]}`). Only a document that is not such an object
    /// is an error; keys that fail to parse are skipped and listed in [`Self::skipped`].
    pub fn parse(json: &str, oct: OctKeyEncoding) -> Result<Self, JoseError> {
        Self::parse_with(json, OctKeys::Use(oct))
    }

    /// Parses a JWKS that anyone can download (a `jwks_uri`), like [`Self::parse`] except that
    /// `oct` keys are dropped before their `k` is even decoded, and only counted
    /// ([`Self::ignored_oct`]). An HMAC key verifies tokens anyone holding it can sign: once
    /// published, it would let every reader of the set mint accepted tokens.
    pub fn parse_published(json: &str) -> Result<Self, JoseError> {
        Self::parse_with(json, OctKeys::Ignore)
    }

    fn parse_with(json: &str, oct: OctKeys) -> Result<Self, JoseError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(JoseError::InvalidJwk("JWKS document too large"));
        }
        // A member named twice is refused as it is in a token: readers keeping the first and
        // readers keeping the last would take different keys (review helper-105).
        let doc = super::json::from_slice(json.as_bytes());
        let doc = Wiped::new(doc.map_err(|_| JoseError::InvalidJwk("not JSON"))?);
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JoseError::InvalidJwk("JWKS has no keys array"))?;
        let mut set = Self::default();
        for (index, entry) in entries.iter().enumerate() {
            let encoding = match oct {
                OctKeys::Ignore if is_oct(entry) => {
                    set.ignored_oct += 1;
                    continue;
                }
                OctKeys::Ignore => OctKeyEncoding::default(),
                OctKeys::Use(encoding) => encoding,
            };
            let public;
            let entry = match entry.as_object() {
                Some(obj)
                    if !is_oct(entry) && PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) =>
                {
                    set.private_ignored.push(index);
                    let mut obj = obj.clone();
                    PRIVATE_MEMBERS.iter().for_each(|m| {
                        if let Some(mut private) = obj.remove(*m) {
                            wipe(&mut private);
                        }
                    });
                    public = Value::Object(obj);
                    &public
                }
                _ => entry,
            };
            match Jwk::from_value(entry, encoding) {
                Ok(jwk) => set.keys.push(jwk),
                Err(error) => set.skipped.push(SkippedKey {
                    index,
                    kid: entry.get("kid").and_then(Value::as_str).map(str::to_owned),
                    error,
                }),
            }
        }
        Ok(set)
    }

    /// A set from keys built in code.
    pub fn from_keys(keys: Vec<Jwk>) -> Self {
        Self {
            keys,
            skipped: Vec::new(),
            ignored_oct: 0,
            private_ignored: Vec::new(),
        }
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// The keys left out, with reasons.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// The positions in the document of the keys whose private members were left unread (the
    /// key kept as its public half).
    pub fn private_ignored(&self) -> &[usize] {
        &self.private_ignored
    }

    /// How many `oct` keys [`Self::parse_published`] dropped (never their `kid` or `k`).
    pub fn ignored_oct(&self) -> usize {
        self.ignored_oct
    }

    /// Keys that may verify a token with this `kid` (when the token has one) and `alg`, in
    /// document order. With no `kid`, every key allowing `alg` is a candidate.
    pub fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
    ) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys
            .iter()
            .filter(move |k| kid.is_none_or(|want| k.kid() == Some(want)) && k.allows(alg))
    }

    /// The public JWKS document (`{"keys": [...]}`); symmetric keys are left out.
    pub fn to_public_json(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter_map(|k| k.to_public_json().ok().map(Value::Object))
            .collect();
        let mut doc = Map::new();
        doc.insert("keys".to_owned(), Value::Array(keys));
        Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set where an RSA key and an `oct` key share `kid` "shared", plus an `oct` key alone.
    fn mixed_set() -> String {
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_public_spki.pem");
        let rsa = VerifyingKey::from_pem(pem, Algorithm::RS256).unwrap();
        let mut rsa = Jwk::from_keys(rsa, None).to_public_json().unwrap();
        rsa.insert("kid".into(), Value::from("shared"));
        serde_json::json!({"keys": [
            {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
            rsa,
            {"kty": "oct", "kid": "hmac-1", "alg": "HS256", "k": "c2VjcmV0"},
            {"kty": "oct", "k": "not base64url!"},
        ]})
        .to_string()
    }

    #[test]
    fn parse_published_drops_and_counts_oct_keys() {
        let set = JwkSet::parse_published(&mixed_set()).unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.ignored_oct(), 3);
        // Dropped unread: even a malformed `k` is not reported as a skipped key.
        assert!(set.skipped().is_empty());
        for kid in [Some("shared"), Some("hmac-1"), None] {
            assert_eq!(set.candidates(kid, Algorithm::HS256).count(), 0, "{kid:?}");
        }
        assert_eq!(set.candidates(Some("shared"), Algorithm::RS256).count(), 1);
    }

    /// Review: a set holding private keys had them parsed as signing keys (an RSA key's private
    /// checks and a signature each, on every fetch). A set only verifies: the private members
    /// are left unread, the key kept as its public half, and the set says which.
    #[test]
    fn a_set_reads_private_keys_as_their_public_half() {
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        let rsa = SigningKey::parse_pem(pem).unwrap();
        let mut private = Jwk::from_keys(rsa.verifying_key(), Some(rsa))
            .to_private_json()
            .unwrap();
        private.insert("kid".into(), Value::from("leaked"));
        // A private member that would not even parse is left unread too.
        private.insert("dp".into(), Value::from("not base64url!"));
        let public = Jwk::from_keys(
            VerifyingKey::from_pem(
                include_str!("../../../tests/fixtures/jose/ed25519_public_spki.pem"),
                Algorithm::EdDSA,
            )
            .unwrap(),
            None,
        )
        .to_public_json()
        .unwrap();
        let doc = serde_json::json!({"keys": [public, private]}).to_string();
        let published = JwkSet::parse_published(&doc).unwrap();
        let configured = JwkSet::parse(&doc, OctKeyEncoding::Base64Url).unwrap();
        for set in [published, configured] {
            assert_eq!(set.keys().len(), 2);
            assert!(set.skipped().is_empty());
            assert_eq!(set.private_ignored(), [1]);
            let leaked = set
                .candidates(Some("leaked"), Algorithm::RS256)
                .next()
                .unwrap();
            assert!(leaked.signing_key().is_none());
            assert!(set.keys().iter().all(|k| k.signing_key().is_none()));
        }
    }

    #[test]
    fn parse_configured_set_keeps_oct_keys() {
        let set = JwkSet::parse(&mixed_set(), OctKeyEncoding::Base64Url).unwrap();
        assert_eq!(set.keys().len(), 3);
        assert_eq!(set.ignored_oct(), 0);
        assert_eq!(set.skipped().len(), 1);
        assert_eq!(set.candidates(Some("shared"), Algorithm::HS256).count(), 1);
    }

    /// A JWKS naming a member twice is no set (review helper-105: `"use":"enc",…,"use":"sig"`
    /// and two `n` verified by the last, which a first-wins reader reads otherwise).
    #[test]
    fn parse_refuses_a_member_named_twice_anywhere() {
        let k = r#""kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0""#;
        for text in [
            format!(r#"{{"keys":[{{{k},"use":"enc","use":"sig"}}]}}"#),
            format!(r#"{{"keys":[{{{k},"kid":"a","kid":"b"}}]}}"#),
            format!(r#"{{"keys":[],"keys":[{{{k}}}]}}"#),
        ] {
            let got = JwkSet::parse(&text, OctKeyEncoding::Base64Url);
            assert_eq!(got.err(), Some(JoseError::InvalidJwk("not JSON")), "{text}");
        }
        let once = format!(r#"{{"keys":[{{{k},"use":"sig"}}]}}"#);
        assert_eq!(
            JwkSet::parse(&once, OctKeyEncoding::Base64Url).map(|s| s.keys().len()),
            Ok(1)
        );
    }

    fn oct_with(extra: Value) -> Result<Jwk, JoseError> {
        let mut jwk = serde_json::json!({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"});
        if let (Some(obj), Value::Object(more)) = (jwk.as_object_mut(), extra) {
            obj.extend(more);
        }
        Jwk::from_value(&jwk, OctKeyEncoding::Base64Url)
    }

    /// RFC 7517 §4.3: `key_ops` restricts a key to the operations it names.
    #[test]
    fn key_ops_restrict_signing_and_verifying() {
        let key = |ops: Value| oct_with(serde_json::json!({"key_ops": ops})).unwrap();
        let both = key(serde_json::json!(["sign", "verify"]));
        assert!(both.may_sign() && both.allows(Algorithm::HS256));
        let verify = key(serde_json::json!(["verify"]));
        assert!(!verify.may_sign() && verify.allows(Algorithm::HS256));
        let sign = key(serde_json::json!(["sign"]));
        assert!(sign.may_sign() && !sign.allows(Algorithm::HS256));
        let other = key(serde_json::json!(["encrypt", "wrapKey"]));
        assert!(!other.may_sign() && !other.allows(Algorithm::HS256));
        let none = key(serde_json::json!([]));
        assert!(!none.may_sign() && !none.allows(Algorithm::HS256));
        let absent = oct_with(serde_json::json!({})).unwrap();
        assert!(absent.may_sign() && absent.allows(Algorithm::HS256));
        // `use: enc` is no signature key either way.
        let enc = oct_with(serde_json::json!({"use": "enc"})).unwrap();
        assert!(!enc.may_sign() && !enc.allows(Algorithm::HS256));
    }

    #[test]
    fn key_ops_must_be_distinct_strings() {
        for ops in [
            serde_json::json!("sign"),
            serde_json::json!(["sign", "sign"]),
            serde_json::json!(["sign", 1]),
            serde_json::json!({"sign": true}),
        ] {
            let got = oct_with(serde_json::json!({"key_ops": ops.clone()}));
            assert_eq!(
                got.err(),
                Some(JoseError::InvalidJwk(
                    "key_ops must be an array of distinct strings"
                )),
                "{ops}"
            );
        }
    }
}
