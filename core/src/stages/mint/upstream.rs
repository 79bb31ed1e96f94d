//! kong-upstream-jwt: a gateway-signed token for the upstream, carrying `payloadhash` (SHA-256
//! of the exact body the upstream receives) so it can tell the request came through untouched.
//! Fixed where the plugin was not: `x5c` is standard base64 DER of the whole chain with
//! `x5t#S256`, and a missing or bad key refuses the configuration.

use super::jti::new_jti;
use super::keys::{self, Signer};
use crate::config::{ConfigError, EmptyBodyHash, Env, UpstreamJwtSection, X5cFormat};
use crate::jose::{self, Algorithm, EncodedHeader, JwsHeader, OctKeyEncoding, VerifyingKey};
use crate::stages::auth::Identity;
use crate::stages::{Refusal, Request};
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The compiled `upstream_jwt` section.
#[derive(Debug, Clone)]
pub struct UpstreamJwt {
    issuer: Option<String>,
    /// The header that carries the token (lower-case).
    pub(crate) header: String,
    bearer_prefix: bool,
    /// The tokens' JOSE header (`alg`, `typ`, `kid`, `x5c`), the same for every token.
    jws_header: EncodedHeader,
    expires_in: u64,
    bind_request: bool,
    empty_body: EmptyBodyHash,
    /// Largest body hashed; more is answered with 413.
    pub max_body_bytes: u64,
    /// The signing key.
    pub signer: Signer,
}

impl UpstreamJwt {
    /// The claims of this stage's tokens that say what the gateway verified of the request
    /// (a `custom_jwt` token must never carry them: see [`super::CustomJwt::reserve`]).
    pub fn own_claims(&self) -> Vec<String> {
        let mut names = vec!["consumerid", "consumername", "payloadhash"];
        if self.bind_request {
            names.extend(["method", "path", "queryhash"]);
        }
        names.into_iter().map(String::from).collect()
    }
}

/// Compiles the section: the key must parse and suit `algorithm`; `x5c` needs a certificate.
///
/// The key is `private_key` or the environment variable `private_key_env` names (exactly one
/// of the two); the certificate, while `x5c` is on, `certificate` or `certificate_env` (exactly
/// one). A variable is read through `env` once, here, and must be set and not empty; it holds
/// PEM text or the standard base64 of DER (a PKCS#8, PKCS#1 or SEC1 key; one certificate, as
/// in a `.cer` file), as kong-upstream-jwt's `KONG_SSL_CERT_KEY` / `KONG_SSL_CERT_DER` files.
pub fn compile(section: &UpstreamJwtSection, env: Env) -> Result<UpstreamJwt, ConfigError> {
    let alg: Algorithm = section
        .algorithm
        .parse()
        .map_err(|_| ConfigError::new("upstream_jwt.algorithm", "unknown algorithm"))?;
    let mut signer = signer(section, alg, env)?;
    if let Some(kid) = &section.key_id {
        signer.kid = Some(kid.clone());
        if let Some(Value::Object(jwk)) = signer.public_jwk.as_mut() {
            jwk.insert("kid".into(), Value::from(kid.clone()));
        }
    }
    let chain = if section.x5c {
        let chain = certificate_chain(section, env)?;
        certifies_signer(&chain, &signer, section)?;
        Some(chain)
    } else {
        None
    };
    let expires_in = super::lifetime(section.expires_in, "upstream_jwt.expires_in")?;
    if section.max_body_bytes == 0 {
        return Err(ConfigError::new(
            "upstream_jwt.max_body_bytes",
            "must be greater than 0",
        ));
    }
    let jws_header = EncodedHeader::new(&jws_header(&signer, chain.as_deref(), section.x5c_format))
        .map_err(|_| ConfigError::new("upstream_jwt", "the token header cannot be encoded"))?;
    Ok(UpstreamJwt {
        issuer: section.issuer.clone(),
        header: section.header.to_ascii_lowercase(),
        bearer_prefix: section.include_credential_type,
        jws_header,
        expires_in,
        bind_request: section.bind_request,
        empty_body: section.empty_body_payloadhash,
        max_body_bytes: section.max_body_bytes,
        signer,
    })
}

