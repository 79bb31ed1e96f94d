//! Authentication: Kong's jwt, key-auth and basic-auth plugins over the configured consumers.
//!
//! Stages run in that order with Kong's semantics: each one authenticates or refuses; with
//! `anonymous` set, a failure falls back to the anonymous consumer, and a stage with `anonymous`
//! is skipped once an earlier stage found a real credential (Kong's "logical OR").
//! Client-sent copies of every header this module sets are removed first, always.

mod basic_auth;
mod body_cut;
pub mod cache;
mod consumers;
mod denial;
mod header_values;
mod identity;
mod jwt;
mod key_auth;
mod kong_ids;
pub mod remote_jwks;
pub(crate) mod token;

pub use basic_auth::parse_basic;
pub(crate) use basic_auth::KONG_BASE64;
pub use cache::TokenCache;
pub use consumers::{Consumer, ConsumerRef, Consumers};
pub use denial::{Challenge, Denial};
pub use identity::{Identity, Via};
pub use token::bearer;

use crate::config::{ConfigError, RawConfig};
use crate::jose::JwkSet;
use crate::stages::events::Event;
use crate::stages::{headers, HeaderEdits, Refusal, Request};

/// Headers the authentication stages set; a client's copies never reach the upstream.
pub const CONSUMER_HEADERS: [&str; 5] = [
    "x-consumer-id",
    "x-consumer-custom-id",
    "x-consumer-username",
    "x-credential-identifier",
    "x-anonymous-consumer",
];

/// The compiled authentication stages.
#[derive(Debug, Clone)]
pub struct Authenticator {
    consumers: Consumers,
    jwt: Option<jwt::JwtAuth>,
    key_auth: Option<key_auth::KeyAuth>,
    basic_auth: Option<basic_auth::BasicAuth>,
}

/// Why authentication did not let the request go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStop {
    /// Refuse the request (401, or 403 for a claim that cannot be a header).
    Refuse(Refusal),
    /// The token names a `kid` the remote JWKS lacks: fetch it, then run again.
    NeedJwks {
        /// The unknown `kid` (empty when the token has none).
        kid: String,
    },
}

/// What authentication produced for a request that goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated {
    /// Header removals and settings for the upstream request.
    pub edits: HeaderEdits,
    /// Who the caller is; `None` when every stage skipped (e.g. a CORS preflight).
    pub identity: Option<Identity>,
    /// The body the upstream gets instead of the client's, when a key was cut out of it
    /// (key-auth's `key_in_body`).
    pub body: Option<Vec<u8>>,
}

pub(crate) fn anonymous(
    name: &Option<String>,
    consumers: &Consumers,
    path: &str,
) -> Result<Option<ConsumerRef>, ConfigError> {
    match name {
        None => Ok(None),
        Some(a) => consumers
            .find(a)
            .map(Some)
            .ok_or_else(|| ConfigError::new(path, format!("no consumer has id or username {a:?}"))),
    }
}

impl Authenticator {
    /// Load-time warnings of the stages, `path: problem` each.
    pub fn warnings(&self) -> &[String] {
        self.jwt.as_ref().map(|j| j.warnings()).unwrap_or_default()
    }

    /// Compiles consumers and credentials (always, so bad credentials are refused even when
    /// no stage uses them) and the configured stages; `None` when no stage is configured.
    pub fn compile(raw: &RawConfig) -> Result<Option<Self>, ConfigError> {
        header_values::check(raw)?;
        let consumers = Consumers::compile(&raw.consumers)?;
        key_auth::compile_keys(&raw.consumers)?;
        let jwt = match &raw.jwt {
            Some(s) => Some(jwt::compile(s, &raw.consumers, &consumers)?),
            None => {
                jwt::compile(&Default::default(), &raw.consumers, &consumers)?;
                None
            }
        };
        let key_auth = match &raw.key_auth {
            Some(s) => Some(key_auth::compile(s, &raw.consumers, &consumers)?),
            None => None,
        };
        let basic_auth = match &raw.basic_auth {
            Some(s) => Some(basic_auth::compile(s, raw, &consumers)?),
            None => {
                basic_auth::compile(&Default::default(), raw, &consumers)?;
                None
            }
        };
        if jwt.is_none() && key_auth.is_none() && basic_auth.is_none() {
            return Ok(None);
        }
        Ok(Some(Self {
            consumers,
            jwt,
            key_auth,
            basic_auth,
        }))
    }

