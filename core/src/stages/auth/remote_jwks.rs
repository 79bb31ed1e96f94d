//! A JWKS fetched over `dispatch_http_call`: at startup and in the background (root context,
//! `on_tick`), and again when a token names an unknown `kid` (rate-limited). A failed fetch keeps
//! the last good set. The set is public, so its `oct` keys are never used (see
//! [`JwkSet::parse_published`]): they are dropped at parse and only counted for the log.

use crate::config::{ConfigError, JwksUriSection};
use crate::jose::JwkSet;
use crate::stages::url::parse_url;
use crate::stages::{CallAnswer, CallSpec, MAX_CALL_TIMEOUT_MS};
use std::collections::VecDeque;

/// Window of the unknown-`kid` refetch limit, in seconds.
pub const REFETCH_WINDOW_SECONDS: u64 = 60;
/// Refetches for unknown `kid`s allowed per window (a client sending random kids cannot make
/// the filter fetch more often than this).
pub const REFETCH_PER_WINDOW: usize = 10;
/// Seconds between attempts after a failed background fetch.
pub const RETRY_SECONDS: u64 = 5;
/// Seconds past a fetch's own timeout after which a fetch with no answer counts as lost.
pub const LOST_MARGIN_SECONDS: u64 = 5;

/// The compiled `jwks_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteJwks {
    call: CallSpec,
    cache_seconds: u64,
}

/// Compiles `jwt.jwks_uri`.
pub fn compile(section: &JwksUriSection) -> Result<RemoteJwks, ConfigError> {
    if section.url.is_empty() {
        return Err(ConfigError::new("jwt.jwks_uri.url", "missing field"));
    }
    let url = parse_url(&section.url).map_err(|p| ConfigError::new("jwt.jwks_uri.url", p))?;
    let upstream = url
        .target(section.upstream.as_deref())
        .map_err(|p| ConfigError::new("jwt.jwks_uri.upstream", p))?;
    let timeout_ms = u32::try_from(section.timeout_ms)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| ConfigError::new("jwt.jwks_uri.timeout_ms", "must be 1 to 4294967295"))?
        .min(MAX_CALL_TIMEOUT_MS);
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

    /// Seconds after its start at which a fetch with no answer is lost: the host ends every
    /// call it still owns by its timeout (with an answer or a failure), so past the timeout and
    /// a margin no callback is coming.
    fn lost_after(&self) -> u64 {
        u64::from(self.call.timeout_ms)
            .div_ceil(1000)
            .saturating_add(LOST_MARGIN_SECONDS)
    }
}

/// What this VM knows of the remote set, and the fetches in flight.
///
/// Fetching must not depend on any one request surviving. A re-fetch for an unknown `kid` is
/// dispatched from that request's context, and the host drops the call with the stream when the
/// client goes away: no callback ever comes. A root context cannot take the fetch over (it
/// would have to resume the request, which would forward it undecided). So:
/// - the background refresh (root context) and a request's re-fetch are tracked apart, and the
///   background refresh never waits for a request's: no client can hold off key rotation;
/// - every in-flight mark has a deadline (the call's timeout plus [`LOST_MARGIN_SECONDS`]);
///   past it the fetch counts as lost and the mark is cleared;
/// - a request destroyed while its re-fetch is in flight abandons it at once
///   ([`JwksState::abandon_refetch`], from the HTTP context's `on_done`);
/// - a lost or abandoned re-fetch gives back its `kid`'s once-per-window allowance (the key may
///   well be new: the next request naming it may fetch again), but still counts toward the
///   per-window bound: the identity provider did get the request, and a client that opens and
///   drops connections cannot make the filter fetch more than [`REFETCH_PER_WINDOW`] times a
///   window;
/// - at most one fetch of each kind is in flight, and no re-fetch starts while the background
///   fetch is in flight: a token naming a `kid` first seen meanwhile is decided with the set
///   held (a request cannot wait on another context's call: Kong's engine resumes none), so an
///   issuer should publish a key before it signs with it;
/// - a re-fetch refused for the window's bound brings the background refresh forward to when
///   the window admits one again.
#[derive(Debug, Default)]
pub struct JwksState {
    /// The last good set.
    pub set: Option<JwkSet>,
    fetched_at: Option<u64>,
    /// When the background fetch last started.
    attempted_at: Option<u64>,
    /// The background fetch (root context) is in flight, since `attempted_at`.
    in_flight: bool,
    /// The request-side re-fetch in flight.
    refetch: Option<Refetch>,
    next_ticket: u64,
    /// Re-fetches started in the current window.
    refetches: VecDeque<Counted>,
    /// The answer body `set` was read from: a fetch answering the same bytes changes nothing.
    body: Vec<u8>,
    /// When the window next admits a fetch, once a re-fetch was refused for its bound: the
    /// background refresh fetches then, not `cache_seconds` later (review helper-105: ten
    /// made-up `kid`s a minute held off a new key for the whole `cache_seconds`).
    wanted_at: Option<u64>,
}

