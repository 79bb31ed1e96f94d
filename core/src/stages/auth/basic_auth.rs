//! Kong's basic-auth: `Proxy-Authorization` then `Authorization: Basic`, matched against
//! consumers' `basicauth_credentials`. Passwords are held only as salted SHA-256 digests (made at
//! load) and compared in constant time. A `kong.yml` exported by Kong (`_transform: false`)
//! carries Kong's stored hashes instead, SHA-1 of the password and the consumer id: those are
//! checked as Kong checks them.

use super::consumers::{ConsumerRef, Consumers};
use super::denial::{Challenge, Denial};
use super::identity::{Identity, Via};
use crate::config::{BasicAuthSection, ConfigError, RawConfig};
use crate::stages::{HeaderEdits, Request};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone)]
struct BasicCredential {
    check: PasswordCheck,
    consumer: ConsumerRef,
}

/// What a presented password is held against.
#[derive(Debug, Clone)]
enum PasswordCheck {
    /// The configured plaintext's digest under the stage's salt.
    Salted([u8; 32]),
    /// Kong's stored hash (`_transform: false`): SHA-1 of the password then the consumer id.
    Kong { sha1: [u8; 20], consumer_id: String },
}

impl PasswordCheck {
    fn accepts(&self, salt: &[u8; 16], password: &str) -> bool {
        match self {
            Self::Salted(d) => d.ct_eq(&digest(salt, password)).into(),
            Self::Kong { sha1, consumer_id } => {
                let mut h = sha1_smol::Sha1::new();
                h.update(password.as_bytes());
                h.update(consumer_id.as_bytes());
                sha1.ct_eq(&h.digest().bytes()).into()
            }
        }
    }
}

/// Kong's stored hash: 40 hex digits (`resty.string`'s `to_hex`).
fn kong_hash(text: &str) -> Option<[u8; 20]> {
    let hex = text.as_bytes();
    let mut out = [0u8; 20];
    if hex.len() != 2 * out.len() {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        // Lowercase only: Kong compares its own lowercase hex with the stored text.
        let digit = |b: u8| match b {
            b'0'..=b'9' | b'a'..=b'f' => char::from(b).to_digit(16),
            _ => None,
        };
        let (hi, lo) = (digit(*pair.first()?)?, digit(*pair.get(1)?)?);
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// The compiled `basic_auth` section.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    hide_credentials: bool,
    realm: String,
    /// The consumer used when authentication fails.
    pub anonymous: Option<ConsumerRef>,
    salt: [u8; 16],
    by_user: HashMap<String, BasicCredential>,
}

fn digest(salt: &[u8; 16], password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    h.finalize().into()
}

/// Compiles the section, hashing every password with a fresh random salt (or reading Kong's
/// hashes, under `_transform: false`).
pub fn compile(
    section: &BasicAuthSection,
    raw: &RawConfig,
    consumers: &Consumers,
) -> Result<BasicAuth, ConfigError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|_| ConfigError::new("basic_auth", "no randomness from the host"))?;
    let hashed = raw._transform == Some(false);
    let mut by_user = HashMap::new();
    for (i, consumer) in raw.consumers.iter().enumerate() {
        for (j, cred) in consumer.basicauth_credentials.iter().enumerate() {
            let path = format!("consumers[{i}].basicauth_credentials[{j}]");
            let user = cred
                .username
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| ConfigError::new(format!("{path}.username"), "missing field"))?;
            let password = cred
                .password
                .as_ref()
                .ok_or_else(|| ConfigError::new(format!("{path}.password"), "missing field"))?;
            // Kong's schema refuses an empty string (`len_min` 1): `Basic alice:` would pass.
            if password.expose().is_empty() {
                return Err(ConfigError::new(
                    format!("{path}.password"),
                    "must not be empty",
                ));
            }
            let check = if hashed {
                let sha1 = kong_hash(password.expose()).ok_or_else(|| {
                    ConfigError::new(
                        format!("{path}.password"),
                        "must be Kong's stored hash (40 hex digits) under `_transform: false`",
                    )
                })?;
                let consumer_id = consumers
                    .get(Consumers::at(i))
                    .and_then(|c| c.id.clone())
                    .ok_or_else(|| ConfigError::new(format!("consumers[{i}].id"), "missing"))?;
                PasswordCheck::Kong { sha1, consumer_id }
            } else {
                PasswordCheck::Salted(digest(&salt, password.expose()))
            };
            let credential = BasicCredential {
                check,
                consumer: Consumers::at(i),
            };
            if by_user.insert(user, credential).is_some() {
                return Err(ConfigError::new(
                    format!("{path}.username"),
                    "duplicate credential username",
                ));
            }
        }
    }
    Ok(BasicAuth {
        hide_credentials: section.hide_credentials,
        realm: section.realm.clone(),
        anonymous: super::anonymous(&section.anonymous, consumers, "basic_auth.anonymous")?,
        salt,
        by_user,
    })
}