/// The header of every token: `alg`, `typ`, `kid` when known and, with `x5c`, the chain as
/// RFC 7515 has it (with `x5t#S256`) or the plugin's leaf alone in base64url.
fn jws_header(signer: &Signer, chain: Option<&[Vec<u8>]>, format: X5cFormat) -> JwsHeader {
    let mut header = JwsHeader::new(signer.alg);
    if let Some(kid) = &signer.kid {
        header = header.with_kid(kid.clone());
    }
    match (chain, format) {
        (Some(chain), X5cFormat::Rfc7515) => header.with_certificate_chain(chain),
        (Some(chain), X5cFormat::Plugin) => {
            header.x5c = chain.first().map(|leaf| vec![jose::b64::encode(leaf)]);
            header
        }
        (None, _) => header,
    }
}

/// Refuses an `x5c` chain whose leaf names another key than the signer's: every token would
/// carry a certificate that does not verify it, and upstreams checking `x5c` would refuse all.
fn certifies_signer(
    chain: &[Vec<u8>],
    signer: &Signer,
    section: &UpstreamJwtSection,
) -> Result<(), ConfigError> {
    let path = if section.certificate_env.is_some() {
        "upstream_jwt.certificate_env"
    } else {
        "upstream_jwt.certificate"
    };
    // The leaf's key verifies a signature the signer makes: the verifiers' own check, and no
    // key encoder in the module for one comparison at load.
    let probe = b"jwt-relay: does the x5c leaf certify the signing key?";
    let leaf = chain
        .first()
        .and_then(|der| VerifyingKey::parse_der(der).ok());
    let signature = signer.key.sign(signer.alg, probe).ok();
    match (leaf, signature) {
        (Some(leaf), Some(sig)) if leaf.verify(signer.alg, probe, &sig).is_ok() => Ok(()),
        _ => Err(ConfigError::new(
            path,
            "the first certificate's public key is not the signing key's",
        )),
    }
}

/// The signing key from `private_key` or `private_key_env`.
fn signer(section: &UpstreamJwtSection, alg: Algorithm, env: Env) -> Result<Signer, ConfigError> {
    let kid = section.key_id.clone();
    match (&section.private_key, &section.private_key_env) {
        (Some(key), None) => {
            let path = "upstream_jwt.private_key";
            match key.expose() {
                Value::String(text) if text.contains("-----BEGIN") => {
                    keys::from_pem(text, alg, kid, path)
                }
                other => keys::from_jwk(other, Some(alg), OctKeyEncoding::Base64Url, path),
            }
        }
        (None, Some(name)) => {
            let path = "upstream_jwt.private_key_env";
            let text = env_value(name, env, path)?;
            let in_var = |e: ConfigError| {
                ConfigError::new(path, format!("{}: {}", variable(name), e.problem))
            };
            if text.contains("-----BEGIN") {
                keys::from_pem(&text, alg, kid, path).map_err(in_var)
            } else {
                let der = base64_der(&text, name, path)?;
                keys::from_der(&der, alg, kid, path).map_err(in_var)
            }
        }
        (None, None) => Err(ConfigError::new(
            "upstream_jwt.private_key",
            "missing: give private_key or private_key_env",
        )),
        (Some(_), Some(_)) => Err(ConfigError::new(
            "upstream_jwt.private_key_env",
            "give private_key or private_key_env, not both",
        )),
    }
}

/// The `x5c` chain from `certificate` or `certificate_env`.
fn certificate_chain(section: &UpstreamJwtSection, env: Env) -> Result<Vec<Vec<u8>>, ConfigError> {
    match (&section.certificate, &section.certificate_env) {
        (Some(pem), None) => keys::chain(pem, "upstream_jwt.certificate"),
        (None, Some(name)) => {
            let path = "upstream_jwt.certificate_env";
            let text = env_value(name, env, path)?;
            let in_var = |e: ConfigError| {
                ConfigError::new(path, format!("{}: {}", variable(name), e.problem))
            };
            if text.contains("-----BEGIN") {
                keys::chain(&text, path).map_err(in_var)
            } else {
                let der = base64_der(&text, name, path)?;
                keys::certificate_der(&der, path).map_err(in_var)
            }
        }
        (None, None) => Err(ConfigError::new(
            "upstream_jwt.certificate",
            "required while x5c is true (or certificate_env)",
        )),
        (Some(_), Some(_)) => Err(ConfigError::new(
            "upstream_jwt.certificate_env",
            "give certificate or certificate_env, not both",
        )),
    }
}

