//! Request stages as pure functions over a request view, each returning a [`Decision`] that the
//! proxy-wasm glue applies. No proxy-wasm here: everything tests natively.

pub mod auth;
mod decision;
pub mod reconcile;
mod request;
pub mod urlenc;

pub use decision::{CallAnswer, CallSpec, Decision, HeaderEdit, HeaderEdits, LocalResponse};
pub use request::Request;

use crate::config::Config;

/// State that outlives a request, one per VM (each Envoy worker has its own).
#[derive(Debug, Default)]
pub struct Shared {
    /// Verified tokens.
    pub tokens: auth::TokenCache,
}

/// Runs the configured stages over the request headers.
pub fn on_request_headers(config: &Config, req: &Request, shared: &mut Shared) -> Decision {
    let mut edits = HeaderEdits::default();
    if let Some(auth) = &config.auth {
        match auth.run(req, &mut shared.tokens) {
            Ok(done) => edits.0.extend(done.edits.0),
            Err(reply) => return Decision::Respond(reply),
        }
    }
    Decision::Continue(edits)
}