/// The headers a Basic credential is read from, in Kong's order.
const HEADERS: [&str; 2] = ["proxy-authorization", "authorization"];

/// The base64 Kong reads (`ngx.decode_base64`): `=` padding optional, unused bits ignored.
pub(crate) const KONG_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    crate::jose::b64::NGINX_LENIENT,
);

/// True when a header value, or a piece of it between commas (how hosts join a repeated
/// header), begins with the `Basic` scheme in any case.
fn names_basic(value: &str) -> bool {
    value.split(',').any(|piece| {
        let piece = piece.trim_start();
        piece
            .get(..5)
            .is_some_and(|s| s.eq_ignore_ascii_case("basic"))
    })
}

/// `(user, password)` of a `Basic` header value, if it has one.
pub fn parse_basic(value: &str) -> Option<(String, String)> {
    let v = value.trim_start();
    let (scheme, rest) = (v.get(..5)?, v.get(5..)?);
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = KONG_BASE64.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_string(), password.to_string()))
}

impl BasicAuth {
    /// Removes the headers that name the Basic scheme, in any value and spelling (a removal
    /// covers every spelling), whether or not the filter could read a credential there: other
    /// readers decode what it refuses (text after the base64, a comma-joined second value, no
    /// `:`). A header holding none (a Bearer token for the upstream) stays.
    pub fn remove_credentials(req: &Request, edits: &mut HeaderEdits) {
        for h in HEADERS {
            if req.header_all_spellings(h).any(names_basic) {
                edits.remove(h);
            }
        }
    }

    /// The challenge of this stage's 401 replies.
    pub fn challenge(&self) -> Challenge {
        Challenge::Basic {
            realm: self.realm.clone(),
        }
    }

