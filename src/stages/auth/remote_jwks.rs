//! A JWKS fetched over `dispatch_http_call`: at startup and in the background (root context,
//! `on_tick`), and again when a token names an unknown `kid` (rate-limited). A failed fetch keeps
//! the last good set. The set is public, so its `oct` keys are never used (see
//! [`JwkSet::parse_published`]): they are dropped at parse and only counted for the log.

use crate::config::{ConfigError, JwksUriSection};
use crate::jose::JwkSet;
use crate::stages::url::parse_url;
use crate::stages::{CallAnswer, CallSpec};
use std::collections::VecDeque;

/// Window of the unknown-`kid` refetch limit, in seconds.
pub const REFETCH_WINDOW_SECONDS: u64 = 60;
/// Refetches for unknown `kid`s allowed per window (a client sending random kids cannot make
/// the filter fetch more often than this).
pub const REFETCH_PER_WINDOW: usize = 10;
/// Seconds between attempts after a failed background fetch.
pub const RETRY_SECONDS: u64 = 5;

/// The compiled `jwks_uri`.
#[derive(Debug, Clone)]
pub struct RemoteJwks {
    call: CallSpec,
    cache_seconds: u64,
}

/// Compiles `jwt.jwks_uri`.
pub fn compile(section: &JwksUriSection) -> Result<RemoteJwks, ConfigError> {
    let url = parse_url(&section.url).map_err(|p| ConfigError::new("jwt.jwks_uri.url", p))?;
    let upstream = url
        .target(section.upstream.as_deref())
        .map_err(|p| ConfigError::new("jwt.jwks_uri.upstream", p))?;
    let timeout_ms = u32::try_from(section.timeout_ms)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| ConfigError::new("jwt.jwks_uri.timeout_ms", "must be 1 to 4294967295"))?;
    if section.cache_seconds == 0 {
        return Err(ConfigError::new(
            "jwt.jwks_uri.cache_seconds",
            "must be greater than 0",
        ));
    }
    let headers = [
        (":method", "GET".to_string()),
        (":path", url.path_and_query()),
        (":authority", url.authority.clone()),
        (":scheme", url.scheme.to_string()),
        ("accept", "application/json".to_string()),
    ];
    Ok(RemoteJwks {
        call: CallSpec {
            upstream,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            body: Vec::new(),
            timeout_ms,
        },
        cache_seconds: section.cache_seconds,
    })
}

impl RemoteJwks {
    /// The fetch call.
    pub fn call(&self) -> CallSpec {
        self.call.clone()
    }
}

/// What this VM knows of the remote set.
#[derive(Debug, Default)]
pub struct JwksState {
    /// The last good set.
    pub set: Option<JwkSet>,
    fetched_at: Option<u64>,
    attempted_at: Option<u64>,
    in_flight: bool,
    refetches: VecDeque<(String, u64)>,
}

/// The outcome of reading a fetch's answer, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new set with `keys` usable keys; `ignored_oct` `oct` keys in it were dropped.
    Updated {
        /// Usable keys.
        keys: usize,
        /// `oct` keys dropped (a published HMAC secret is no secret).
        ignored_oct: usize,
    },
    /// The fetch failed; the last good set (if any) stays. The reason never holds key material.
    Failed(String),
}

impl JwksState {
    /// True when the background refresh should fetch now.
    pub fn refresh_due(&self, remote: &RemoteJwks, now: u64) -> bool {
        if self.in_flight {
            return false;
        }
        let retry_ok = self
            .attempted_at
            .is_none_or(|a| now >= a.saturating_add(RETRY_SECONDS));
        let stale = self
            .fetched_at
            .is_none_or(|f| now >= f.saturating_add(remote.cache_seconds));
        stale && retry_ok
    }

    /// True (and counted) when a token's unknown `kid` may trigger a fetch now.
    pub fn allow_refetch(&mut self, kid: &str, now: u64) -> bool {
        if self.in_flight {
            return false;
        }
        let since = now.saturating_sub(REFETCH_WINDOW_SECONDS);
        self.refetches.retain(|(_, at)| *at > since);
        if self.refetches.len() >= REFETCH_PER_WINDOW
            || self.refetches.iter().any(|(k, _)| k == kid)
        {
            return false;
        }
        self.refetches.push_back((kid.to_string(), now));
        true
    }

    /// A fetch was dispatched.
    pub fn started(&mut self, now: u64) {
        self.in_flight = true;
        self.attempted_at = Some(now);
    }

    /// Reads a fetch's answer; a bad answer keeps the last good set.
    pub fn finish(&mut self, answer: &CallAnswer, now: u64) -> Fetched {
        self.in_flight = false;
        let parsed = match answer.status {
            Some(200) => std::str::from_utf8(&answer.body)
                .map_err(|_| "answer is not UTF-8".to_string())
                .and_then(|text| JwkSet::parse_published(text).map_err(|e| e.to_string())),
            Some(status) => Err(format!("status {status}")),
            None => Err("no answer (reset, refused or timeout)".to_string()),
        };
        match parsed {
            Ok(set) if !set.keys().is_empty() => {
                let fetched = Fetched::Updated {
                    keys: set.keys().len(),
                    ignored_oct: set.ignored_oct(),
                };
                self.set = Some(set);
                self.fetched_at = Some(now);
                fetched
            }
            Ok(set) => Fetched::Failed(format!(
                "no usable key in the set{}",
                ignored_note(set.ignored_oct())
            )),
            Err(e) => Fetched::Failed(e),
        }
    }
}