/// Names one request-side re-fetch, so that only its own request ends or abandons it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// A request-side re-fetch in flight.
#[derive(Debug)]
struct Refetch {
    ticket: Ticket,
    kid: String,
    /// When it counts as lost (seconds).
    lost_at: u64,
}

/// A re-fetch counted in the window; `kid` is `None` once a lost fetch gave it back.
#[derive(Debug)]
struct Counted {
    kid: Option<String>,
    at: u64,
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
        /// Keys published with their private members, kept as their public half.
        private_ignored: usize,
        /// The set's bytes differ from the last good set's: only then can a key have gone,
        /// and only then are the tokens verified so far forgotten (anyone can make the filter
        /// re-fetch an unchanged set, ten times a minute, with a made-up `kid`).
        changed: bool,
    },
    /// The fetch failed; the last good set (if any) stays. The reason never holds key material.
    Failed(String),
}

impl JwksState {
    /// A new configuration's state, fetching the same set (`url`, `upstream` and timeout
    /// alike): the last good set and its age go on, so tokens keep verifying across a
    /// configuration push instead of being refused until the first fetch lands (review
    /// helper-116: 1,204 of 9,036 requests refused within 0.3 s of an unrelated change). No
    /// fetch of the old configuration carries over, nor its re-fetch window.
    pub fn carried(&self) -> Self {
        Self {
            set: self.set.clone(),
            fetched_at: self.fetched_at,
            body: self.body.clone(),
            ..Self::default()
        }
    }

    /// True when the background refresh should fetch now (a re-fetch in flight does not delay
    /// it; a background fetch in flight does, until its deadline).
    pub fn refresh_due(&self, remote: &RemoteJwks, now: u64) -> bool {
        if self.background_busy(remote, now) {
            return false;
        }
        let retry_ok = self
            .attempted_at
            .is_none_or(|a| now >= a.saturating_add(RETRY_SECONDS));
        let stale = self
            .fetched_at
            .is_none_or(|f| now >= f.saturating_add(remote.cache_seconds));
        let wanted = self.wanted_at.is_some_and(|w| now >= w);
        (stale || wanted) && retry_ok
    }

    /// Starts (and counts) a re-fetch for a token's unknown `kid`, when one may go now: no
    /// fetch in flight, the `kid` not fetched yet this window, the window's bound not reached.
    /// The request keeps the ticket to end the fetch ([`Self::finish_refetch`]) or abandon it.
    pub fn begin_refetch(&mut self, kid: &str, now: u64, remote: &RemoteJwks) -> Option<Ticket> {
        self.expire_refetch(now);
        if self.refetch.is_some() || self.background_busy(remote, now) {
            return None;
        }
        let since = now.saturating_sub(REFETCH_WINDOW_SECONDS);
        self.refetches.retain(|c| c.at > since);
        if self.refetches.len() >= REFETCH_PER_WINDOW {
            let free = self
                .refetches
                .front()
                .map(|c| c.at + REFETCH_WINDOW_SECONDS);
            self.wanted_at = self.wanted_at.or(free);
            return None;
        }
        if self.refetches.iter().any(|c| c.kid.as_deref() == Some(kid)) {
            return None;
        }
        self.refetches.push_back(Counted {
            kid: Some(kid.to_string()),
            at: now,
        });
        let ticket = Ticket(self.next_ticket);
        self.next_ticket = self.next_ticket.wrapping_add(1);
        self.refetch = Some(Refetch {
            ticket,
            kid: kid.to_string(),
            lost_at: now.saturating_add(remote.lost_after()),
        });
        Some(ticket)
    }

