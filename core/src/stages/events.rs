//! What happened to a request, as data: the stages record events, the glue turns each into a
//! host metric. This enum is the one list of the filter's metrics.

use std::borrow::Cow;

use super::Refusal;
use crate::jose::Algorithm;

/// How a reconcile call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileOutcome {
    /// 200 and headers injected.
    Allowed,
    /// 401, 403 or 404 from the auth service.
    Denied,
    /// Transport failure, timeout or bad answer: the request was refused.
    Failed,
    /// Failed, but `failure_mode_allow` let the request through.
    FailedOpen,
}

/// One countable event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A request went on to the upstream.
    Allowed,
    /// A request was refused by the filter (counted by [`Refusal::reason`]).
    Denied(Refusal),
    /// The JWKS endpoint answered.
    JwksServed,
    /// A token's signature verified, by algorithm.
    Verified(Algorithm),
    /// A token was found in the verified-token cache (no signature check).
    TokenCacheHit,
    /// A token was minted, by algorithm.
    Minted(Algorithm),
    /// A reconcile call ended.
    Reconcile(ReconcileOutcome),
    /// A reconcile answer came from the cache.
    ReconcileCacheHit,
    /// A JWKS fetch ended (true: a new set).
    JwksFetch(bool),
    /// A stage rejected a credential the request presented and went on as its `anonymous`
    /// consumer (by the rejection's reason): a flood of forged tokens shows here.
    AnonymousFallback(&'static str),
    /// An auth-service answer key was not injected (logged by key, never its value).
    ReconcileKeyRefused {
        /// The key, sanitised for the log.
        key: String,
        /// Why ([`crate::stages::reconcile::RefusalReason::name`]).
        reason: &'static str,
    },
}

impl Event {
    /// The counter this event increments (Envoy shows it as `wasmcustom.<name>`).
    pub fn metric(&self) -> Cow<'static, str> {
        // A fixed name is borrowed: the commonest events (allowed, a cached token) allocate
        // nothing to be counted.
        match self {
            Self::Allowed => "jwt_relay.requests_allowed".into(),
            Self::Denied(refusal) => {
                format!("jwt_relay.requests_denied.{}", refusal.reason()).into()
            }
            Self::JwksServed => "jwt_relay.jwks_served".into(),
            Self::Verified(alg) => format!("jwt_relay.tokens_verified.{}", alg.name()).into(),
            Self::TokenCacheHit => "jwt_relay.token_cache_hits".into(),
            Self::Minted(alg) => format!("jwt_relay.tokens_minted.{}", alg.name()).into(),
            Self::Reconcile(outcome) => format!(
                "jwt_relay.reconcile.{}",
                match outcome {
                    ReconcileOutcome::Allowed => "allowed",
                    ReconcileOutcome::Denied => "denied",
                    ReconcileOutcome::Failed => "failed",
                    ReconcileOutcome::FailedOpen => "failed_open",
                }
            )
            .into(),
            Self::ReconcileCacheHit => "jwt_relay.reconcile_cache_hits".into(),
            Self::ReconcileKeyRefused { .. } => "jwt_relay.reconcile_keys_refused".into(),
            Self::JwksFetch(ok) => {
                format!("jwt_relay.jwks_fetch.{}", if *ok { "ok" } else { "failed" }).into()
            }
            Self::AnonymousFallback(reason) => {
                format!("jwt_relay.anonymous_fallbacks.{reason}").into()
            }
        }
    }
}

/// Histogram of reconcile call latency, in milliseconds.
pub const RECONCILE_LATENCY_MS: &str = "jwt_relay.reconcile_latency_ms";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_stable() {
        assert_eq!(
            Event::Denied(crate::stages::Refusal::ReconcileFailed).metric(),
            "jwt_relay.requests_denied.reconcile_failed"
        );
        assert_eq!(
            Event::Verified(Algorithm::RS256).metric(),
            "jwt_relay.tokens_verified.RS256"
        );
        assert_eq!(
            Event::Reconcile(ReconcileOutcome::FailedOpen).metric(),
            "jwt_relay.reconcile.failed_open"
        );
        assert_eq!(
            Event::JwksFetch(false).metric(),
            "jwt_relay.jwks_fetch.failed"
        );
    }
}