    /// Removals of every header a stage reads a credential from (the token headers, `Cookie`
    /// with token cookies, the key headers, Basic's two): a trailer holding one was never
    /// judged, and an upstream reading trailers as headers would take it (review helper-106).
    pub fn credential_removals(&self) -> HeaderEdits {
        let mut edits = HeaderEdits::default();
        if let Some(jwt) = &self.jwt {
            jwt.remove_token_headers(&mut edits);
        }
        if let Some(ka) = &self.key_auth {
            ka.remove_key_headers(&mut edits);
        }
        if self.basic_auth.is_some() {
            edits.remove("authorization");
            edits.remove("proxy-authorization");
        }
        edits
    }

    /// The remote JWKS of the jwt stage, if any.
    pub fn remote_jwks(&self) -> Option<&remote_jwks::RemoteJwks> {
        self.jwt.as_ref().and_then(|j| j.remote.as_ref())
    }

    /// Removals of the client's copies of every header the stages set (consumer, credential,
    /// anonymous and claim headers), whatever the outcome.
    pub fn owned_removals(&self) -> HeaderEdits {
        let mut edits = HeaderEdits(Vec::with_capacity(CONSUMER_HEADERS.len()));
        for h in CONSUMER_HEADERS {
            edits.remove(h);
        }
        if let Some(jwt) = &self.jwt {
            for h in jwt.claim_header_names() {
                edits.remove(h);
            }
        }
        edits
    }

    /// The largest body a stage reads before deciding (key-auth's `key_in_body`), if one does:
    /// the body is then read first.
    pub fn body_limit(&self) -> Option<u64> {
        self.key_auth
            .as_ref()
            .and_then(key_auth::KeyAuth::body_limit)
    }

    /// True when a stage reads the body before deciding.
    pub fn reads_body(&self) -> bool {
        self.body_limit().is_some()
    }

    /// Runs the stages: the edits and identity to go on with, or why not. With `refetch`, an
    /// unknown `kid` stops with [`AuthStop::NeedJwks`] instead of a denial. `body` is the
    /// request body when [`Self::reads_body`].
    pub fn run(
        &self,
        req: &Request,
        body: Option<&[u8]>,
        cache: &mut TokenCache,
        remote_set: Option<&JwkSet>,
        refetch: bool,
        events: &mut Vec<Event>,
    ) -> Result<Authenticated, AuthStop> {
        let mut edits = self.owned_removals();
        let mut identity: Option<Identity> = None;
        if let Some(jwt) = &self.jwt {
            if !jwt.skips(req) {
                let result = self.gate(&identity, jwt.anonymous, || {
                    jwt.authenticate(req, &self.consumers, cache, remote_set, events)
                });
                if let Some(Err(Denial::UnknownKid(kid))) = &result {
                    if refetch && jwt.remote.is_some() {
                        return Err(AuthStop::NeedJwks { kid: kid.clone() });
                    }
                }
                // Also with no token found: a JWS without `Bearer` in a token header, which
                // some upstreams read, is not Kong's token but no verified one either.
                let anonymous = jwt.anonymous.is_some() && matches!(result, Some(Err(_)));
                if anonymous {
                    jwt.remove_token(req, &edits.path_or(&req.path), &mut edits);
                }
                self.settle(&mut identity, result, jwt.anonymous, events, || {
                    (jwt.challenge(), jwt.key_claim().to_string())
                })?;
            } else {
                // A preflight the stage skips keeps no token nobody verified (review helper-106).
                jwt.remove_token(req, &edits.path_or(&req.path), &mut edits);
            }
        }
        // Kong ends with the last stage's consumer, but x-custom-jwt reads a Bearer token
        // before any other credential: a token the jwt stage verified stays the credential
        // of a later stage's identity.
        let bearer = identity
            .as_ref()
            .filter(|i| i.claims().is_some())
            .map(|i| i.via.clone());
        let mut cut = None;
        if let Some(ka) = &self.key_auth {
            let result = match ka.skips(req) {
                true => None,
                false => self.gate(&identity, ka.anonymous, || {
                    ka.authenticate(req, body, &self.consumers, &mut edits, &mut cut)
                }),
            };
            // On every fallback, also when no key was read: a key in a spelling the stage does
            // not read (`x_api_key` for `x-api-key`), or beside an empty one, is a key to CGI
            // and WSGI servers. And when the stage was skipped (Kong's OR: an earlier stage
            // verified the caller), a key nobody verified must not ride beside that identity
            // (review), or for a preflight (`run_on_preflight: false`, review helper-106). On
            // Kong's engine not a header sent twice: Kong's spec wants that request to go on,
            // and the engine cannot remove it; every other key goes (review helper-106: a
            // repeated query key kept them all).
            let skipped = result.is_none();
            let fell_back = ka.anonymous.is_some() && matches!(result, Some(Err(_)));
            if skipped || fell_back {
                let from = edits.0.len();
                ka.remove_keys(&edits.path_or(&req.path), &mut edits);
                if !req.removes_repeated_headers {
                    let removals = edits.0.split_off(from);
                    let repeated = |name: &str| req.header_all(name).nth(1).is_some();
                    edits.0.extend(removals.into_iter().filter(
                        |e| !matches!(e, crate::stages::HeaderEdit::Remove(n) if repeated(n)),
                    ));
                }
            }
            // Any key field goes from the body on the fallback or the skip, also one Kong does
            // not read (JSON under another type, a number): none reaches the upstream beside
            // an identity it did not make.
            if skipped || fell_back {
                cut = ka.body_without_keys(req, body);
            }
            self.settle(&mut identity, result, ka.anonymous, events, || {
                (ka.challenge(), String::new())
            })?;
        }
        if let Some(ba) = &self.basic_auth {
            let result = self.gate(&identity, ba.anonymous, || {
                ba.authenticate(req, &self.consumers, &mut edits)
            });
            // Also when no credential was read: a Basic value the filter cannot read may be
            // one to another reader, and must not reach the upstream beside the anonymous one;
            // nor beside an earlier stage's identity when this one was skipped (review).
            if result.is_none() || (ba.anonymous.is_some() && matches!(result, Some(Err(_)))) {
                basic_auth::BasicAuth::remove_credentials(req, &mut edits);
            }
            self.settle(&mut identity, result, ba.anonymous, events, || {
                (ba.challenge(), String::new())
            })?;
        }
        if let (Some(id), Some(via)) = (identity.as_mut(), bearer) {
            id.via = via;
        }
        if let Some(id) = &identity {
            self.identity_headers(id, &mut edits)?;
        }
        Ok(Authenticated {
            edits,
            identity,
            body: cut,
        })
    }

