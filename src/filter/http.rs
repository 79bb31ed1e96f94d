//! The per-request state machine: feeds host callbacks to a [`Flow`] and applies what it asks
//! for. Async steps are data: the pending call's token is kept, late or foreign callbacks are
//! ignored once a reply was sent, and every failure answers rather than forwards.

use super::host::{Host, HostError, Level};
use super::metrics::Metrics;
use crate::config::Config;
use crate::stages::events::Event;
use crate::stages::flow::{self, Flow, Next};
use crate::stages::reconcile::MAX_ANSWER_BYTES;
use crate::stages::{HeaderEdits, LocalResponse, Request, Shared};
use std::cell::RefCell;
use std::rc::Rc;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Headers not seen yet.
    Start,
    /// Reading the body (headers held).
    ReadingBody {
        /// Bytes already handed to the flow (never read twice).
        seen: usize,
        /// Largest body accepted.
        max: u64,
    },
    /// Waiting for the answer of this dispatched call (request held).
    Calling {
        /// The call's token.
        token: u32,
    },
    /// Let through to the upstream.
    Forwarded,
    /// Answered locally; late callbacks are ignored.
    Responded,
}

/// What the host should do after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let the request (or body) go on.
    Continue,
    /// Hold it (a step is pending, or a local reply was sent).
    Pause,
}

/// One HTTP request's filter state.
pub struct HttpFilter<H: Host> {
    config: Rc<Config>,
    shared: Rc<RefCell<Shared>>,
    metrics: Rc<RefCell<Metrics>>,
    host: H,
    state: State,
    flow: Option<Flow>,
    /// `x-request-id`, for log lines.
    request_id: String,
    /// When the pending call was dispatched (ms), for the latency histogram.
    call_started_ms: u64,
}

/// Builds the stages' view of the request from the host's headers. Pseudo-headers become
/// fields; the client's `Host` wins over `:authority` (on Kong `:authority` is the server name).
pub fn request_from(headers: Vec<(String, String)>, now: u64) -> Request {
    let mut req = Request {
        now,
        ..Request::default()
    };
    let mut authority = String::new();
    for (name, value) in headers {
        match name.as_str() {
            ":method" => req.method = value,
            ":path" => req.path = value,
            ":authority" => authority = value,
            ":scheme" => req.scheme = value,
            n if n.starts_with(':') => {}
            _ => req.headers.push((name.to_ascii_lowercase(), value)),
        }
    }
    req.authority = req.header("host").map_or(authority, str::to_string);
    req
}

/// Where Envoy exposes the client certificate's subject DN.
const ENVOY_CLIENT_DN: [&[&str]; 1] = [&["connection", "subject_peer_certificate"]];
/// Where Kong (ngx_wasm_module) does. On Envoy `subject_local_certificate` is the *server's*
/// certificate: it must never be read there as the client's identity.
const KONG_CLIENT_DN: [&[&str]; 2] = [
    &["connection", "subject_local_certificate"],
    &["ngx", "ssl_client_s_dn"],
];

/// Whether a body follows the headers. Envoy's `end_of_stream` says so exactly (and it hides
/// `transfer-encoding` from filters); Kong's is always false on headers, so there only
/// `content-length` / `transfer-encoding` tell.
fn has_body(req: &Request, end_of_stream: bool, host_is_kong: impl FnOnce() -> bool) -> bool {
    if end_of_stream {
        return false;
    }
    match req.header("content-length").map(str::trim) {
        Some(length) => length != "0",
        None => req.header("transfer-encoding").is_some() || !host_is_kong(),
    }
}

impl<H: Host> HttpFilter<H> {
    /// A filter for one request.
    pub fn new(
        config: Rc<Config>,
        shared: Rc<RefCell<Shared>>,
        metrics: Rc<RefCell<Metrics>>,
        host: H,
    ) -> Self {
        Self {
            config,
            shared,
            metrics,
            host,
            state: State::Start,
            flow: None,
            request_id: String::new(),
            call_started_ms: 0,
        }
    }

