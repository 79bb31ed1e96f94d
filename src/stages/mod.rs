//! Request stages as pure functions over a request view, each returning a [`Decision`] that the
//! proxy-wasm glue applies. No proxy-wasm here: everything tests natively.

mod decision;
pub mod reconcile;
mod request;

pub use decision::{CallAnswer, CallSpec, Decision, HeaderEdit, HeaderEdits, LocalResponse};
pub use request::Request;

use crate::config::Config;

/// What the stages see of a request's headers (names lower-case, as both hosts give them).
pub trait RequestView {
    /// First value of a header, if present.
    fn header(&self, name: &str) -> Option<&str>;
}

/// Runs the configured stages over the request headers.
pub fn on_request_headers(config: &Config, _request: &dyn RequestView) -> Decision {
    if config.is_pass_through() {
        return Decision::Continue(HeaderEdits::default());
    }
    Decision::Continue(HeaderEdits::default())
}
