//! The root context: reads and compiles the configuration once, then hands it to every request.

use super::abi::{self, ids};
use super::host::{Host, HostKind, Level, ProxyWasmHost};
use jwt_relay_core::config;
use jwt_relay_core::jose::jwk::MAX_JWKS_LEN;
use jwt_relay_core::stages::auth::remote_jwks::{self, Fetched};
use jwt_relay_core::stages::Pipeline;
use jwt_relay_core::stages::{CallAnswer, Shared};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use zeroize::Zeroizing;

/// Owns the compiled configuration and the VM's shared state; HTTP contexts share both
/// through an `Rc`.
#[derive(Default)]
pub struct Root {
    config: Option<Rc<Pipeline>>,
    shared: Rc<RefCell<Shared>>,
    /// Token of the background JWKS fetch in flight.
    fetching: Option<u32>,
    metrics: Rc<RefCell<super::metrics::Metrics>>,
    /// The proxy, learnt at the VM's first request.
    kind: Rc<Cell<Option<HostKind>>>,
}

/// Tick period of the background JWKS refresh, in milliseconds.
const TICK_MS: u32 = 1000;

/// The metric event of a JWKS fetch outcome: a set with no usable key counts as failed, since
/// every token is refused with it.
pub fn fetch_event(fetched: &Fetched) -> jwt_relay_core::stages::events::Event {
    let usable = matches!(fetched, Fetched::Updated { keys, .. } if *keys > 0);
    jwt_relay_core::stages::events::Event::JwksFetch(usable)
}

/// Logs a JWKS fetch outcome (never the keys): one line per fetch, a warning when the set held
/// `oct` keys (its publisher leaks HMAC secrets; the count is all that is logged) or no usable
/// key (every token is refused until it has one).
pub fn log_fetch(host: &impl Host, fetched: &Fetched) {
    match fetched {
        Fetched::Updated {
            keys,
            ignored_oct,
            private_ignored,
            ..
        } => {
            let level = if *ignored_oct > 0 || *private_ignored > 0 || *keys == 0 {
                Level::Warn
            } else {
                Level::Info
            };
            let note = remote_jwks::ignored_note(*ignored_oct, *private_ignored);
            let none = if *keys == 0 {
                ": no usable key, every token is refused until the set has one"
            } else {
                ""
            };
            host.log(
                level,
                &format!("jwt-relay: JWKS fetched: {keys} keys{note}{none}"),
            );
        }
        Fetched::Failed(why) => host.log(
            Level::Warn,
            &format!("jwt-relay: JWKS fetch failed, keeping the last good set: {why}"),
        ),
    }
}

impl Root {
    /// The configuration, once `configure` succeeded.
    pub fn config(&self) -> Option<Rc<Pipeline>> {
        self.config.clone()
    }

    /// Metric ids shared by this VM's contexts.
    pub fn metrics(&self) -> Rc<RefCell<super::metrics::Metrics>> {
        self.metrics.clone()
    }

    /// State shared by this VM's requests (caches).
    pub fn shared(&self) -> Rc<RefCell<Shared>> {
        self.shared.clone()
    }

    /// The host adapter of this VM.
    pub fn host(&self) -> ProxyWasmHost {
        ProxyWasmHost::new(self.kind.clone())
    }

    /// `on_configure`: false refuses the configuration (Envoy will not start, or NACKs an
    /// update); see [`Self::refuse`] for Kong.
    pub fn configure(&mut self) -> bool {
        let host = self.host();
        let host = &host;
        match abi::buffer(ids::PLUGIN_CONFIGURATION, 0, usize::MAX) {
            // The text holds every secret of the configuration: wiped once read.
            Ok(bytes) => self.configure_from(host, &Zeroizing::new(bytes.unwrap_or_default())),
            Err(status) => self.refuse(host, &format!("unreadable (host status {status})")),
        }
    }