    /// Current state (for tests and logs).
    pub fn state(&self) -> State {
        self.state
    }

    /// `on_http_request_headers`.
    pub fn on_request_headers(&mut self, end_of_stream: bool) -> Action {
        if self.config.is_pass_through() {
            self.state = State::Forwarded;
            return Action::Continue;
        }
        let req = match self.read_request() {
            Ok(r) => r,
            Err(e) => return self.host_failure(e),
        };
        let body_coming = has_body(&req, end_of_stream, || self.host.is_kong());
        self.request_id = req.header("x-request-id").unwrap_or("-").to_string();
        let started = self.with_shared(|config, shared| Flow::start(config, shared, req));
        let Some((flow, next)) = started else {
            return self.fail_closed("shared state busy");
        };
        self.flow = Some(flow);
        self.record_flow();
        match next {
            Next::ReadBody { max } if body_coming => {
                self.state = State::ReadingBody { seen: 0, max };
                Action::Pause
            }
            Next::ReadBody { .. } => {
                let next = self.step(|flow, config, shared| flow.on_body_end(config, shared));
                self.run(next)
            }
            other => self.run(Some(other)),
        }
    }

    /// `on_http_request_body`: hands new bytes to the flow; at the end, goes on.
    pub fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let State::ReadingBody { seen, max } = self.state else {
            // Not reading: a held request stays held, a forwarded one flows.
            return match self.state {
                State::Forwarded | State::Start => Action::Continue,
                _ => Action::Pause,
            };
        };
        if body_size > seen {
            let chunk = match self.host.request_body(seen, body_size - seen) {
                Ok(c) => c,
                Err(e) => return self.host_failure(e),
            };
            let fed = self.flow.as_mut().map(|f| f.on_body_chunk(&chunk, max));
            match fed {
                Some(Ok(())) => {}
                Some(Err(reply)) => {
                    self.record_flow();
                    return self.respond(&reply);
                }
                None => return self.fail_closed("no flow while reading the body"),
            }
            self.state = State::ReadingBody {
                seen: body_size,
                max,
            };
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let next = self.step(|flow, config, shared| flow.on_body_end(config, shared));
        self.run(next)
    }

    /// `on_http_call_response`: the answer of the pending call.
    pub fn on_call_response(&mut self, token: u32, body_size: usize) {
        if self.state != (State::Calling { token }) {
            return; // a late or foreign callback: the request was already settled
        }
        let answer = self
            .host
            .call_answer(body_size, MAX_ANSWER_BYTES.saturating_add(1));
        let elapsed = self.host.now_ms().saturating_sub(self.call_started_ms);
        if self.config.reconcile.is_some() {
            if let Ok(mut metrics) = self.metrics.try_borrow_mut() {
                metrics.reconcile_latency(&mut self.host, elapsed);
            }
        }
        let next = self.step(|flow, config, shared| flow.on_call_answer(config, shared, &answer));
        if self.run(next) == Action::Continue {
            if let Err(e) = self.host.continue_request() {
                self.host.log(
                    Level::Error,
                    &format!("jwt-relay: {} failed: {}", e.call, e.status),
                );
            }
        }
    }

    /// `on_http_response_headers`: adds headers the flow wants the client to see.
    pub fn on_response_headers(&mut self) -> Action {
        let headers = self
            .flow
            .as_ref()
            .map(|f| f.response_headers().to_vec())
            .unwrap_or_default();
        for (name, value) in headers {
            if let Err(e) = self.host.set_response_header(&name, &value) {
                self.host.log(
                    Level::Warn,
                    &format!("jwt-relay: {} failed: {}", e.call, e.status),
                );
            }
        }
        Action::Continue
    }

