//! The authenticated identity: one typed value that later stages (reconcile, mint) read.

use super::consumers::Consumer;
use crate::config::Secret;
use serde_json::{Map, Value};
use std::sync::Arc;

/// How the caller was identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A verified JWT.
    Jwt {
        /// Verified claims (shared with the verified-token cache).
        claims: Arc<Map<String, Value>>,
    },
    /// An API key (key-auth).
    ApiKey {
        /// The key key-auth verified, from where it found it; `None` when `hide_credentials`
        /// keeps it from the upstream (then nothing built for the upstream may carry it).
        key: Option<Secret<String>>,
        /// The header it came in (lower-case); `None` for the query string.
        header: Option<String>,
    },
    /// Basic-auth user name and password.
    Basic {
        /// The user name.
        username: String,
    },
    /// No credential: the configured anonymous consumer.
    Anonymous,
}

/// Who the request is from, as verified by the authentication stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The consumer, when one is mapped (a JWKS-verified token may have none).
    pub consumer: Option<Consumer>,
    /// `X-Credential-Identifier`: the jwt credential key, key-auth credential id, basic user name.
    pub credential: Option<String>,
    /// How it came in.
    pub via: Via,
}

impl Identity {
    /// True for the anonymous fallback.
    pub fn is_anonymous(&self) -> bool {
        self.via == Via::Anonymous
    }

    /// Verified JWT claims, if the identity came from a token.
    pub fn claims(&self) -> Option<&Map<String, Value>> {
        match &self.via {
            Via::Jwt { claims } => Some(claims.as_ref()),
            _ => None,
        }
    }
}