    /// Checks the credentials; with `hide_credentials`, `edits` gets the header removals.
    pub fn authenticate(
        &self,
        req: &Request,
        consumers: &Consumers,
        edits: &mut HeaderEdits,
    ) -> Result<Identity, Denial> {
        if HEADERS
            .iter()
            .all(|h| req.header_all_spellings(h).next().is_none())
        {
            return Err(Denial::NoBasicCredentials);
        }
        // As Kong: Proxy-Authorization first; Authorization is read (and hidden) only when
        // that named no known user, so a known one leaves the upstream its Authorization.
        let mut parsed = false;
        let mut found = None;
        for h in HEADERS {
            if self.hide_credentials {
                edits.remove(h);
            }
            // Kong reads a header's first value: every other value and spelling of a header it
            // read must be that one, or the upstream could take another for the Basic user.
            if req
                .header_all_spellings(h)
                .any(|v| Some(v) != req.header(h))
            {
                return Err(Denial::AnotherBasicCredential);
            }
            if let Some((user, password)) = req.header(h).and_then(parse_basic) {
                parsed = true;
                if let Some(cred) = self.by_user.get(&user) {
                    found = Some((user, password, cred));
                    break;
                }
            }
        }
        let Some((user, password, cred)) = found else {
            return Err(if parsed {
                Denial::InvalidCredentials
            } else {
                Denial::NoBasicCredentials
            });
        };
        if !cred.check.accepts(&self.salt, &password) {
            return Err(Denial::InvalidCredentials);
        }
        Ok(Identity {
            consumer: consumers.get(cred.consumer).cloned(),
            credential: Some(user.clone()),
            via: Via::Basic { username: user },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::HeaderEdit;
    use serde_json::json;

    fn b64(text: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(text)
        )
    }

    /// Credentials are checked whether or not a stage uses them, as `jwt_secrets` and
    /// `keyauth_credentials` are (review): a broken export is refused before a section that
    /// would use it is added.
    #[test]
    fn bad_credentials_are_refused_without_a_basic_auth_section() {
        let refusal = |credentials: serde_json::Value, extra: serde_json::Value| {
            let mut config =
                json!({"consumers": [{"id": "c-1", "basicauth_credentials": credentials}]});
            config
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let err = crate::stages::Pipeline::load(config.to_string().as_bytes()).err();
            err.map(|e| e.to_string())
        };
        let pair = json!({"username": "u", "password": "p"});
        let cases = [
            (json!([{"password": "p"}]), json!({}), "consumers[0].basicauth_credentials[0].username: missing field"),
            (json!([pair, pair]), json!({}), "consumers[0].basicauth_credentials[1].username: duplicate credential username"),
            // Kong's schema refuses it too; loaded, `Basic u:` passed (review).
            (json!([{"username": "u", "password": ""}]), json!({}), "consumers[0].basicauth_credentials[0].password: must not be empty"),
            (json!([pair]), json!({"_transform": false}), "consumers[0].basicauth_credentials[0].password: must be Kong's stored hash (40 hex digits) under `_transform: false`"),
        ];
        for (credentials, extra, want) in cases {
            assert_eq!(
                refusal(credentials.clone(), extra.clone()).as_deref(),
                Some(want)
            );
            let mut with_section = extra.clone();
            with_section
                .as_object_mut()
                .unwrap()
                .insert("basic_auth".into(), json!({}));
            assert_eq!(refusal(credentials, with_section).as_deref(), Some(want));
        }
        assert_eq!(refusal(json!([pair]), json!({})), None);
    }

    #[test]
    fn hide_credentials_keeps_authorization_when_proxy_authorization_authenticates_as_kong() {
        // Kong hides the header it read the credential from: Proxy-Authorization first, and
        // Authorization only when Proxy-Authorization named no known user. A known user in
        // Proxy-Authorization leaves Authorization (the upstream's own) as it came.
        let config = json!({"consumers": [{"id": "c-1", "basicauth_credentials": [{"username": "alice", "password": "pw"}]}],
                            "basic_auth": {"hide_credentials": true}});
        let raw = crate::config::parse(config.to_string().as_bytes()).unwrap();
        let consumers = Consumers::compile(&raw.consumers).unwrap();
        let ba = compile(raw.basic_auth.as_ref().unwrap(), &raw, &consumers).unwrap();
        let run = |headers: &[(&str, String)]| {
            let req = Request {
                headers: headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                ..Request::default()
            };
            let mut edits = HeaderEdits::default();
            let result = ba.authenticate(&req, &consumers, &mut edits);
            (result.map(|id| id.credential), edits.0)
        };
        let proxy = HeaderEdit::Remove("proxy-authorization".into());
        let auth = HeaderEdit::Remove("authorization".into());
        let upstream_own = "Bearer upstream-token".to_string();
        let (result, edits) = run(&[
            ("proxy-authorization", b64("alice:pw")),
            ("authorization", upstream_own.clone()),
        ]);
        assert_eq!(result, Ok(Some("alice".into())));
        assert_eq!(edits, std::slice::from_ref(&proxy));
        // Unknown user in Proxy-Authorization: Authorization is read, and hidden.
        let (result, edits) = run(&[
            ("proxy-authorization", b64("mallory:x")),
            ("authorization", b64("alice:pw")),
        ]);
        assert_eq!(result, Ok(Some("alice".into())));
        assert_eq!(edits, [proxy.clone(), auth.clone()]);
        let (result, edits) = run(&[("authorization", b64("alice:pw"))]);
        assert_eq!(result, Ok(Some("alice".into())));
        assert_eq!(edits, [proxy.clone(), auth.clone()]);
        // Refusals keep their reasons.
        let (result, _) = run(&[("authorization", upstream_own)]);
        assert_eq!(result, Err(Denial::NoBasicCredentials));
        let (result, _) = run(&[("proxy-authorization", b64("alice:no"))]);
        assert_eq!(result, Err(Denial::InvalidCredentials));
    }

    /// `_transform: false`: the password is Kong's stored hash. The vector is Python's
    /// `hashlib.sha1(b"pw" + b"c-1").hexdigest()`.
    #[test]
    fn kongs_stored_hash_is_checked_as_kong_does() {
        let stage = |transform: bool, password: &str| {
            let config = json!({"_transform": transform, "basic_auth": {},
                "consumers": [{"id": "c-1", "basicauth_credentials": [{"username": "alice", "password": password}]}]});
            let raw = crate::config::parse(config.to_string().as_bytes()).unwrap();
            let consumers = Consumers::compile(&raw.consumers).unwrap();
            let ba = compile(raw.basic_auth.as_ref().unwrap(), &raw, &consumers);
            (ba.map_err(|e| e.to_string()), consumers)
        };
        let hash = "8b25c30ca5e53bedade7aaa8283f0308074871de";
        let (ba, consumers) = stage(false, hash);
        let ba = ba.unwrap();
        let try_password = |password: &str| {
            let req = Request::get(
                "/",
                &[("authorization", &b64(&format!("alice:{password}")))],
            );
            ba.authenticate(&req, &consumers, &mut HeaderEdits::default())
                .map(|id| id.credential)
        };
        assert_eq!(try_password("pw"), Ok(Some("alice".into())));
        for wrong in [hash, "pwc-1", "p", "pw "] {
            assert_eq!(
                try_password(wrong),
                Err(Denial::InvalidCredentials),
                "{wrong}"
            );
        }
        // `_transform: true` (Kong's default): the same text is a plaintext password.
        let (ba, consumers) = stage(true, hash);
        let req = Request::get("/", &[("authorization", &b64(&format!("alice:{hash}")))]);
        let id = ba
            .unwrap()
            .authenticate(&req, &consumers, &mut HeaderEdits::default());
        assert_eq!(id.map(|id| id.credential), Ok(Some("alice".into())));
        let refused = "consumers[0].basicauth_credentials[0].password: must be Kong's stored hash \
            (40 hex digits) under `_transform: false`";
        let upper = hash.to_ascii_uppercase();
        for bad in [
            "pw",
            &hash[1..],
            &upper,
            &format!("{hash}0"),
            "g".repeat(40).as_str(),
        ] {
            assert_eq!(stage(false, bad).0.err().as_deref(), Some(refused), "{bad}");
        }
    }

    #[test]
    fn parse_basic_splits_at_first_colon() {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:p:q")
        );
        assert_eq!(parse_basic(&v), Some(("u".into(), "p:q".into())));
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        let empty_user = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode(":p")
        );
        assert_eq!(parse_basic(&empty_user), None);
    }