/// The value of environment variable `name`: set and not blank. A `name` that cannot be a
/// variable's name (a PEM, a base64 key: the value given where its name goes) is refused
/// without being repeated, since the refusal is logged.
fn env_value(name: &str, env: Env, path: &str) -> Result<Zeroizing<String>, ConfigError> {
    if !is_env_name(name) {
        return Err(ConfigError::new(
            path,
            "must name an environment variable (letters, digits, '_', '.', '-'), not hold its value",
        ));
    }
    let value = env(name)
        .map(Zeroizing::new)
        .ok_or_else(|| ConfigError::new(path, format!("{} is not set", variable(name))))?;
    if value.trim().is_empty() {
        return Err(ConfigError::new(
            path,
            format!("{} is empty", variable(name)),
        ));
    }
    Ok(value)
}

/// How a refusal names variable `name`, which it logs: by its name when that reads as a
/// conventional one (upper-case letters, digits and `_`, at most 64 bytes: `KONG_SSL_CERT_KEY`),
/// else without it, since a base64 key pasted where the name goes passes [`is_env_name`].
fn variable(name: &str) -> String {
    let conventional = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_';
    if name.len() <= 64 && name.bytes().all(conventional) {
        format!("environment variable {name}")
    } else {
        "the environment variable it names".to_string()
    }
}

/// A plausible environment variable name: ASCII letters, digits, `_`, `.` and `-`, not
/// starting with a digit or `-`, at most 256 bytes.
fn is_env_name(name: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    match name.as_bytes().first() {
        Some(first) if !first.is_ascii_digit() && *first != b'-' => {
            name.len() <= 256 && name.bytes().all(allowed)
        }
        _ => false,
    }
}

/// Standard base64 (whitespace and line breaks ignored) of DER. A value that looks like a file
/// path (kong-upstream-jwt's variables held paths) is refused as such: a filter cannot read files.
fn base64_der(text: &str, name: &str, path: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
    let trimmed = text.trim();
    if trimmed.starts_with('/') && trimmed.contains('.') && !trimmed.contains(char::is_whitespace) {
        return Err(ConfigError::new(
            path,
            format!(
                "{} holds a file path: the filter cannot read files, put the PEM text or the \
                 base64 of the DER in the variable",
                variable(name)
            ),
        ));
    }
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| {
            ConfigError::new(
                path,
                format!(
                    "{} holds neither PEM nor standard base64 DER",
                    variable(name)
                ),
            )
        })
}

/// Lower-case hex, digit by digit (a `format!` per byte showed in an HS256 mint's profile).
pub fn hex(bytes: &[u8]) -> String {
    let digit = |nibble: u8| {
        char::from(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' - 10 + nibble
        })
    };
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0xf));
    }
    out
}

impl UpstreamJwt {
    /// The header and value carrying the token; `payload_hash` is the body's SHA-256, `None`
    /// for an empty body (see [`Self::payloadhash`]).
    pub fn mint(
        &self,
        req: &Request,
        identity: Option<&Identity>,
        payload_hash: Option<&[u8]>,
    ) -> Result<(String, String), Refusal> {
        let claims = self.claims(req, identity, payload_hash)?;
        let token = jose::jws::sign_encoded(&self.jws_header, &claims, &self.signer.key)
            .map_err(|_| Refusal::MintFailed)?;
        let value = if self.bearer_prefix {
            format!("Bearer {token}")
        } else {
            token
        };
        Ok((self.header.clone(), value))
    }

