//! The `flow` target's driver: requests through [`Flow`] as the glue drives them, with the
//! checks every allowed request must pass.
//!
//! Checked on every request that goes on ([`Next::Continue`]):
//! - every header the filter sets, on the request or the response, has a safe name and value
//!   (no CR, LF, NUL or other control character), but for what a rewritten `:path` keeps of the
//!   client's own;
//! - the upstream never receives a client's copy, in any spelling, of a header only the filter
//!   may set (the consumer headers, claim headers, minted tokens, reconcile's guarded names):
//!   each one it receives is the filter's own value;
//! - with key-auth hiding keys in the body (`key_in_body` with `hide_credentials` and
//!   `anonymous`), the body the upstream gets holds, under a key name in any reading, no value
//!   but the verified key (none at all beside the anonymous consumer).

use super::fixtures::{Fixtures, T0};
use super::gen;
use crate::stages::auth::CONSUMER_HEADERS;
use crate::stages::flow::{Flow, Next};
use crate::stages::{
    headers, reconcile, urlenc, CallAnswer, HeaderEdit, HeaderEdits, Pipeline, Request, Shared,
};
use arbitrary::{Result, Unstructured};
use serde_json::Value;

/// Calls and body reads one request may go through before the driver gives up on it.
const MAX_STEPS: usize = 8;

pub(super) fn run(u: &mut Unstructured, fixtures: &Fixtures) -> Result<()> {
    let index = u.choose_index(fixtures.configs.len())?;
    let Some((name, config, owned)) = fixtures.configs.get(index) else {
        return Ok(());
    };
    let mut shared = Shared::for_config(config);
    let remote = config.auth.as_ref().and_then(|a| a.remote_jwks());
    if let Some(remote) = remote {
        if u.arbitrary()? && shared.jwks.refresh_due(remote, T0) {
            shared.jwks.started(T0);
            let answer = gen::call_answer(u, fixtures)?;
            let _ = shared.jwks.finish(&answer, T0);
        }
    }
    let requests = u.int_in_range(1..=3)?;
    for _ in 0..requests {
        let req = gen::request(u, fixtures)?;
        let mut driver = Driver {
            config,
            shared: &mut shared,
            owned,
            hides_body_keys: *name == "hidden-body-keys",
        };
        driver.request(u, fixtures, req)?;
    }
    Ok(())
}

struct Driver<'a> {
    config: &'a Pipeline,
    shared: &'a mut Shared,
    owned: &'a [&'static str],
    /// The fixture whose key-auth cuts keys out of the body.
    hides_body_keys: bool,
}

impl Driver<'_> {
    fn request(&mut self, u: &mut Unstructured, fixtures: &Fixtures, req: Request) -> Result<()> {
        let (mut flow, mut next) = Flow::start(self.config, self.shared, req);
        let mut sent = Vec::new();
        for _ in 0..MAX_STEPS {
            let _ = flow.guard_edits(self.config);
            next = match next {
                Next::ReadBody { max } => {
                    let body = gen::body(u)?;
                    sent.clone_from(&body);
                    let pieces = u.int_in_range(1..=3)?;
                    let size = body.len().div_ceil(pieces).max(1);
                    if body
                        .chunks(size)
                        .any(|c| flow.on_body_chunk(c, max).is_err())
                    {
                        break;
                    }
                    flow.on_body_end(self.config, self.shared)
                }
                Next::Dispatch(call) => {
                    let _ = (call.upstream.len(), call.headers.len(), call.timeout_ms);
                    if u.ratio(1, 16)? {
                        let _ = flow.abandon(self.shared);
                        break;
                    }
                    let answer = gen::call_answer(u, fixtures)?;
                    flow.on_call_answer(self.config, self.shared, &answer)
                }
                Next::Continue(edits) => {
                    self.check_allowed(&flow, &edits);
                    if self.hides_body_keys {
                        check_body_keys(&mut flow, &sent);
                    }
                    break;
                }
                Next::Serve(reply) => {
                    let _ = reply.body.len();
                    break;
                }
                Next::Refuse(refusal) => {
                    let reply = refusal.reply();
                    let _ = (refusal.reason(), refusal.detail(), reply.status);
                    break;
                }
            };
        }
        for event in flow.take_events() {
            let _ = event.metric();
        }
        Ok(())
    }

    fn check_allowed(&self, flow: &Flow, edits: &HeaderEdits) {
        for edit in &edits.0 {
            let (HeaderEdit::Set(name, _) | HeaderEdit::Remove(name)) = edit;
            // Removing a header by the name the client sent is safe whatever the name holds
            // (a host's codec refuses such names before the filter sees them).
            let client_sent = matches!(edit, HeaderEdit::Remove(_))
                && flow.request().headers.iter().any(|(n, _)| n == name);
            assert!(
                !name.is_empty() && (client_sent || headers::is_safe_value(name)),
                "edit name {edit:?}"
            );
            if let HeaderEdit::Set(name, value) = edit {
                // A rewritten `:path` (key-auth's `hide_credentials` drops the key from the
                // query) keeps the rest of the client's path as it came: it may hold what that
                // held, never a control character of the filter's making (a decoded `%0D`).
                let allowed = if name == ":path" {
                    unsafe_chars(&flow.request().path)
                } else {
                    0
                };
                assert!(
                    unsafe_chars(value) <= allowed,
                    "set value {edit:?} (client path {:?})",
                    flow.request().path
                );
            }
        }
        for (name, value) in flow.response_headers() {
            assert!(
                headers::is_safe_value(name) && headers::is_safe_value(value),
                "response header {name:?}: {value:?}"
            );
        }
        let guarded = |name: &str| {
            // Without an authentication stage, the consumer headers are the host's where its
            // plugins may set them (Kong), else the filter's.
            let auth = self.config.auth.is_some() || !flow.request().host_sets_consumers;
            (auth
                && CONSUMER_HEADERS
                    .iter()
                    .any(|h| headers::same_header(h, name)))
                || self
                    .owned
                    .iter()
                    .any(|owned| match owned.strip_suffix('*') {
                        Some(prefix) => headers::canonical(name).starts_with(prefix),
                        None => headers::same_header(owned, name),
                    })
        };
        let upstream = flow.request().edited(edits);
        for (name, value) in &upstream.headers {
            if !guarded(name) {
                continue;
            }
            let set = edits.0.iter().rev().find_map(|edit| match edit {
                HeaderEdit::Set(n, v) if headers::same_header(n, name) => Some(v),
                _ => None,
            });
            assert_eq!(
                set,
                Some(value),
                "the upstream receives the client's {name}: {value:?}"
            );
        }
    }
}