    #[test]
    fn parse_basic_reads_the_scheme_and_the_password_whole() {
        // README, "Different on purpose" (basic-auth parsing).
        assert_eq!(
            parse_basic(&b64("u:p").replace("Basic", "BASIC")),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(parse_basic(&format!("x{}", b64("u:p"))), None);
        assert_eq!(parse_basic(&b64(":u:p")), None);
        assert_eq!(
            parse_basic(&b64("u:p\nq")),
            Some(("u".into(), "p\nq".into()))
        );
    }

    #[test]
    fn parse_basic_decodes_base64_as_kong() {
        // Kong decodes with `ngx.decode_base64` (nginx's decoder): `=` padding optional and the
        // unused bits of the last character ignored. `dTpwdw==` is `u:pw`.
        let want = Some(("u".to_string(), "pw".to_string()));
        for value in [
            "Basic dTpwdw==",
            "Basic dTpwdw",
            "Basic dTpwdx==",
            "basic  dTpwdw",
        ] {
            assert_eq!(parse_basic(value), want, "{value}");
        }
        // Still refused: a length no encoding has, a character outside the alphabet.
        for value in ["Basic dTpwd", "Basic dTp-dw==", "Basic dTpw dw=="] {
            assert_eq!(parse_basic(value), None, "{value}");
        }
    }
}