    fn read_request(&self) -> Result<Request, HostError> {
        let headers = self.host.request_headers()?;
        let mut req = request_from(headers, self.host.now()?);
        // Properties cost a host call each: only the mint stages read them.
        if self.config.custom_jwt.is_some() {
            let paths: &[&[&str]] = if self.host.is_kong() {
                &KONG_CLIENT_DN
            } else {
                &ENVOY_CLIENT_DN
            };
            req.client_dn = paths.iter().find_map(|p| self.host.text_property(p));
        }
        if self.config.upstream_jwt.is_some() {
            req.service = self.host.text_property(&["xds", "cluster_name"]);
        }
        Ok(req)
    }

    fn with_shared<T>(&mut self, f: impl FnOnce(&Config, &mut Shared) -> T) -> Option<T> {
        let (out, fetches) = {
            let mut shared = self.shared.try_borrow_mut().ok()?;
            let out = f(&self.config, &mut shared);
            (out, std::mem::take(&mut shared.jwks_fetches))
        };
        for fetched in fetches {
            super::root::log_fetch(&self.host, &fetched);
            self.record(&[super::root::fetch_event(&fetched)]);
        }
        Some(out)
    }

    /// Counts events; logs every denial with its reason and the request id (never a token).
    fn record(&mut self, events: &[Event]) {
        let Ok(mut metrics) = self.metrics.try_borrow_mut() else {
            return;
        };
        for event in events {
            metrics.count(&mut self.host, event);
            if let Event::Denied(reason) = event {
                let line = format!("jwt-relay: denied: {reason} request_id={}", self.request_id);
                self.host.log(Level::Info, &line);
            }
        }
    }

    /// Counts what the flow recorded since the last step.
    fn record_flow(&mut self) {
        let events = self
            .flow
            .as_mut()
            .map(Flow::take_events)
            .unwrap_or_default();
        self.record(&events);
    }

    fn step(&mut self, f: impl FnOnce(&mut Flow, &Config, &mut Shared) -> Next) -> Option<Next> {
        let mut flow = self.flow.take()?;
        let next = self.with_shared(|config, shared| f(&mut flow, config, shared));
        self.flow = Some(flow);
        self.record_flow();
        next
    }

    /// Applies a step's outcome.
    fn run(&mut self, next: Option<Next>) -> Action {
        match next {
            None => self.fail_closed("flow state lost"),
            Some(Next::Continue(edits)) => self.forward(&edits),
            Some(Next::Respond(reply)) => self.respond(&reply),
            Some(Next::Dispatch(call)) => match self.host.dispatch(&call) {
                Ok(token) => {
                    self.call_started_ms = self.host.now_ms();
                    self.state = State::Calling { token };
                    Action::Pause
                }
                Err(e) => {
                    self.host.log(
                        Level::Error,
                        &format!(
                            "jwt-relay: dispatch to {:?} failed: {}",
                            call.upstream, e.status
                        ),
                    );
                    let failed = crate::stages::CallAnswer::default();
                    let next = self
                        .step(|flow, config, shared| flow.on_call_answer(config, shared, &failed));
                    self.run(next)
                }
            },
            Some(Next::ReadBody { .. }) => self.fail_closed("body requested twice"),
        }
    }

    fn forward(&mut self, edits: &HeaderEdits) -> Action {
        for edit in &edits.0 {
            if let Err(e) = self.host.edit_request_header(edit) {
                // A request whose auth headers could not be set must not reach the upstream.
                return self.host_failure(e);
            }
        }
        self.state = State::Forwarded;
        Action::Continue
    }

    fn respond(&mut self, response: &LocalResponse) -> Action {
        self.state = State::Responded;
        if let Err(e) = self.host.send_response(response) {
            self.host.log(
                Level::Error,
                &format!("jwt-relay: {} failed: {}", e.call, e.status),
            );
        }
        Action::Pause
    }

