//! Kong's jwt plugin: find the token, decode it, map its key claim to a credential, check the
//! algorithm and signature, then the registered claims. Plus ours: JWKS keys, leeway, issuer and
//! audience allow-lists, and a verified-token cache.

use super::cache::{self, TokenCache, Verified};
use super::consumers::{ConsumerRef, Consumers};
use super::denial::{Challenge, Denial};
use super::identity::{Identity, Via};
use super::remote_jwks::{self, RemoteJwks};
use super::token::{Found, TokenLocations};
use crate::config::{ConfigError, ConsumerSection, JwtSection, RegisteredClaim};
use crate::jose::{self, Algorithm, JoseError, JwkSet, Jws, OctKeyEncoding, VerifyingKey};
use crate::stages::events::Event;
use crate::stages::Request;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A `jwt_secrets` credential, its key parsed once.
#[derive(Debug, Clone)]
pub struct JwtCredential {
    consumer: ConsumerRef,
    algorithm: Algorithm,
    key: VerifyingKey,
}

/// The compiled `jwt` section.
#[derive(Debug, Clone)]
pub struct JwtAuth {
    locations: TokenLocations,
    verify_exp: bool,
    verify_nbf: bool,
    key_claim: String,
    /// The consumer used when authentication fails.
    pub anonymous: Option<ConsumerRef>,
    run_on_preflight: bool,
    maximum_expiration: u64,
    realm: Option<String>,
    credentials: HashMap<String, JwtCredential>,
    jwks: Option<JwkSet>,
    /// The remote JWKS, when `jwks_uri` is set.
    pub remote: Option<RemoteJwks>,
    leeway: u64,
    issuers: Vec<String>,
    audiences: Vec<String>,
    claims_to_headers: Vec<(Vec<String>, String)>,
}

/// Compiles the section; `consumers` are the raw sections (credentials) and their registry.
pub fn compile(
    section: &JwtSection,
    raw_consumers: &[ConsumerSection],
    consumers: &Consumers,
) -> Result<JwtAuth, ConfigError> {
    let verify_exp = section.claims_to_verify.contains(&RegisteredClaim::Exp);
    if section.maximum_expiration > 0 && !verify_exp {
        return Err(ConfigError::new(
            "jwt.maximum_expiration",
            "needs \"exp\" in jwt.claims_to_verify",
        ));
    }
    let anonymous = match &section.anonymous {
        Some(a) => Some(consumers.find(a).ok_or_else(|| {
            ConfigError::new(
                "jwt.anonymous",
                format!("no consumer has id or username {a:?}"),
            )
        })?),
        None => None,
    };
    let jwks = match &section.jwks {
        Some(doc) => Some(
            JwkSet::parse(&doc.to_string(), OctKeyEncoding::Base64Url)
                .map_err(|e| ConfigError::new("jwt.jwks", e.to_string()))?,
        ),
        None => None,
    };
    Ok(JwtAuth {
        locations: TokenLocations {
            uri_param_names: section.uri_param_names.clone(),
            cookie_names: section.cookie_names.clone(),
            header_names: section
                .header_names
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        },
        verify_exp,
        verify_nbf: section.claims_to_verify.contains(&RegisteredClaim::Nbf),
        key_claim: section.key_claim_name.clone(),
        anonymous,
        run_on_preflight: section.run_on_preflight,
        maximum_expiration: section.maximum_expiration,
        realm: section.realm.clone(),
        credentials: compile_credentials(raw_consumers, section.secret_is_base64)?,
        jwks,
        remote: section
            .jwks_uri
            .as_ref()
            .map(remote_jwks::compile)
            .transpose()?,
        leeway: section.leeway_seconds,
        issuers: section.issuers.clone(),
        audiences: section.audiences.clone(),
        claims_to_headers: section
            .claims_to_headers
            .iter()
            .map(|c| {
                (
                    c.claim.split('.').map(str::to_string).collect(),
                    c.header.to_ascii_lowercase(),
                )
            })
            .collect(),
    })
}

fn compile_credentials(
    raw: &[ConsumerSection],
    secret_is_base64: bool,
) -> Result<HashMap<String, JwtCredential>, ConfigError> {
    let mut map = HashMap::new();
    for (i, consumer) in raw.iter().enumerate() {
        for (j, secret) in consumer.jwt_secrets.iter().enumerate() {
            let path = format!("consumers[{i}].jwt_secrets[{j}]");
            let key = secret
                .key
                .clone()
                .ok_or_else(|| ConfigError::new(format!("{path}.key"), "missing field"))?;
            let algorithm: Algorithm = secret
                .algorithm
                .as_deref()
                .unwrap_or("HS256")
                .parse()
                .map_err(|_| ConfigError::new(format!("{path}.algorithm"), "unknown algorithm"))?;
            let verifying = credential_key(secret, algorithm, secret_is_base64, &path)?;
            let credential = JwtCredential {
                consumer: Consumers::at(i),
                algorithm,
                key: verifying,
            };
            if map.insert(key, credential).is_some() {
                return Err(ConfigError::new(
                    format!("{path}.key"),
                    "duplicate credential key",
                ));
            }
        }
    }
    Ok(map)
}

