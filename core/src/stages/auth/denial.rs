//! Every reason an authentication stage refuses a request: one flat enum, one message table, and
//! one function that turns a denial into the HTTP reply (status, body, `WWW-Authenticate`).
//! The texts are those of Kong's jwt, key-auth and basic-auth plugins.

use crate::stages::LocalResponse;
use serde_json::{json, Map, Value};

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// No token anywhere it is looked for. `Unauthorized`.
    NoToken,
    /// A token location held several different tokens. `Multiple tokens provided`.
    MultipleTokens,
    /// Only a query parameter without a value (`?jwt`). `Unrecognizable token`.
    UnrecognizableToken,
    /// The token does not decode; the reason is the JOSE parser's Kong text. `Bad token; <reason>`.
    BadToken(&'static str),
    /// The key claim is in neither claims nor header. `No mandatory '<claim>' in claims`.
    NoKeyClaim,
    /// The key claim is empty or not a string. `Invalid '<claim>' in claims`.
    InvalidKeyClaim,
    /// No credential has this key (or no JWKS key has this `kid`). `No credentials found for given '<claim>'`.
    NoCredentials(String),
    /// No JWKS key has the token's `kid` (or there is no set yet). `No credentials found for given 'kid'`.
    UnknownKid(String),
    /// The token's `alg` is not the credential's algorithm. `Invalid algorithm`.
    InvalidAlgorithm,
    /// The signature does not verify (or is malformed for its algorithm). `Invalid signature`.
    InvalidSignature,
    /// Registered-claim failures, answered as the claim map itself (`{"exp":"token expired"}`).
    Claims(Vec<(&'static str, &'static str)>),
    /// Key-auth: no key in the request. `No API key found in request`.
    NoApiKey,
    /// Key-auth: the same key name was sent more than once. `Duplicate API key found`.
    DuplicateApiKey,
    /// Key-auth: another key where Kong does not read once it found one (another key name or
    /// spelling, the query split on `;`, a name PHP or Rack reads as a key name). The same
    /// answer as [`Self::DuplicateApiKey`].
    AnotherApiKey,
    /// Key-auth or basic-auth: unknown key, user or wrong password. `Unauthorized` (Kong 3.6+;
    /// 3.4 and 3.5 said `Invalid authentication credentials`).
    InvalidCredentials,
    /// Basic-auth: no `Authorization: Basic`. `Unauthorized`.
    NoBasicCredentials,
    /// Basic-auth: a header it reads holds another value beside the one Kong reads (a second
    /// value, or another spelling such as `proxy_authorization`), which the upstream could
    /// read as the credential nobody verified. `Unauthorized`.
    AnotherBasicCredential,
}

/// The `WWW-Authenticate` challenge scheme of the stage that refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer [realm="..."]`, with `error="invalid_token"` once a token was found.
    Bearer {
        /// Optional realm.
        realm: Option<String>,
    },
    /// `Key`, or `Key realm="..."` when a realm is set (key-auth, Kong 3.7+).
    Key {
        /// Optional realm.
        realm: Option<String>,
    },
    /// `Basic realm="..."` (basic-auth).
    Basic {
        /// Realm.
        realm: String,
    },
}

impl Denial {
    /// True when the request presented a credential the stage rejected: falling back to
    /// `anonymous`, the filter removes it, so the upstream never gets a credential nobody
    /// verified beside the anonymous consumer (or a later stage's). Not when it found none, nor
    /// for a key name sent twice (`Duplicate API key found`): Kong's spec wants that request
    /// to go on as the anonymous consumer, which Kong's engine could not do with the key
    /// header removed (it refuses editing a header sent twice), and a key grants nothing
    /// unverified, unlike a token's readable claims.
    pub fn presented(&self) -> bool {
        !matches!(
            self,
            Self::NoToken | Self::NoApiKey | Self::NoBasicCredentials | Self::DuplicateApiKey
        )
    }

    /// The JSON body Kong answers with.
    pub fn body(&self, key_claim: &str) -> Value {
        let message = match self {
            Self::NoToken | Self::NoBasicCredentials => "Unauthorized".to_string(),
            Self::MultipleTokens => "Multiple tokens provided".to_string(),
            Self::UnrecognizableToken => "Unrecognizable token".to_string(),
            Self::BadToken(reason) => format!("Bad token; {reason}"),
            Self::NoKeyClaim => format!("No mandatory '{key_claim}' in claims"),
            Self::InvalidKeyClaim => format!("Invalid '{key_claim}' in claims"),
            Self::NoCredentials(claim) => format!("No credentials found for given '{claim}'"),
            Self::UnknownKid(_) => "No credentials found for given 'kid'".to_string(),
            Self::InvalidAlgorithm => "Invalid algorithm".to_string(),
            Self::InvalidSignature => "Invalid signature".to_string(),
            Self::NoApiKey => "No API key found in request".to_string(),
            Self::DuplicateApiKey | Self::AnotherApiKey => "Duplicate API key found".to_string(),
            Self::InvalidCredentials | Self::AnotherBasicCredential => "Unauthorized".to_string(),
            Self::Claims(errors) => {
                // Inserted one by one: collecting into the map would sort a vector first (a
                // stable sort's code in the module for this one use).
                let mut map = Map::new();
                for (claim, error) in errors {
                    map.insert((*claim).to_string(), Value::from(*error));
                }
                return Value::Object(map);
            }
        };
        json!({ "message": message })
    }

    /// True once a token was found: the challenge then carries `error="invalid_token"`.
    fn token_was_found(&self) -> bool {
        !matches!(self, Self::NoToken)
    }

