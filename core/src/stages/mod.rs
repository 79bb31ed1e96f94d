//! Request stages as pure functions over a request view. A request's path through them is
//! [`flow::Flow`], which tells the glue what to do next ([`flow::Next`]); every answer the
//! filter gives itself is a [`Refusal`]. No proxy-wasm here: everything tests natively.

pub mod auth;
mod decision;
pub mod events;
pub mod flow;
pub mod grpc;
pub mod headers;
pub mod mint;
mod pipeline;
pub mod reconcile;
pub mod refusal;
mod request;
pub(crate) mod url;
pub mod urlenc;

pub use decision::{
    CallAnswer, CallSpec, HeaderEdit, HeaderEdits, LocalResponse, MAX_CALL_TIMEOUT_MS,
};
pub use pipeline::Pipeline;
pub use refusal::Refusal;
pub use request::Request;

/// State that outlives a request, one per VM (each Envoy worker has its own).
#[derive(Debug, Default)]
pub struct Shared {
    /// Verified tokens.
    pub tokens: auth::TokenCache,
    /// Reconcile answers, when `reconcile.cache_seconds` > 0.
    pub reconcile: Option<reconcile::AnswerCache>,
    /// The remote JWKS as this VM last fetched it.
    pub jwks: auth::remote_jwks::JwksState,
    /// Outcomes of JWKS fetches not yet logged by the glue.
    pub jwks_fetches: Vec<auth::remote_jwks::Fetched>,
}

impl Shared {
    /// Fresh state for a configuration.
    pub fn for_config(config: &Pipeline) -> Self {
        Self {
            reconcile: config.reconcile.as_ref().and_then(|r| r.answer_cache()),
            ..Self::default()
        }
    }

    /// Fresh state for `config`, replacing `previous`'s configuration: the remote JWKS goes on
    /// when both fetch it alike ([`auth::remote_jwks::JwksState::carried`]); the caches start
    /// empty (a verification or an answer belongs to the configuration that made it).
    pub fn after(config: &Pipeline, previous: Option<(&Pipeline, &Shared)>) -> Self {
        let remote = |p: &Pipeline| p.auth.as_ref().and_then(|a| a.remote_jwks()).cloned();
        let mut shared = Self::for_config(config);
        if let Some((old, state)) = previous {
            if remote(old).is_some() && remote(old) == remote(config) {
                shared.jwks = state.jwks.carried();
            }
        }
        shared
    }

    /// Reads the background JWKS fetch's answer ([`auth::remote_jwks::JwksState::finish`]).
    pub fn finish_jwks(&mut self, answer: &CallAnswer, now: u64) -> auth::remote_jwks::Fetched {
        let fetched = self.jwks.finish(answer, now);
        self.jwks_fetched(&fetched);
        fetched
    }

    /// Takes in a JWKS fetch's outcome: a changed remote set ends the cached verifications
    /// made with the set it replaces, so a key taken out of the set stops verifying at once.
    pub(crate) fn jwks_fetched(&mut self, fetched: &auth::remote_jwks::Fetched) {
        if let auth::remote_jwks::Fetched::Updated { changed: true, .. } = fetched {
            self.tokens.clear();
        }
    }
}