fn credential_key(
    secret: &crate::config::JwtSecretSection,
    alg: Algorithm,
    secret_is_base64: bool,
    path: &str,
) -> Result<VerifyingKey, ConfigError> {
    if alg.name().starts_with("HS") {
        let text = secret
            .secret
            .as_ref()
            .ok_or_else(|| {
                ConfigError::new(
                    format!("{path}.secret"),
                    format!("required for {}", alg.name()),
                )
            })?
            .expose();
        let bytes = if secret_is_base64 {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| {
                    ConfigError::new(
                        format!("{path}.secret"),
                        "not valid base64 (jwt.secret_is_base64 is on)",
                    )
                })?
        } else {
            text.as_bytes().to_vec()
        };
        VerifyingKey::hmac(&bytes)
            .map_err(|e| ConfigError::new(format!("{path}.secret"), e.to_string()))
    } else {
        let pem = secret.rsa_public_key.as_ref().ok_or_else(|| {
            ConfigError::new(
                format!("{path}.rsa_public_key"),
                format!("required for {}", alg.name()),
            )
        })?;
        VerifyingKey::from_pem(pem, alg)
            .map_err(|e| ConfigError::new(format!("{path}.rsa_public_key"), e.to_string()))
    }
}

impl JwtAuth {
    /// The challenge of this stage's 401 replies.
    pub fn challenge(&self) -> Challenge {
        Challenge::Bearer {
            realm: self.realm.clone(),
        }
    }

    /// The key claim name (it appears in several messages).
    pub fn key_claim(&self) -> &str {
        &self.key_claim
    }

    /// True when this request is a CORS preflight the stage must not authenticate.
    pub fn skips(&self, req: &Request) -> bool {
        !self.run_on_preflight && req.method == "OPTIONS"
    }

    /// Header names of `claims_to_headers` (their client copies are always removed).
    pub fn claim_header_names(&self) -> impl Iterator<Item = &str> {
        self.claims_to_headers.iter().map(|(_, h)| h.as_str())
    }