    /// A short reason for logs and metrics (never the token).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::MultipleTokens => "multiple_tokens",
            Self::UnrecognizableToken => "unrecognizable_token",
            Self::BadToken(_) => "bad_token",
            Self::NoKeyClaim => "no_key_claim",
            Self::InvalidKeyClaim => "invalid_key_claim",
            Self::NoCredentials(_) => "no_credentials",
            Self::UnknownKid(_) => "unknown_kid",
            Self::InvalidAlgorithm => "invalid_algorithm",
            Self::InvalidSignature => "invalid_signature",
            Self::Claims(_) => "claims",
            Self::NoApiKey => "no_api_key",
            Self::DuplicateApiKey | Self::AnotherApiKey => "duplicate_api_key",
            Self::InvalidCredentials => "invalid_credentials",
            Self::NoBasicCredentials => "no_basic_credentials",
            Self::AnotherBasicCredential => "another_basic_credential",
        }
    }

    /// The 401 reply: Kong's body and the stage's `WWW-Authenticate` challenge.
    pub fn response(&self, challenge: &Challenge, key_claim: &str) -> LocalResponse {
        let mut reply = LocalResponse::json(401, &self.body(key_claim));
        reply
            .headers
            .push(("www-authenticate".into(), self.challenge(challenge)));
        reply
    }

    fn challenge(&self, challenge: &Challenge) -> String {
        match challenge {
            Challenge::Bearer { realm } => {
                let mut parts = Vec::new();
                if let Some(realm) = realm {
                    parts.push(format!("realm=\"{realm}\""));
                }
                if self.token_was_found() {
                    parts.push("error=\"invalid_token\"".to_string());
                }
                if parts.is_empty() {
                    "Bearer".to_string()
                } else {
                    format!("Bearer {}", parts.join(", "))
                }
            }
            Challenge::Key { realm: None } => "Key".to_string(),
            Challenge::Key { realm: Some(realm) } => format!("Key realm=\"{realm}\""),
            Challenge::Basic { realm } => format!("Basic realm=\"{realm}\""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(d: Denial) -> String {
        d.body("iss").to_string()
    }

    #[test]
    fn body_each_denial_matches_kong_text() {
        let table = [
            (Denial::NoToken, r#"{"message":"Unauthorized"}"#),
            (
                Denial::MultipleTokens,
                r#"{"message":"Multiple tokens provided"}"#,
            ),
            (
                Denial::BadToken("invalid JSON"),
                r#"{"message":"Bad token; invalid JSON"}"#,
            ),
            (
                Denial::BadToken("invalid alg"),
                r#"{"message":"Bad token; invalid alg"}"#,
            ),
            (
                Denial::BadToken("invalid claims"),
                r#"{"message":"Bad token; invalid claims"}"#,
            ),
            (
                Denial::BadToken("invalid signature"),
                r#"{"message":"Bad token; invalid signature"}"#,
            ),
            (
                Denial::NoKeyClaim,
                r#"{"message":"No mandatory 'iss' in claims"}"#,
            ),
            (
                Denial::InvalidKeyClaim,
                r#"{"message":"Invalid 'iss' in claims"}"#,
            ),
            (
                Denial::NoCredentials("iss".into()),
                r#"{"message":"No credentials found for given 'iss'"}"#,
            ),
            (
                Denial::InvalidAlgorithm,
                r#"{"message":"Invalid algorithm"}"#,
            ),
            (
                Denial::InvalidSignature,
                r#"{"message":"Invalid signature"}"#,
            ),
            (
                Denial::NoApiKey,
                r#"{"message":"No API key found in request"}"#,
            ),
            (
                Denial::DuplicateApiKey,
                r#"{"message":"Duplicate API key found"}"#,
            ),
            (Denial::InvalidCredentials, r#"{"message":"Unauthorized"}"#),
            (Denial::NoBasicCredentials, r#"{"message":"Unauthorized"}"#),
        ];
        for (denial, want) in table {
            assert_eq!(msg(denial), want);
        }
    }

    #[test]
    fn body_claims_is_the_claim_map() {
        let d = Denial::Claims(vec![
            ("exp", "token expired"),
            ("nbf", "token not valid yet"),
        ]);
        assert_eq!(
            msg(d),
            r#"{"exp":"token expired","nbf":"token not valid yet"}"#
        );
        let d = Denial::Claims(vec![("exp", "must be a number")]);
        assert_eq!(msg(d), r#"{"exp":"must be a number"}"#);
    }

    #[test]
    fn challenge_bearer_without_token_has_no_error() {
        let bearer = Challenge::Bearer { realm: None };
        assert_eq!(Denial::NoToken.challenge(&bearer), "Bearer");
        assert_eq!(
            Denial::InvalidSignature.challenge(&bearer),
            "Bearer error=\"invalid_token\""
        );
    }

    #[test]
    fn challenge_bearer_with_realm_joins_with_comma() {
        let bearer = Challenge::Bearer {
            realm: Some("api".into()),
        };
        assert_eq!(Denial::NoToken.challenge(&bearer), "Bearer realm=\"api\"");
        assert_eq!(
            Denial::MultipleTokens.challenge(&bearer),
            "Bearer realm=\"api\", error=\"invalid_token\""
        );
    }

    #[test]
    fn response_is_401_json_with_challenge() {
        let r = Denial::NoApiKey.response(
            &Challenge::Key {
                realm: Some("kong".into()),
            },
            "iss",
        );
        assert_eq!(r.status, 401);
        assert!(r
            .headers
            .contains(&("www-authenticate".into(), "Key realm=\"kong\"".into())));
        let plain = Denial::InvalidCredentials.response(&Challenge::Key { realm: None }, "iss");
        assert!(plain
            .headers
            .contains(&("www-authenticate".into(), "Key".into())));
        assert_eq!(
            Denial::InvalidCredentials.body("iss"),
            json!({"message": "Unauthorized"})
        );
    }
}