    /// `payloadhash`: lower-case hex of the body's SHA-256; for an empty body (`None`) `""`
    /// as the plugin's code sends it, or with `empty_body_payloadhash: "sha256"` the hex
    /// SHA-256 of the empty string.
    pub fn payloadhash(&self, payload_hash: Option<&[u8]>) -> String {
        match (payload_hash, self.empty_body) {
            (Some(hash), _) => hex(hash),
            (None, EmptyBodyHash::Empty) => String::new(),
            (None, EmptyBodyHash::Sha256) => hex(&Sha256::digest(b"")),
        }
    }

    /// The claims, as the plugin's: `iss` and `iat` only when `issuer` is set; `exp`, `jti`;
    /// `aud` when the host names the service; `consumerid` and `consumername` of an
    /// authenticated consumer, each when the consumer has it; `payloadhash`; with
    /// `bind_request`, `method`, `path` and `queryhash`.
    fn claims(
        &self,
        req: &Request,
        identity: Option<&Identity>,
        payload_hash: Option<&[u8]>,
    ) -> Result<Map<String, Value>, Refusal> {
        let mut claims = Map::new();
        if let Some(iss) = &self.issuer {
            claims.insert("iss".into(), Value::from(iss.clone()));
            claims.insert("iat".into(), Value::from(req.now));
        }
        claims.insert(
            "exp".into(),
            Value::from(req.now.saturating_add(self.expires_in)),
        );
        let jti = new_jti().map_err(|_| Refusal::MintFailed)?;
        claims.insert("jti".into(), Value::from(jti));
        if let Some(service) = &req.service {
            claims.insert("aud".into(), Value::from(service.clone()));
        }
        if let Some(c) = identity.and_then(|i| i.consumer.as_ref()) {
            if let Some(id) = &c.id {
                claims.insert("consumerid".into(), Value::from(id.clone()));
            }
            if let Some(name) = &c.username {
                claims.insert("consumername".into(), Value::from(name.clone()));
            }
        }
        claims.insert(
            "payloadhash".into(),
            Value::from(self.payloadhash(payload_hash)),
        );
        if self.bind_request {
            claims.insert("method".into(), Value::from(req.method.clone()));
            claims.insert("path".into(), Value::from(req.path_only()));
            claims.insert(
                "queryhash".into(),
                Value::from(hex(&Sha256::digest(req.query().as_bytes()))),
            );
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{pem, VerifyingKey};
    use crate::stages::auth::{Consumer, Via};
    use serde_json::json;

    const KEY_PEM: &str = include_str!("../../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
    const PKCS1_PEM: &str = include_str!("../../../../tests/fixtures/jose/rsa2048_pkcs1.pem");
    const PUBLIC_PEM: &str =
        include_str!("../../../../tests/fixtures/jose/rsa2048_public_spki.pem");
    const CERT_PEM: &str = include_str!("../../../../tests/fixtures/jose/rsa2048_cert.pem");
    const CHAIN_PEM: &str = include_str!("../../../../tests/fixtures/jose/ec_p256_chain.pem");

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn section(json: serde_json::Value) -> UpstreamJwtSection {
        serde_json::from_value(json).unwrap()
    }

    fn compiled(json: serde_json::Value) -> UpstreamJwt {
        compile(&section(json), &no_env).unwrap()
    }

    fn err_with(json: serde_json::Value, env: Env) -> String {
        compile(&section(json), env).unwrap_err().to_string()
    }

    fn request() -> Request {
        Request {
            method: "POST".into(),
            path: "/p?q=1".into(),
            now: 1_700_000_000,
            ..Request::default()
        }
    }

    fn identity(id: Option<&str>, username: Option<&str>) -> Identity {
        Identity {
            consumer: Some(Consumer {
                id: id.map(str::to_string),
                username: username.map(str::to_string),
                custom_id: Some("cust".into()),
            }),
            credential: Some("cred".into()),
            via: Via::Anonymous,
        }
    }

    /// The claims of a minted token, its signature checked with `public` when given.
    fn minted(
        up: &UpstreamJwt,
        identity: Option<&Identity>,
        hash: Option<&[u8]>,
    ) -> (Map<String, Value>, jose::jws::Jws) {
        let (name, token) = up.mint(&request(), identity, hash).unwrap();
        assert_eq!(name, "jwt");
        let jws = jose::jws::parse(&token).unwrap();
        (jws.claims().clone(), jws)
    }

    fn der_base64(pem_text: &str) -> String {
        let der = pem::parse_single(pem_text).unwrap().der.to_vec();
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xf0, 0xff, 0xab]), "000ff0ffab");
        for b in 0..=255u8 {
            assert_eq!(hex(&[b]), format!("{b:02x}"));
        }
    }