    /// Kong: a stage with `anonymous` is skipped once a real credential was found.
    fn gate(
        &self,
        identity: &Option<Identity>,
        anonymous: Option<ConsumerRef>,
        run: impl FnOnce() -> Result<Identity, Denial>,
    ) -> Option<Result<Identity, Denial>> {
        let authenticated = identity.as_ref().is_some_and(|i| !i.is_anonymous());
        if anonymous.is_some() && authenticated {
            return None;
        }
        Some(run())
    }

    fn settle(
        &self,
        identity: &mut Option<Identity>,
        result: Option<Result<Identity, Denial>>,
        anonymous: Option<ConsumerRef>,
        events: &mut Vec<Event>,
        challenge: impl FnOnce() -> (Challenge, String),
    ) -> Result<(), AuthStop> {
        match (result, anonymous) {
            (None, _) => Ok(()),
            (Some(Ok(id)), _) => {
                *identity = Some(id);
                Ok(())
            }
            (Some(Err(denial)), Some(anon)) => {
                if denial.presented() {
                    events.push(Event::AnonymousFallback(denial.reason()));
                }
                *identity = Some(Identity {
                    consumer: self.consumers.get(anon).cloned(),
                    credential: None,
                    via: Via::Anonymous,
                });
                Ok(())
            }
            (Some(Err(denial)), None) => {
                let (challenge, key_claim) = challenge();
                Err(AuthStop::Refuse(Refusal::Unauthenticated {
                    denial,
                    challenge,
                    key_claim,
                }))
            }
        }
    }

    /// The `X-Consumer-*`, credential and claim headers of `id`. A claim whose value cannot be
    /// a header (CR, LF, NUL or another control character) refuses the request with 403: sent
    /// on, the host would refuse it after the filter allowed it, or split the header.
    fn identity_headers(&self, id: &Identity, edits: &mut HeaderEdits) -> Result<(), AuthStop> {
        if let Some(c) = &id.consumer {
            let fields = [
                ("x-consumer-id", &c.id),
                ("x-consumer-custom-id", &c.custom_id),
                ("x-consumer-username", &c.username),
            ];
            for (header, value) in fields {
                if let Some(v) = value {
                    edits.set(header, v.clone());
                }
            }
        }
        if let Some(cred) = &id.credential {
            edits.set("x-credential-identifier", cred.clone());
        }
        if id.is_anonymous() {
            edits.set("x-anonymous-consumer", "true");
        }
        if let (Some(jwt), Some(claims)) = (&self.jwt, id.claims()) {
            for (claim, header, value) in jwt.claim_headers(claims) {
                if !headers::is_safe_value(&value) {
                    return Err(unsafe_claim(&claim));
                }
                edits.set(header, value);
            }
        }
        Ok(())
    }
}

/// The 403 for a verified claim that cannot travel as a header; the claim is named, its value
/// never (it may be anything the token's issuer signed).
fn unsafe_claim(claim: &str) -> AuthStop {
    AuthStop::Refuse(Refusal::ClaimNotHeaderSafe {
        claim: claim.to_string(),
    })
}