    fn host_failure(&mut self, e: HostError) -> Action {
        self.fail_closed(&format!("{} failed: {}", e.call, e.status))
    }

    fn fail_closed(&mut self, detail: &str) -> Action {
        self.host
            .log(Level::Error, &format!("jwt-relay: host error: {detail}"));
        let body = serde_json::json!({"message": "An unexpected error occurred"});
        self.respond(&LocalResponse::json(500, &body))
    }
}

/// The 413 reply, re-exported for the glue's tests.
pub fn too_large(max: u64) -> LocalResponse {
    flow::too_large(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::{CallAnswer, CallSpec, HeaderEdit};

    /// A host double that records what the filter did.
    #[derive(Default)]
    struct FakeHost {
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        edits: Vec<HeaderEdit>,
        responses: Vec<LocalResponse>,
        calls: Vec<CallSpec>,
        answer: CallAnswer,
        resumed: usize,
        logs: RefCell<Vec<String>>,
        metrics: Vec<(String, u64)>,
    }

    type R<T> = Result<T, HostError>;

    impl Host for &mut FakeHost {
        fn request_headers(&self) -> R<Vec<(String, String)>> {
            Ok(self.headers.clone())
        }
        fn edit_request_header(&mut self, edit: &HeaderEdit) -> R<()> {
            self.edits.push(edit.clone());
            Ok(())
        }
        fn send_response(&mut self, response: &LocalResponse) -> R<()> {
            self.responses.push(response.clone());
            Ok(())
        }
        fn continue_request(&mut self) -> R<()> {
            self.resumed += 1;
            Ok(())
        }
        fn log(&self, _level: Level, message: &str) {
            self.logs.borrow_mut().push(message.to_string());
        }
        fn now(&self) -> R<u64> {
            Ok(1_700_000_000)
        }
        fn request_body(&self, start: usize, len: usize) -> R<Vec<u8>> {
            Ok(self
                .body
                .get(start..start + len)
                .unwrap_or_default()
                .to_vec())
        }
        fn dispatch(&mut self, call: &CallSpec) -> R<u32> {
            self.calls.push(call.clone());
            Ok(7)
        }
        fn call_answer(&self, _body_size: usize, _max: usize) -> CallAnswer {
            self.answer.clone()
        }
        fn set_response_header(&mut self, _name: &str, _value: &str) -> R<()> {
            Ok(())
        }
        fn is_kong(&self) -> bool {
            false
        }
        fn text_property(&self, _path: &[&str]) -> Option<String> {
            None
        }
        fn now_ms(&self) -> u64 {
            1_700_000_000_000
        }
        fn define_metric(&mut self, _kind: u32, name: &str) -> R<u32> {
            self.metrics.push((name.to_string(), 0));
            Ok(u32::try_from(self.metrics.len() - 1).unwrap())
        }
        fn add_metric(&mut self, id: u32, _kind: u32, value: u64) {
            self.metrics[id as usize].1 += value;
        }
    }

    fn h(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    fn filter<'a>(config: &str, host: &'a mut FakeHost) -> HttpFilter<&'a mut FakeHost> {
        let config = crate::config::load(config.as_bytes()).unwrap();
        let shared = Rc::new(RefCell::new(Shared::for_config(&config)));
        HttpFilter::new(Rc::new(config), shared, Rc::default(), host)
    }

    const RECONCILE: &str =
        r#"{"reconcile": {"url": "http://auth:8080", "upstream": "auth", "forward_body": true}}"#;

    #[test]
    fn request_headers_empty_config_continues_untouched() {
        let mut host = FakeHost::default();
        let mut f = filter("{}", &mut host);
        assert_eq!(f.on_request_headers(true), Action::Continue);
        assert_eq!(f.state(), State::Forwarded);
        assert!(f.host.edits.is_empty() && f.host.responses.is_empty());
    }

    #[test]
    fn body_read_in_pieces_is_never_read_twice_then_dispatched() {
        let mut host = FakeHost {
            headers: vec![
                h(":method", "POST"),
                h(":path", "/x"),
                h("content-length", "6"),
            ],
            body: b"abcdef".to_vec(),
            ..FakeHost::default()
        };
        let mut f = filter(RECONCILE, &mut host);
        assert_eq!(f.on_request_headers(false), Action::Pause);
        assert_eq!(f.on_request_body(2, false), Action::Pause);
        assert_eq!(f.on_request_body(6, true), Action::Pause);
        assert_eq!(f.state(), State::Calling { token: 7 });
        let call_body: serde_json::Value = serde_json::from_slice(&f.host.calls[0].body).unwrap();
        assert_eq!(call_body["body"], "abcdef");
    }

    #[test]
    fn call_response_with_other_token_is_ignored() {
        let mut host = FakeHost {
            headers: vec![h(":method", "GET"), h(":path", "/x")],
            answer: CallAnswer {
                status: Some(200),
                headers: vec![],
                body: br#"{"role":"a"}"#.to_vec(),
            },
            ..FakeHost::default()
        };
        let mut f = filter(RECONCILE, &mut host);
        assert_eq!(f.on_request_headers(true), Action::Pause);
        f.on_call_response(99, 10);
        assert_eq!(f.state(), State::Calling { token: 7 });
        f.on_call_response(7, 10);
        assert_eq!(f.state(), State::Forwarded);
        assert_eq!(f.host.resumed, 1);
        assert!(host
            .edits
            .contains(&HeaderEdit::Set("Role".into(), "a".into())));
    }

    #[test]
    fn body_over_limit_is_413_and_never_forwarded() {
        let mut host = FakeHost {
            headers: vec![
                h(":method", "POST"),
                h(":path", "/x"),
                h("content-length", "20"),
            ],
            body: vec![b'a'; 20],
            ..FakeHost::default()
        };
        let config =
            r#"{"reconcile": {"url": "http://auth", "forward_body": true, "max_body_bytes": 10}}"#;
        let mut f = filter(config, &mut host);
        assert_eq!(f.on_request_headers(false), Action::Pause);
        assert_eq!(f.on_request_body(20, true), Action::Pause);
        assert_eq!(f.state(), State::Responded);
        assert_eq!(f.host.responses[0], too_large(10));
        assert!(f.host.calls.is_empty());
    }

    #[test]
    fn has_body_follows_envoy_eof_and_kong_headers() {
        let req = |headers: &[(&str, &str)]| Request {
            headers: headers.iter().map(|(k, v)| h(k, v)).collect(),
            ..Request::default()
        };
        let none = req(&[]);
        assert!(!has_body(&none, true, || false));
        assert!(
            has_body(&none, false, || false),
            "Envoy: a chunked body hides its header"
        );
        assert!(
            !has_body(&none, false, || true),
            "Kong: eof is always false on headers"
        );
        assert!(has_body(
            &req(&[("transfer-encoding", "chunked")]),
            false,
            || true
        ));
        assert!(!has_body(&req(&[("content-length", "0")]), false, || false));
        assert!(has_body(&req(&[("content-length", "3")]), false, || true));
    }

    #[test]
    fn request_from_prefers_host_header_over_authority() {
        let req = request_from(
            vec![
                h(":method", "GET"),
                h(":path", "/a?b"),
                h(":authority", "server.internal"),
                h(":scheme", "https"),
                h("Host", "client.example"),
                h("x-a", "1"),
            ],
            7,
        );
        assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/a?b"));
        assert_eq!(
            (req.authority.as_str(), req.scheme.as_str()),
            ("client.example", "https")
        );
        assert_eq!(req.headers, [h("host", "client.example"), h("x-a", "1")]);
        let envoy = request_from(vec![h(":authority", "a.example")], 7);
        assert_eq!(envoy.authority, "a.example");
    }
}