    /// A configuration the filter cannot serve. Envoy refuses it when told (`false`): it will
    /// not start, or it NACKs the update and keeps serving the last one. Kong must not be told:
    /// it then builds no filter chain at all and proxies the routes the chain covered without
    /// the filter (`kong/runloop/wasm.lua`: a chain that fails to load is dropped, and a route
    /// without a chain goes on). There the refusal becomes the configuration: every request is
    /// answered 500 until a configuration loads.
    fn refuse(&mut self, host: &impl Host, why: &str) -> bool {
        if host.refuses_configurations() {
            host.log(
                Level::Error,
                &format!("jwt-relay: configuration rejected: {why}"),
            );
            return false;
        }
        host.log(
            Level::Error,
            &format!(
                "jwt-relay: configuration rejected: {why}; every request is answered 500 \
                 until a configuration loads"
            ),
        );
        self.config = None;
        self.fetching = None;
        true
    }

    /// Compiles `bytes`; logs and refuses on error ([`Self::refuse`]: on Envoy any previous
    /// configuration stays untouched).
    /// Environment variables a configuration names (`upstream_jwt.private_key_env`) are read
    /// from the VM's environment.
    pub fn configure_from(&mut self, host: &impl Host, bytes: &[u8]) -> bool {
        match Pipeline::load_with_env(bytes, &config::process_env) {
            Ok(config) => {
                // Caches belong to a configuration: a new one starts empty.
                config.warm_up();
                for warning in config.warnings() {
                    host.log(
                        Level::Warn,
                        &format!("jwt-relay: configuration warning: {warning}"),
                    );
                }
                let shared = {
                    let previous = self.shared.try_borrow().ok();
                    let old = self.config.as_deref().zip(previous.as_deref());
                    Shared::after(&config, old)
                };
                self.shared = Rc::new(RefCell::new(shared));
                if let Ok(mut m) = self.metrics.try_borrow_mut() {
                    m.configure(config.metrics);
                }
                // A fetch still in flight was for the old configuration's `jwks_uri`: its
                // answer must not become the new one's key set.
                self.fetching = None;
                let remote = config.auth.as_ref().and_then(|a| a.remote_jwks()).is_some();
                self.config = Some(Rc::new(config));
                if remote {
                    if let Err(e) = host.set_tick_period(TICK_MS) {
                        host.log(
                            Level::Warn,
                            &format!(
                                "jwt-relay: no background JWKS refresh (tick status {})",
                                e.status
                            ),
                        );
                    }
                }
                host.log(Level::Info, "jwt-relay: configuration loaded");
                true
            }
            Err(e) => self.refuse(host, &e.to_string()),
        }
    }
}

impl Root {
    /// `on_tick`: starts the background JWKS fetch when one is due.
    pub fn on_tick(&mut self, host: &mut impl Host) {
        let Some(config) = self.config.clone() else {
            return;
        };
        let Some(remote) = config.auth.as_ref().and_then(|a| a.remote_jwks()) else {
            return;
        };
        let Ok(now) = host.now() else { return };
        let Ok(mut shared) = self.shared.try_borrow_mut() else {
            return;
        };
        if !shared.jwks.refresh_due(remote, now) {
            return;
        }
        shared.jwks.started(now);
        match host.dispatch(&remote.call()) {
            Ok(token) => self.fetching = Some(token),
            Err(e) => {
                let fetched = shared.jwks.finish(&CallAnswer::default(), now);
                host.log(
                    Level::Warn,
                    &format!("jwt-relay: JWKS dispatch failed: {}", e.status),
                );
                log_fetch(host, &fetched);
                if let Ok(mut m) = self.metrics.try_borrow_mut() {
                    m.count(host, &fetch_event(&fetched));
                }
            }
        }
    }

