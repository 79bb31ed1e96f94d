//! The per-request state machine: asks the stages for a decision and applies it to the host.

use super::host::{Host, HostError, Level};
use crate::config::Config;
use crate::stages::{self, Decision, HeaderEdits, LocalResponse, Request, Shared};
use std::cell::RefCell;
use std::rc::Rc;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Headers not seen yet.
    Start,
    /// Let through to the upstream.
    Forwarded,
    /// Answered locally; late callbacks are ignored.
    Responded,
}

/// What the host should do after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Let the request go on.
    Continue,
    /// Hold the request (a local reply was sent, or a step is pending).
    Pause,
}

/// One HTTP request's filter state.
pub struct HttpFilter<H: Host> {
    config: Rc<Config>,
    shared: Rc<RefCell<Shared>>,
    host: H,
    state: State,
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

impl<H: Host> HttpFilter<H> {
    /// A filter for one request.
    pub fn new(config: Rc<Config>, shared: Rc<RefCell<Shared>>, host: H) -> Self {
        Self {
            config,
            shared,
            host,
            state: State::Start,
        }
    }

    /// Current state (for tests and logs).
    pub fn state(&self) -> State {
        self.state
    }

    /// `on_http_request_headers`.
    pub fn on_request_headers(&mut self) -> Next {
        if self.config.is_pass_through() {
            self.state = State::Forwarded;
            return Next::Continue;
        }
        let req = match self.read_request() {
            Ok(r) => r,
            Err(e) => return self.fail_closed(&format!("{} failed: {}", e.call, e.status)),
        };
        let decision = match self.shared.try_borrow_mut() {
            Ok(mut shared) => Some(stages::on_request_headers(&self.config, &req, &mut shared)),
            Err(_) => None,
        };
        match decision {
            Some(d) => self.apply(d),
            None => self.fail_closed("shared state busy"),
        }
    }

    fn read_request(&self) -> Result<Request, HostError> {
        let headers = self.host.request_headers()?;
        Ok(request_from(headers, self.host.now()?))
    }

    fn apply(&mut self, decision: Decision) -> Next {
        match decision {
            Decision::Continue(edits) => self.forward(&edits),
            Decision::Respond(response) => self.respond(&response),
        }
    }

    fn forward(&mut self, edits: &HeaderEdits) -> Next {
        for edit in &edits.0 {
            if let Err(e) = self.host.edit_request_header(edit) {
                // A request whose auth headers could not be set must not reach the upstream.
                return self.fail_closed(&format!("{} failed: {}", e.call, e.status));
            }
        }
        self.state = State::Forwarded;
        Next::Continue
    }

    fn respond(&mut self, response: &LocalResponse) -> Next {
        self.state = State::Responded;
        if let Err(e) = self.host.send_response(response) {
            self.host.log(
                Level::Error,
                &format!("jwt-relay: {} failed: {}", e.call, e.status),
            );
        }
        Next::Pause
    }

    fn fail_closed(&mut self, detail: &str) -> Next {
        self.host
            .log(Level::Error, &format!("jwt-relay: host error: {detail}"));
        let body = serde_json::json!({"message": "An unexpected error occurred"});
        self.respond(&LocalResponse::json(500, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::HeaderEdit;
    use std::cell::RefCell;

    /// A host double that records what the filter did.
    #[derive(Default)]
    pub struct FakeHost {
        pub headers: Vec<(String, String)>,
        pub edits: Vec<HeaderEdit>,
        pub responses: Vec<LocalResponse>,
        pub logs: RefCell<Vec<String>>,
    }

    impl Host for &mut FakeHost {
        fn request_headers(&self) -> Result<Vec<(String, String)>, super::super::host::HostError> {
            Ok(self.headers.clone())
        }
        fn edit_request_header(
            &mut self,
            edit: &HeaderEdit,
        ) -> Result<(), super::super::host::HostError> {
            self.edits.push(edit.clone());
            Ok(())
        }
        fn send_response(
            &mut self,
            response: &LocalResponse,
        ) -> Result<(), super::super::host::HostError> {
            self.responses.push(response.clone());
            Ok(())
        }
        fn continue_request(&mut self) -> Result<(), super::super::host::HostError> {
            Ok(())
        }
        fn log(&self, _level: Level, message: &str) {
            self.logs.borrow_mut().push(message.to_string());
        }
        fn now(&self) -> Result<u64, super::super::host::HostError> {
            Ok(1_700_000_000)
        }
    }

    #[test]
    fn request_headers_empty_config_continues_untouched() {
        let mut host = FakeHost::default();
        let shared = Rc::new(RefCell::new(Shared::default()));
        let mut f = HttpFilter::new(Rc::new(Config::default()), shared, &mut host);
        assert_eq!(f.on_request_headers(), Next::Continue);
        assert_eq!(f.state(), State::Forwarded);
        assert!(host.edits.is_empty() && host.responses.is_empty());
    }

    #[test]
    fn request_from_prefers_host_header_over_authority() {
        let h = |k: &str, v: &str| (k.to_string(), v.to_string());
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