    #[test]
    fn claims_iat_and_iss_only_with_issuer() {
        let plain = compiled(json!({"private_key": KEY_PEM, "x5c": false}));
        let (claims, _) = minted(&plain, None, None);
        let mut keys: Vec<&str> = claims.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["exp", "jti", "payloadhash"]);
        assert_eq!(claims["exp"], 1_700_000_060);

        let issued = compiled(json!({"private_key": KEY_PEM, "x5c": false, "issuer": "kong"}));
        let (claims, _) = minted(&issued, None, None);
        assert_eq!(
            (&claims["iss"], &claims["iat"]),
            (&json!("kong"), &json!(1_700_000_000))
        );
        // An empty issuer still adds both, as `""` is truthy in Lua.
        let empty = compiled(json!({"private_key": KEY_PEM, "x5c": false, "issuer": ""}));
        let (claims, _) = minted(&empty, None, None);
        assert_eq!(
            (&claims["iss"], &claims["iat"]),
            (&json!(""), &json!(1_700_000_000))
        );
    }

    #[test]
    fn payloadhash_of_empty_body_is_empty_by_default_or_sha256() {
        let hash: [u8; 32] = Sha256::digest(b"abc").into();
        let abc = hex(&hash);
        let empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let default = compiled(json!({"private_key": KEY_PEM, "x5c": false}));
        assert_eq!(minted(&default, None, None).0["payloadhash"], "");
        assert_eq!(
            minted(&default, None, Some(&hash)).0["payloadhash"],
            json!(abc)
        );
        let sha = compiled(
            json!({"private_key": KEY_PEM, "x5c": false, "empty_body_payloadhash": "sha256"}),
        );
        assert_eq!(minted(&sha, None, None).0["payloadhash"], empty_sha);
        assert_eq!(minted(&sha, None, Some(&hash)).0["payloadhash"], json!(abc));
        let bad =
            serde_json::from_value::<UpstreamJwtSection>(json!({"empty_body_payloadhash": "none"}));
        assert!(bad.is_err());
    }

    #[test]
    fn claims_consumer_id_and_name_each_when_known() {
        let up = compiled(json!({"private_key": KEY_PEM, "x5c": false}));
        let (claims, _) = minted(&up, Some(&identity(Some("c-1"), Some("alice"))), None);
        assert_eq!(
            (&claims["consumerid"], &claims["consumername"]),
            (&json!("c-1"), &json!("alice"))
        );
        assert!(claims.get("custom_id").is_none() && claims.get("sub").is_none());
        let (claims, _) = minted(&up, Some(&identity(Some("c-2"), None)), None);
        assert_eq!(claims["consumerid"], "c-2");
        assert!(claims.get("consumername").is_none());
        let (claims, _) = minted(&up, Some(&identity(None, Some("bob"))), None);
        assert!(claims.get("consumerid").is_none());
        assert_eq!(claims["consumername"], "bob");
        let (claims, _) = minted(&up, None, None);
        assert!(claims.get("consumerid").is_none() && claims.get("consumername").is_none());
    }

    #[test]
    fn keys_from_environment_pem_or_base64_der() {
        let public = VerifyingKey::parse_pem(PUBLIC_PEM).unwrap();
        let cert_der = pem::parse_certificate_chain(CERT_PEM).unwrap();
        for (key, cert) in [
            (KEY_PEM.to_string(), CERT_PEM.to_string()),
            (der_base64(KEY_PEM), der_base64(CERT_PEM)),
            (
                der_base64(PKCS1_PEM),
                format!("\n{}\n", der_base64(CERT_PEM)),
            ),
        ] {
            let env = move |name: &str| match name {
                "KONG_SSL_CERT_KEY" => Some(key.clone()),
                "KONG_SSL_CERT_DER" => Some(cert.clone()),
                _ => None,
            };
            let up = compile(
                &section(json!({"private_key_env": "KONG_SSL_CERT_KEY",
                                "certificate_env": "KONG_SSL_CERT_DER"})),
                &env,
            )
            .unwrap();
            let (_, jws) = minted(&up, None, None);
            jws.verify(&public).unwrap();
            let want: Vec<String> = cert_der
                .iter()
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                .collect();
            assert_eq!(jws.header().json()["x5c"], json!(want));
        }
    }

    #[test]
    fn x5c_plugin_format_is_the_leaf_in_base64url_without_thumbprint() {
        let der = crate::jose::pem::parse_blocks(CERT_PEM).unwrap()[0]
            .der
            .clone();
        let rfc = compiled(json!({"private_key": KEY_PEM, "certificate": CERT_PEM}));
        let (_, jws) = minted(&rfc, None, None);
        let header = jws.header().json();
        assert_eq!(
            header["x5c"],
            json!([base64::engine::general_purpose::STANDARD.encode(&der)])
        );
        assert!(header.get("x5t#S256").is_some());
        let plugin = compiled(json!({"private_key": KEY_PEM, "certificate": CERT_PEM,
                                     "x5c_format": "plugin"}));
        let (_, jws) = minted(&plugin, None, None);
        let header = jws.header().json();
        assert_eq!(header["x5c"], json!([crate::jose::b64::encode(&der)]));
        assert!(header.get("x5t#S256").is_none());
    }

    #[test]
    fn certificate_env_may_hold_a_pem_chain() {
        let env = |name: &str| (name == "CHAIN").then(|| CHAIN_PEM.to_string());
        let ec_key = include_str!("../../../../tests/fixtures/jose/ec_p256_pkcs8.pem");
        let up = compile(
            &section(
                json!({"private_key": ec_key, "algorithm": "ES256", "certificate_env": "CHAIN"}),
            ),
            &env,
        )
        .unwrap();
        let (_, jws) = minted(&up, None, None);
        let chain = jws.header().json()["x5c"].as_array().map(Vec::len);
        assert_eq!(chain, Some(2));
    }

    /// A leaf certificate of another key (the EC chain, the mTLS server's RSA certificate), or
    /// an HMAC secret, would put in every token a chain that does not verify it.
    #[test]
    fn a_certificate_of_another_key_refuses_the_configuration() {
        let mtls = include_str!("../../../../tests/fixtures/jose/mtls_server_cert.pem");
        let env = |name: &str| (name == "CHAIN").then(|| CHAIN_PEM.to_string());
        let refused = ": the first certificate's public key is not the signing key's";
        for (config, path) in [
            (
                json!({"private_key": KEY_PEM, "certificate": mtls}),
                "upstream_jwt.certificate",
            ),
            (
                json!({"private_key": KEY_PEM, "certificate": CHAIN_PEM}),
                "upstream_jwt.certificate",
            ),
            (
                json!({"private_key": KEY_PEM, "certificate_env": "CHAIN"}),
                "upstream_jwt.certificate_env",
            ),
            (
                json!({"private_key": {"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
                    "algorithm": "HS256", "certificate": CERT_PEM}),
                "upstream_jwt.certificate",
            ),
        ] {
            let err = compile(&section(config.clone()), &env)
                .err()
                .map(|e| e.to_string());
            assert_eq!(err, Some(format!("{path}{refused}")), "{config}");
        }
        // The leaf of the chain certifies the EC key; the RSA certificate the RSA key.
        assert!(compile(
            &section(json!({"private_key": KEY_PEM, "certificate": CERT_PEM})),
            &env
        )
        .is_ok());
    }

    #[test]
    fn expires_in_is_from_one_second_to_a_year() {
        let with = |seconds: u64| {
            let config = json!({"private_key": KEY_PEM, "x5c": false, "expires_in": seconds});
            compile(&section(config), &no_env)
                .err()
                .map(|e| e.to_string())
        };
        let refused =
            Some("upstream_jwt.expires_in: must be from 1 to 31536000 seconds".to_string());
        assert_eq!(with(0), refused);
        assert_eq!(with(31_536_001), refused);
        assert_eq!(with(u64::MAX), refused);
        assert_eq!(with(1), None);
        assert_eq!(with(31_536_000), None);
    }

    #[test]
    fn keys_from_environment_refused_with_path_and_problem() {
        let key_only =
            |value: &'static str| move |name: &str| (name == "K").then(|| value.to_string());
        for (json, env, problem) in [
            (
                json!({"private_key_env": "KONG_SSL_CERT_KEY", "x5c": false}),
                &no_env as Env,
                "upstream_jwt.private_key_env: environment variable KONG_SSL_CERT_KEY is not set",
            ),
            (
                json!({"private_key_env": "K", "x5c": false}),
                &key_only(" \n"),
                "upstream_jwt.private_key_env: environment variable K is empty",
            ),
            (
                json!({"private_key_env": "K", "x5c": false}),
                &key_only("not base64!"),
                "upstream_jwt.private_key_env: environment variable K holds neither PEM nor standard base64 DER",
            ),
            (
                json!({"private_key_env": "K", "x5c": false}),
                &key_only("/etc/kong/ssl/key.pem"),
                "upstream_jwt.private_key_env: environment variable K holds a file path: the filter cannot read files, put the PEM text or the base64 of the DER in the variable",
            ),
            (
                json!({"private_key_env": "", "x5c": false}),
                &no_env,
                "upstream_jwt.private_key_env: must name an environment variable (letters, digits, '_', '.', '-'), not hold its value",
            ),
            // The key itself where its variable's name goes: refused without repeating it
            // (review: the whole PEM was in the logged refusal).
            (
                json!({"private_key_env": KEY_PEM, "x5c": false}),
                &no_env,
                "upstream_jwt.private_key_env: must name an environment variable (letters, digits, '_', '.', '-'), not hold its value",
            ),
            (
                json!({"private_key": KEY_PEM, "certificate_env": "MIIB+x/y=="}),
                &no_env,
                "upstream_jwt.certificate_env: must name an environment variable (letters, digits, '_', '.', '-'), not hold its value",
            ),
            (
                json!({"x5c": false}),
                &no_env,
                "upstream_jwt.private_key: missing: give private_key or private_key_env",
            ),
            (
                json!({"private_key": KEY_PEM, "private_key_env": "K", "x5c": false}),
                &key_only(KEY_PEM),
                "upstream_jwt.private_key_env: give private_key or private_key_env, not both",
            ),
            (
                json!({"private_key": KEY_PEM}),
                &no_env,
                "upstream_jwt.certificate: required while x5c is true (or certificate_env)",
            ),
            (
                json!({"private_key": KEY_PEM, "certificate_env": "KONG_SSL_CERT_DER"}),
                &no_env,
                "upstream_jwt.certificate_env: environment variable KONG_SSL_CERT_DER is not set",
            ),
            (
                json!({"private_key": KEY_PEM, "certificate": CERT_PEM, "certificate_env": "K"}),
                &key_only(CERT_PEM),
                "upstream_jwt.certificate_env: give certificate or certificate_env, not both",
            ),
        ] {
            assert_eq!(err_with(json, env), problem);
        }
        // The key's own problem, under the variable's name.
        let public_key = |name: &str| (name == "K").then(|| PUBLIC_PEM.to_string());
        let err = err_with(json!({"private_key_env": "K", "x5c": false}), &public_key);
        assert!(
            err.starts_with("upstream_jwt.private_key_env: environment variable K: "),
            "{err}"
        );
        let garbage_der = |name: &str| (name == "K").then(|| "AAAA".to_string());
        let err = err_with(
            json!({"private_key": KEY_PEM, "certificate_env": "K"}),
            &garbage_der,
        );
        assert!(
            err.starts_with("upstream_jwt.certificate_env: environment variable K: "),
            "{err}"
        );
    }

    #[test]
    fn x5c_off_reads_no_certificate_variable() {
        let up =
            compiled(json!({"private_key": KEY_PEM, "x5c": false, "certificate_env": "UNSET"}));
        let (_, jws) = minted(&up, None, None);
        assert!(jws.header().json().get("x5c").is_none());
    }
}