    /// `on_http_call_response` in the root context: the background fetch's answer.
    pub fn on_call_response(&mut self, host: &mut impl Host, token: u32, body_size: usize) {
        if self.fetching != Some(token) {
            return;
        }
        self.fetching = None;
        let answer = host.call_answer(body_size, MAX_JWKS_LEN.saturating_add(1));
        let now = host.now().unwrap_or_default();
        let Ok(mut shared) = self.shared.try_borrow_mut() else {
            return;
        };
        let fetched = shared.finish_jwks(&answer, now);
        log_fetch(host, &fetched);
        drop(shared);
        if let Ok(mut m) = self.metrics.try_borrow_mut() {
            m.count(host, &fetch_event(&fetched));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::http::tests::FakeHost;
    use jwt_relay_core::stages::events::Event;

    /// Envoy is told of a refused configuration and keeps the last one; Kong must not be told
    /// (it would drop the filter chain and proxy without it), so there every request is
    /// answered 500 instead (review: a bad PEM, an unknown `anonymous` or an empty
    /// configuration left Kong's routes unprotected).
    #[test]
    fn a_refused_configuration_is_refused_on_envoy_and_fails_closed_on_kong() {
        let good = br#"{"key_auth": {}, "consumers": [{"id": "c", "keyauth_credentials": [{"key": "k"}]}]}"#;
        for bad in [&br#"{"jwt": {"#[..], b"", b" \n"] {
            for kong in [false, true] {
                let mut fake = FakeHost::default();
                fake.kong = kong;
                let mut root = Root::default();
                assert!(root.configure_from(&&mut fake, good));
                let accepted = root.configure_from(&&mut fake, bad);
                let logs = fake.logs.borrow();
                let last = logs.last().map(String::as_str).unwrap_or_default();
                assert!(
                    last.starts_with("jwt-relay: configuration rejected: ."),
                    "{last}"
                );
                if kong {
                    assert!(accepted && root.config().is_none());
                    assert!(
                        last.ends_with("every request is answered 500 until a configuration loads")
                    );
                } else {
                    assert!(!accepted && root.config().is_some(), "{last}");
                    assert!(!last.contains("answered 500"));
                }
            }
        }
    }

    /// A set with no usable key refuses every token: its fetch is counted as failed, so an
    /// alert on `jwks_fetch.failed` sees it (review).
    #[test]
    fn a_set_with_no_usable_key_counts_as_a_failed_fetch() {
        let updated = |keys| Fetched::Updated {
            keys,
            ignored_oct: 0,
            private_ignored: 0,
            changed: true,
        };
        assert_eq!(fetch_event(&updated(2)), Event::JwksFetch(true));
        assert_eq!(fetch_event(&updated(0)), Event::JwksFetch(false));
        let failed = Fetched::Failed("status 500".into());
        assert_eq!(fetch_event(&failed), Event::JwksFetch(false));
    }

    /// A configuration fetching the same JWKS keeps the set the last one fetched (review
    /// helper-116: tokens were refused until the new configuration's first fetch landed);
    /// one fetching another starts without a set.
    #[test]
    fn a_new_configuration_keeps_the_set_of_the_same_jwks_uri() {
        let config = |url: &str, realm: &str| {
            format!(r#"{{"jwt": {{"jwks_uri": {{"url": "{url}"}}, "realm": "{realm}"}}}}"#)
        };
        let set = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        let mut fake = FakeHost::default();
        let mut root = Root::default();
        assert!(root.configure_from(&&mut fake, config("http://idp/keys", "a").as_bytes()));
        let answer = CallAnswer {
            status: Some(200),
            headers: vec![],
            body: set.to_vec(),
        };
        root.shared().borrow_mut().finish_jwks(&answer, 1_000);
        let held = |root: &Root| root.shared().borrow().jwks.set.is_some();
        assert!(held(&root));
        assert!(root.configure_from(&&mut fake, config("http://idp/keys", "b").as_bytes()));
        assert!(held(&root), "the same jwks_uri: the set goes on");
        assert!(root.configure_from(&&mut fake, config("http://other/keys", "b").as_bytes()));
        assert!(!held(&root), "another jwks_uri: no set");
    }
}