    /// Reads a re-fetch's answer. A late answer (its fetch already counted as lost) still
    /// updates the set: the answer itself is good.
    pub fn finish_refetch(&mut self, ticket: Ticket, answer: &CallAnswer, now: u64) -> Fetched {
        if self.refetch.as_ref().is_some_and(|r| r.ticket == ticket) {
            self.refetch = None;
        }
        self.store(answer, now)
    }

    /// The request waiting for this re-fetch is gone (the host dropped the call with it): the
    /// fetch is lost. True when it was still in flight.
    pub fn abandon_refetch(&mut self, ticket: Ticket) -> bool {
        match self.refetch.take() {
            Some(r) if r.ticket == ticket => {
                self.give_back(&r.kid);
                true
            }
            other => {
                self.refetch = other;
                false
            }
        }
    }

    /// Clears a re-fetch past its deadline.
    fn expire_refetch(&mut self, now: u64) {
        if let Some(r) = self.refetch.take_if(|r| now >= r.lost_at) {
            self.give_back(&r.kid);
        }
    }

    /// A lost fetch gives back its `kid`'s allowance but stays counted in the window.
    fn give_back(&mut self, kid: &str) {
        if let Some(c) = self
            .refetches
            .iter_mut()
            .find(|c| c.kid.as_deref() == Some(kid))
        {
            c.kid = None;
        }
    }

    /// The background fetch is in flight and not yet past its deadline.
    fn background_busy(&self, remote: &RemoteJwks, now: u64) -> bool {
        self.in_flight
            && self
                .attempted_at
                .is_some_and(|a| now < a.saturating_add(remote.lost_after()))
    }

    /// The background fetch was dispatched.
    pub fn started(&mut self, now: u64) {
        self.in_flight = true;
        self.attempted_at = Some(now);
        // A refresh brought forward takes the window's freed place: no more fetches a minute
        // than the bound (review helper-111: each freed place made two).
        if self.wanted_at.take().is_some_and(|w| now >= w) {
            self.refetches.push_back(Counted { kid: None, at: now });
        }
    }

    /// Reads the background fetch's answer.
    pub fn finish(&mut self, answer: &CallAnswer, now: u64) -> Fetched {
        self.in_flight = false;
        self.store(answer, now)
    }

    /// Reads a fetch's answer; a failed fetch keeps the last good set. A set that parses is the
    /// publisher's word, also with no usable key in it (`{"keys":[]}`, only `oct` keys, only
    /// key types the filter does not verify with): a key taken out of it stops verifying, as
    /// when an identity provider pulls its only (compromised) key.
    fn store(&mut self, answer: &CallAnswer, now: u64) -> Fetched {
        if let Some(unchanged) = self.unchanged(answer, now) {
            return unchanged;
        }
        let parsed = match answer.status {
            Some(200) => std::str::from_utf8(&answer.body)
                .map_err(|_| "answer is not UTF-8".to_string())
                .and_then(|text| JwkSet::parse_published(text).map_err(|e| e.to_string())),
            Some(status) => Err(format!("status {status}")),
            None => Err("no answer (reset, refused or timeout)".to_string()),
        };
        match parsed {
            Ok(set) => {
                let changed = self.set.is_none() || self.body != answer.body;
                let fetched = Fetched::Updated {
                    keys: set.keys().len(),
                    ignored_oct: set.ignored_oct(),
                    private_ignored: set.private_ignored().len(),
                    changed,
                };
                if changed {
                    self.body.clone_from(&answer.body);
                }
                // With no usable key the refresh looks again as after a failed fetch, not a
                // whole `cache_seconds` later: every token is refused meanwhile.
                self.fetched_at = (!set.keys().is_empty()).then_some(now);
                self.set = Some(set);
                fetched
            }
            Err(e) => Fetched::Failed(e),
        }
    }
}