/// The body the upstream gets (the flow's new one, else the client's) holds under the
/// fixture's key names (`apikey`, `x_api_key`), as any reader files them, only the verified
/// key, an empty value or a form's bare name; beside the anonymous consumer, no value at all.
fn check_body_keys(flow: &mut Flow, sent: &[u8]) {
    let body = flow.take_new_body().unwrap_or_else(|| sent.to_vec());
    let content_type = flow.request().header("content-type");
    let Some(Value::Object(fields)) = reconcile::body_value(content_type, &body) else {
        return;
    };
    let verified = flow.identity().is_some_and(|i| !i.is_anonymous());
    for (key, value) in fields {
        let named = ["apikey", "x_api_key"]
            .iter()
            .any(|n| urlenc::reads_as(&key, n) || urlenc::fold(&key) == urlenc::fold(n));
        let harmless = match &value {
            Value::Bool(_) | Value::Null => true,
            Value::String(s) => s.is_empty() || verified && s == "fuzz-body-key",
            _ => false,
        };
        assert!(
            !named || harmless,
            "the upstream body keeps {key:?}: {value} (verified: {verified})"
        );
    }
}

/// How many characters of `text` cannot travel in a header value.
fn unsafe_chars(text: &str) -> usize {
    text.chars()
        .filter(|c| headers::is_unsafe_value_char(*c))
        .count()
}

/// One fixed request through a configuration the `config` target loaded, answering each call
/// with an allow and reading a small JSON body.
pub(super) fn serve_fixed(config: &Pipeline) {
    let mut shared = Shared::for_config(config);
    let req = Request {
        method: "POST".into(),
        path: "/orders?jwt=a.b.c&x=1".into(),
        authority: "api.example.com".into(),
        scheme: "https".into(),
        headers: vec![
            ("authorization".into(), "Bearer a.b.c".into()),
            ("content-type".into(), "application/json".into()),
            ("apikey".into(), "fuzz-api-key".into()),
        ],
        now: T0,
        client_dn: Some("CN=client,O=Fuzz".into()),
        ..Request::default()
    };
    let allow = CallAnswer {
        status: Some(200),
        headers: Vec::new(),
        body: br#"{"role": "admin", "keys": []}"#.to_vec(),
    };
    let (mut flow, mut next) = Flow::start(config, &mut shared, req);
    for _ in 0..MAX_STEPS {
        next = match next {
            Next::ReadBody { max } => {
                if flow.on_body_chunk(br#"{"a": 1}"#, max).is_err() {
                    break;
                }
                flow.on_body_end(config, &mut shared)
            }
            Next::Dispatch(_) => flow.on_call_answer(config, &mut shared, &allow),
            Next::Refuse(refusal) => {
                let _ = refusal.reply();
                break;
            }
            Next::Continue(_) | Next::Serve(_) => break,
        };
    }
}