    /// `(claim, header, value)` for each configured claim present in `claims` as a string,
    /// number or boolean.
    pub fn claim_headers<'a>(
        &'a self,
        claims: &Map<String, Value>,
    ) -> Vec<(String, &'a str, String)> {
        self.claims_to_headers
            .iter()
            .filter_map(|(path, header)| {
                let value = lookup(claims, path)?;
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((path.join("."), header.as_str(), text))
            })
            .collect()
    }

    /// Authenticates the request, using and filling the verified-token cache.
    pub fn authenticate(
        &self,
        req: &Request,
        consumers: &Consumers,
        cache: &mut TokenCache,
        remote_set: Option<&JwkSet>,
        events: &mut Vec<Event>,
    ) -> Result<Identity, Denial> {
        let token = match self.locations.find(req) {
            Found::None => return Err(Denial::NoToken),
            Found::Multiple => return Err(Denial::MultipleTokens),
            Found::One(t) => t,
        };
        let cache_key = cache::key(&token);
        let verified = match cache.get(&cache_key, req.now) {
            Some(v) => {
                events.push(Event::TokenCacheHit);
                v.clone()
            }
            None => {
                let v = self.verify_token(&token, remote_set)?;
                events.push(Event::Verified(v.alg));
                // Claims are checked before caching so a failing token is never cached.
                self.check_claims(&v.claims, req.now)?;
                cache.put(cache_key, v.clone(), req.now);
                v
            }
        };
        self.check_claims(&verified.claims, req.now)?;
        Ok(self.identity(verified, consumers))
    }

    fn identity(&self, verified: Verified, consumers: &Consumers) -> Identity {
        let consumer = verified
            .credential
            .as_ref()
            .and_then(|k| self.credentials.get(k))
            .and_then(|c| consumers.get(c.consumer))
            .cloned();
        Identity {
            consumer,
            credential: verified.credential,
            via: Via::Jwt {
                claims: verified.claims,
            },
        }
    }

    /// Decodes and verifies the signature (Kong's order of checks and messages).
    fn verify_token(&self, token: &str, remote_set: Option<&JwkSet>) -> Result<Verified, Denial> {
        let jws = jose::jws::parse(token).map_err(|e| Denial::BadToken(bad_token_reason(e)))?;
        match self.key_claim_value(&jws)? {
            Some(key) => match self.credentials.get(&key) {
                Some(cred) => {
                    if jws.header().alg() != cred.algorithm {
                        return Err(Denial::InvalidAlgorithm);
                    }
                    jws.verify(&cred.key).map_err(signature_denial)?;
                    Ok(Verified {
                        credential: Some(key),
                        alg: cred.algorithm,
                        claims: jws.into_claims(),
                    })
                }
                None if self.credentials.is_empty() && self.has_jwks() => {
                    self.verify_jwks(jws, remote_set)
                }
                None => Err(Denial::NoCredentials(self.key_claim.clone())),
            },
            None => self.verify_jwks(jws, remote_set),
        }
    }

    /// True when keys may come from a JWKS (inline or remote).
    fn has_jwks(&self) -> bool {
        self.jwks.is_some() || self.remote.is_some()
    }

    /// The key claim, required unless keys come from a JWKS alone (no jwt credentials).
    fn key_claim_value(&self, jws: &Jws) -> Result<Option<String>, Denial> {
        let value = jws
            .claims()
            .get(&self.key_claim)
            .or_else(|| jws.header().json().get(&self.key_claim));
        match value {
            None | Some(Value::Null) if self.credentials.is_empty() && self.has_jwks() => Ok(None),
            None | Some(Value::Null) => Err(Denial::NoKeyClaim),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(Denial::InvalidKeyClaim),
        }
    }

    fn verify_jwks(&self, jws: Jws, remote_set: Option<&JwkSet>) -> Result<Verified, Denial> {
        let alg = jws.header().alg();
        let kid = jws.header().kid();
        let sets = self
            .jwks
            .iter()
            .chain(remote_set.filter(|_| self.remote.is_some()));
        let mut tried = false;
        let mut verified = false;
        for key in sets.flat_map(|set| set.candidates(kid, alg)) {
            tried = true;
            if jws.verify(key.verifying_key()).is_ok() {
                verified = true;
                break;
            }
        }
        if !tried {
            return Err(Denial::UnknownKid(kid.unwrap_or_default().to_string()));
        }
        if !verified {
            return Err(Denial::InvalidSignature);
        }
        Ok(Verified {
            credential: None,
            alg,
            claims: jws.into_claims(),
        })
    }

    /// `claims_to_verify` (with leeway), `maximum_expiration`, then issuer and audience lists.
    fn check_claims(&self, claims: &Map<String, Value>, now: u64) -> Result<(), Denial> {
        let now = now as f64;
        let leeway = self.leeway as f64;
        let mut errors = Vec::new();
        if self.verify_exp {
            match claims.get("exp").and_then(Value::as_f64) {
                None => errors.push(("exp", "must be a number")),
                Some(exp) if exp + leeway <= now => errors.push(("exp", "token expired")),
                Some(_) => {}
            }
        }
        if self.verify_nbf {
            match claims.get("nbf").and_then(Value::as_f64) {
                None => errors.push(("nbf", "must be a number")),
                Some(nbf) if nbf - leeway > now => errors.push(("nbf", "token not valid yet")),
                Some(_) => {}
            }
        }
        if !errors.is_empty() {
            return Err(Denial::Claims(errors));
        }
        if self.maximum_expiration > 0 {
            let exp = claims
                .get("exp")
                .and_then(Value::as_f64)
                .unwrap_or(f64::INFINITY);
            if exp - now > self.maximum_expiration as f64 {
                return Err(Denial::Claims(vec![(
                    "exp",
                    "exceeds maximum allowed expiration",
                )]));
            }
        }
        if !self.issuers.is_empty() {
            let iss = claims.get("iss").and_then(Value::as_str);
            if !iss.is_some_and(|i| self.issuers.iter().any(|a| a == i)) {
                return Err(Denial::Claims(vec![("iss", "issuer not allowed")]));
            }
        }
        if !self.audiences.is_empty() && !audience_allowed(claims.get("aud"), &self.audiences) {
            return Err(Denial::Claims(vec![("aud", "audience not allowed")]));
        }
        Ok(())
    }
}

fn audience_allowed(aud: Option<&Value>, allowed: &[String]) -> bool {
    let ok = |v: &Value| v.as_str().is_some_and(|a| allowed.iter().any(|x| x == a));
    match aud {
        Some(Value::Array(list)) => list.iter().any(ok),
        Some(v) => ok(v),
        None => false,
    }
}

/// Kong's decoder reasons, in `Bad token; <reason>`.
fn bad_token_reason(e: JoseError) -> &'static str {
    match e {
        JoseError::InvalidAlg => "invalid alg",
        JoseError::InvalidClaims => "invalid claims",
        JoseError::InvalidSignatureEncoding => "invalid signature",
        _ => "invalid JSON",
    }
}

/// A signature failure; a key that cannot serve the token's alg is an algorithm failure.
/// Where Kong answers 500 for a malformed ES/PS signature, this is a 401 `Invalid signature`.
fn signature_denial(e: JoseError) -> Denial {
    match e {
        JoseError::AlgorithmMismatch => Denial::InvalidAlgorithm,
        _ => Denial::InvalidSignature,
    }
}

fn lookup<'a>(claims: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(claims.get(first)?, |v, seg| v.get(seg))
}