impl JwksState {
    /// The outcome of an answer that repeats the last good set byte for byte, without parsing
    /// it again (anyone can make the filter re-fetch, ten times a minute, with a made-up `kid`).
    fn unchanged(&mut self, answer: &CallAnswer, now: u64) -> Option<Fetched> {
        let set = self.set.as_ref()?;
        if answer.status != Some(200) || self.body != answer.body {
            return None;
        }
        self.fetched_at = (!set.keys().is_empty()).then_some(now);
        Some(Fetched::Updated {
            keys: set.keys().len(),
            ignored_oct: set.ignored_oct(),
            private_ignored: set.private_ignored().len(),
            changed: false,
        })
    }
}

/// `` (N oct keys ignored)`` when a fetched set held `oct` keys, and `` (N keys published with
/// their private members...)`` when it held private keys: the counts, never a key.
pub fn ignored_note(ignored_oct: usize, private_ignored: usize) -> String {
    let mut note = String::new();
    if ignored_oct > 0 {
        note += &format!(" ({ignored_oct} oct keys ignored: a published JWKS holds no secret)");
    }
    if private_ignored > 0 {
        note += &format!(
            " ({private_ignored} keys published with their private members, read as public \
             keys: the publisher leaks its signing keys)"
        );
    }
    note
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

    /// Envoy refuses a call of 2^31 ms or more: a longer timeout waits that long (review
    /// helper-116: the set never loaded).
    #[test]
    fn timeouts_past_what_envoy_takes_wait_its_longest() {
        for (asked, waits) in [
            (1, 1),
            (2_147_483_647, 2_147_483_647),
            (4_294_967_295, 2_147_483_647),
        ] {
            let section = JwksUriSection {
                url: "https://idp.example/keys".into(),
                upstream: None,
                timeout_ms: asked,
                cache_seconds: 60,
            };
            assert_eq!(
                compile(&section).unwrap().call().timeout_ms,
                waits,
                "{asked}"
            );
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
                ignored_oct: 0,
                private_ignored: 0,
                changed: true
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

    /// Review: anyone can make the filter re-fetch ten times a minute; an answer repeating the
    /// last set byte for byte is not parsed again (the set kept is the same one).
    #[test]
    fn an_unchanged_set_is_not_parsed_again() {
        let mut s = JwksState::default();
        s.finish(&answer(Some(200), SET), 10);
        let kept = s.set.as_ref().unwrap().keys().as_ptr();
        let again = s.finish(&answer(Some(200), SET), 20);
        assert_eq!(
            again,
            Fetched::Updated {
                keys: 1,
                ignored_oct: 0,
                private_ignored: 0,
                changed: false
            }
        );
        assert_eq!(s.set.as_ref().unwrap().keys().as_ptr(), kept);
        assert!(!s.refresh_due(&remote(60), 79));
        // Another body is parsed; a failed status is a failure whatever its body.
        assert!(matches!(
            s.finish(&answer(Some(500), SET), 30),
            Fetched::Failed(_)
        ));
        let other = s.finish(&answer(Some(200), WITH_OCT), 40);
        assert!(matches!(other, Fetched::Updated { changed: true, .. }));
    }

    #[test]
    fn finish_oct_keys_are_dropped_and_counted() {
        let mut s = JwksState::default();
        assert_eq!(
            s.finish(&answer(Some(200), WITH_OCT), 10),
            Fetched::Updated {
                keys: 1,
                ignored_oct: 2,
                private_ignored: 0,
                changed: true
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

    /// Regression (review): a set with no usable key kept the last one, so a key its publisher
    /// pulled went on verifying until a restart. Every set that parses replaces it; a failed
    /// fetch (status, no answer, not a set) keeps it.
    #[test]
    fn a_set_with_no_usable_key_replaces_the_last_one() {
        let empty = r#"{"keys":[]}"#;
        let skipped = r#"{"keys":[{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}]}"#;
        for (body, ignored_oct) in [(empty, 0), (ONLY_OCT, 2), (skipped, 0)] {
            let mut s = JwksState::default();
            s.finish(&answer(Some(200), SET), 10);
            let fetched = s.finish(&answer(Some(200), body), 20);
            assert_eq!(
                fetched,
                Fetched::Updated {
                    keys: 0,
                    ignored_oct,
                    private_ignored: 0,
                    changed: true
                },
                "{body}"
            );
            assert!(s.set.as_ref().unwrap().keys().is_empty(), "{body}");
            // Looked at again as after a failed fetch (review), not `cache_seconds` later.
            let r = remote(600);
            s.started(20);
            s.finish(&answer(Some(200), body), 20);
            assert!(!s.refresh_due(&r, 20 + RETRY_SECONDS - 1), "{body}");
            assert!(s.refresh_due(&r, 20 + RETRY_SECONDS), "{body}");
        }
        for (status, body) in [
            (Some(500), SET),
            (None, ""),
            (Some(200), "{}"),
            (Some(200), "["),
        ] {
            let mut s = JwksState::default();
            s.finish(&answer(Some(200), SET), 10);
            assert!(matches!(
                s.finish(&answer(status, body), 20),
                Fetched::Failed(_)
            ));
            assert_eq!(s.set.as_ref().unwrap().keys().len(), 1, "{status:?} {body}");
        }
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

    /// A re-fetch begun and answered (with a failure) at `now`; false when none could begin.
    fn refetch(s: &mut JwksState, kid: &str, now: u64) -> bool {
        let Some(ticket) = s.begin_refetch(kid, now, &remote(60)) else {
            return false;
        };
        s.finish_refetch(ticket, &answer(None, ""), now);
        true
    }

    #[test]
    fn refetch_once_per_kid_and_bounded_per_window() {
        let mut s = JwksState::default();
        assert!(refetch(&mut s, "k1", 100));
        assert!(!refetch(&mut s, "k1", 101));
        for i in 2..=REFETCH_PER_WINDOW {
            assert!(refetch(&mut s, &format!("k{i}"), 102));
        }
        assert!(!refetch(&mut s, "another", 103));
        assert!(refetch(&mut s, "another", 103 + REFETCH_WINDOW_SECONDS));
    }

    /// Review helper-105: made-up `kid`s spending the window's bound held off a new key until
    /// the refresh `cache_seconds` later; the refresh now comes when the window admits a fetch.
    #[test]
    fn a_spent_window_brings_the_background_refresh_forward() {
        let r = remote(600);
        let mut s = JwksState::default();
        s.started(0);
        s.finish(&answer(Some(200), SET), 0);
        for i in 0..REFETCH_PER_WINDOW {
            assert!(refetch(&mut s, &format!("junk{i}"), 100 + i as u64));
        }
        assert!(!s.refresh_due(&r, 110), "not before it is asked for");
        assert!(!refetch(&mut s, "new", 110), "the window is spent");
        assert!(!s.refresh_due(&r, 159));
        assert!(s.refresh_due(&r, 100 + REFETCH_WINDOW_SECONDS));
        s.started(160);
        s.finish(&answer(Some(200), SET), 161);
        assert!(!s.refresh_due(&r, 162), "once");
        // It holds a place of the window: at 162 the first three re-fetches (100 to 102) are
        // out of it, and two places are free, not three.
        assert!(refetch(&mut s, "late-1", 162));
        assert!(refetch(&mut s, "late-2", 162));
        assert!(!refetch(&mut s, "late-3", 162), "{:?}", s.refetches);
    }

    #[test]
    fn refetch_in_flight_holds_off_another_until_answered() {
        let (r, mut s) = (remote(60), JwksState::default());
        let t = s.begin_refetch("k1", 100, &r).unwrap();
        assert_eq!(s.begin_refetch("k2", 101, &r), None);
        s.finish_refetch(t, &answer(Some(200), SET), 101);
        assert!(s.begin_refetch("k2", 101, &r).is_some());
    }

    /// The fetch's timeout (1 s) plus the margin.
    const LOST_AFTER: u64 = 1 + LOST_MARGIN_SECONDS;

    #[test]
    fn refetch_without_answer_is_lost_at_deadline_and_gives_back_its_kid() {
        let (r, mut s) = (remote(60), JwksState::default());
        assert!(s.begin_refetch("k1", 100, &r).is_some());
        // The client vanished and the host dropped the call: no answer, no on_done.
        assert_eq!(s.begin_refetch("k2", 100 + LOST_AFTER - 1, &r), None);
        let t = s.begin_refetch("k1", 100 + LOST_AFTER, &r);
        assert!(t.is_some(), "lost: k1 may be fetched again");
    }

    #[test]
    fn refetch_abandoned_clears_at_once_and_still_counts_in_the_window() {
        let (r, mut s) = (remote(60), JwksState::default());
        for i in 1..REFETCH_PER_WINDOW {
            assert!(refetch(&mut s, &format!("k{i}"), 100));
        }
        let t = s.begin_refetch("new", 100, &r).unwrap();
        assert!(s.abandon_refetch(t));
        assert!(!s.abandon_refetch(t), "once");
        // The kid's allowance is back, but the window's bound counts the lost fetch.
        assert_eq!(s.begin_refetch("new", 101, &r), None);
        let t = s.begin_refetch("new", 100 + REFETCH_WINDOW_SECONDS, &r);
        assert!(t.is_some());
    }

    #[test]
    fn abandon_of_an_expired_ticket_leaves_the_newer_fetch_alone() {
        let (r, mut s) = (remote(60), JwksState::default());
        let old = s.begin_refetch("k1", 100, &r).unwrap();
        let new = s.begin_refetch("k2", 100 + LOST_AFTER, &r).unwrap();
        assert!(!s.abandon_refetch(old));
        assert_eq!(
            s.begin_refetch("k3", 100 + LOST_AFTER, &r),
            None,
            "k2 in flight"
        );
        // A late answer to the lost fetch still updates the set, and k2 stays in flight.
        s.finish_refetch(old, &answer(Some(200), SET), 100 + LOST_AFTER);
        assert!(s.set.is_some());
        assert_eq!(s.begin_refetch("k3", 100 + LOST_AFTER, &r), None);
        s.finish_refetch(new, &answer(None, ""), 100 + LOST_AFTER);
        assert!(s.begin_refetch("k3", 100 + LOST_AFTER, &r).is_some());
    }

    #[test]
    fn refresh_due_is_not_held_off_by_a_request_refetch() {
        let (r, mut s) = (remote(60), JwksState::default());
        s.started(0);
        s.finish(&answer(Some(200), SET), 0);
        assert!(s.begin_refetch("k1", 59, &r).is_some());
        assert!(
            s.refresh_due(&r, 60),
            "a stalled request never delays rotation"
        );
    }

    #[test]
    fn background_fetch_without_answer_is_lost_at_deadline() {
        let (r, mut s) = (remote(60), JwksState::default());
        s.started(0);
        assert!(!s.refresh_due(&r, LOST_AFTER - 1));
        assert_eq!(s.begin_refetch("k1", LOST_AFTER - 1, &r), None);
        assert!(s.refresh_due(&r, LOST_AFTER));
        assert!(s.begin_refetch("k1", LOST_AFTER, &r).is_some());
    }
}
