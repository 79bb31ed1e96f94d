//! Kong's basic-auth: `Proxy-Authorization` then `Authorization: Basic`, matched against
//! consumers' `basicauth_credentials`. Passwords are held only as salted SHA-256 digests (made at
//! load) and compared in constant time.

use super::consumers::{ConsumerRef, Consumers};
use super::denial::{Challenge, Denial};
use super::identity::{Identity, Via};
use crate::config::{BasicAuthSection, ConfigError, ConsumerSection};
use crate::stages::{HeaderEdits, Request};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone)]
struct BasicCredential {
    digest: [u8; 32],
    consumer: ConsumerRef,
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

/// Compiles the section, hashing every password with a fresh random salt.
pub fn compile(
    section: &BasicAuthSection,
    raw: &[ConsumerSection],
    consumers: &Consumers,
) -> Result<BasicAuth, ConfigError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|_| ConfigError::new("basic_auth", "no randomness from the host"))?;
    let mut by_user = HashMap::new();
    for (i, consumer) in raw.iter().enumerate() {
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
            let credential = BasicCredential {
                digest: digest(&salt, password.expose()),
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

/// The base64 Kong reads (`ngx.decode_base64`): `=` padding optional, unused bits ignored.
pub(crate) const KONG_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    crate::jose::b64::NGINX_LENIENT,
);

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
    /// Removes the headers that hold a Basic credential (a Bearer token another stage
    /// verified in `Authorization` stays).
    pub fn remove_credentials(req: &Request, edits: &mut HeaderEdits) {
        for h in ["proxy-authorization", "authorization"] {
            if req.header(h).and_then(parse_basic).is_some() {
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
        let headers = ["proxy-authorization", "authorization"];
        if headers.iter().all(|h| req.header(h).is_none()) {
            return Err(Denial::NoBasicCredentials);
        }
        // As Kong: Proxy-Authorization first; Authorization is read (and hidden) only when
        // that named no known user, so a known one leaves the upstream its Authorization.
        let mut parsed = false;
        let mut found = None;
        for h in headers {
            if self.hide_credentials {
                edits.remove(h);
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
        if !bool::from(cred.digest.ct_eq(&digest(&self.salt, &password))) {
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

    #[test]
    fn hide_credentials_keeps_authorization_when_proxy_authorization_authenticates_as_kong() {
        // Kong hides the header it read the credential from: Proxy-Authorization first, and
        // Authorization only when Proxy-Authorization named no known user. A known user in
        // Proxy-Authorization leaves Authorization (the upstream's own) as it came.
        let config = json!({"consumers": [{"id": "c-1", "basicauth_credentials": [{"username": "alice", "password": "pw"}]}],
                            "basic_auth": {"hide_credentials": true}});
        let raw = crate::config::parse(config.to_string().as_bytes()).unwrap();
        let consumers = Consumers::compile(&raw.consumers).unwrap();
        let ba = compile(raw.basic_auth.as_ref().unwrap(), &raw.consumers, &consumers).unwrap();
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