/// `` (N oct keys ignored)`` when a fetched set held `oct` keys: the count, never a key.
pub fn ignored_note(ignored_oct: usize) -> String {
    if ignored_oct == 0 {
        return String::new();
    }
    format!(" ({ignored_oct} oct keys ignored: a published JWKS holds no secret)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(cache: u64) -> RemoteJwks {
        compile(&JwksUriSection {
            url: "https://idp.example/keys?v=1".into(),
            upstream: None,
            timeout_ms: 1000,
            cache_seconds: cache,
        })
        .unwrap()
    }

    /// One public key (RFC 8037 A.2's Ed25519 key).
    const SET: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    /// The same public key, and `oct` keys: one sharing its `kid`, one alone.
    const WITH_OCT: &str = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"},{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kty":"oct","k":"c2VjcmV0LTI","kid":"h","alg":"HS256"}]}"#;
    const ONLY_OCT: &str =
        r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"a"},{"kty":"oct","k":"c2VjcmV0LTI"}]}"#;

    fn answer(status: Option<u16>, body: &str) -> CallAnswer {
        CallAnswer {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn compile_builds_call_to_url_host_port() {
        let call = remote(60).call();
        assert_eq!(call.upstream, "idp.example:443");
        assert!(call.headers.contains(&(":path".into(), "/keys?v=1".into())));
        assert!(call
            .headers
            .contains(&(":authority".into(), "idp.example".into())));
    }

    #[test]
    fn finish_failure_keeps_last_good_set() {
        let mut s = JwksState::default();
        assert_eq!(
            s.finish(&answer(Some(200), SET), 10),
            Fetched::Updated {
                keys: 1,
                ignored_oct: 0
            }
        );
        assert!(matches!(
            s.finish(&answer(None, ""), 20),
            Fetched::Failed(_)
        ));
        assert!(matches!(
            s.finish(&answer(Some(200), "nope"), 30),
            Fetched::Failed(_)
        ));
        assert!(matches!(
            s.finish(&answer(Some(500), SET), 40),
            Fetched::Failed(_)
        ));
        assert_eq!(s.set.as_ref().unwrap().keys().len(), 1);
    }

    #[test]
    fn finish_oct_keys_are_dropped_and_counted() {
        let mut s = JwksState::default();
        assert_eq!(
            s.finish(&answer(Some(200), WITH_OCT), 10),
            Fetched::Updated {
                keys: 1,
                ignored_oct: 2
            }
        );
        let set = s.set.as_ref().unwrap();
        for kid in [Some("a"), Some("h"), None] {
            let hs = crate::jose::Algorithm::HS256;
            assert_eq!(set.candidates(kid, hs).count(), 0, "{kid:?}");
        }
        let ed = crate::jose::Algorithm::EdDSA;
        assert_eq!(set.candidates(Some("a"), ed).count(), 1);
    }

    #[test]
    fn finish_only_oct_keys_fails_with_count_and_keeps_last_set() {
        let mut s = JwksState::default();
        s.finish(&answer(Some(200), SET), 10);
        let Fetched::Failed(why) = s.finish(&answer(Some(200), ONLY_OCT), 20) else {
            panic!("an oct-only set must not replace the last good set");
        };
        assert_eq!(
            why,
            "no usable key in the set (2 oct keys ignored: a published JWKS holds no secret)"
        );
        let set = s.set.as_ref().unwrap();
        assert_eq!(set.keys().len(), 1);
        assert_eq!(set.ignored_oct(), 0);
    }

    #[test]
    fn refresh_due_after_cache_seconds_and_retry_delay() {
        let r = remote(60);
        let mut s = JwksState::default();
        assert!(s.refresh_due(&r, 0));
        s.started(0);
        assert!(!s.refresh_due(&r, 1), "in flight");
        s.finish(&answer(Some(200), SET), 1);
        assert!(!s.refresh_due(&r, 60));
        assert!(s.refresh_due(&r, 61));
        s.started(61);
        s.finish(&answer(None, ""), 61);
        assert!(!s.refresh_due(&r, 62), "retry waits");
        assert!(s.refresh_due(&r, 61 + RETRY_SECONDS));
    }

    #[test]
    fn allow_refetch_once_per_kid_and_bounded_per_window() {
        let mut s = JwksState::default();
        assert!(s.allow_refetch("k1", 100));
        assert!(!s.allow_refetch("k1", 101));
        for i in 2..=REFETCH_PER_WINDOW {
            assert!(s.allow_refetch(&format!("k{i}"), 102));
        }
        assert!(!s.allow_refetch("another", 103));
        assert!(s.allow_refetch("another", 103 + REFETCH_WINDOW_SECONDS));
    }
}
