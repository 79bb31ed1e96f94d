//! The host behind a small trait, so the HTTP state machine tests natively with a double.
//! [`ProxyWasmHost`] is the one implementation that talks to a real host, through [`super::abi`].

use super::abi::{self, ids};
use super::host_quirks::{self, decode_flag, decode_text};
use jwt_relay_core::stages::{CallAnswer, CallSpec, HeaderEdit, LocalResponse};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Log levels of the Proxy-Wasm ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debug detail.
    Debug = 1,
    /// Normal events.
    Info = 2,
    /// Something refused or degraded.
    Warn = 3,
    /// Configuration refused, host failure.
    Error = 4,
}

/// A host call that returned a status other than Ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostError {
    /// What was attempted.
    pub call: &'static str,
    /// The Proxy-Wasm status code.
    pub status: u32,
}

/// What the HTTP state machine needs from the host.
pub trait Host {
    /// Request headers in order, names as the host gives them (lower-case), values lossily UTF-8.
    fn request_headers(&self) -> Result<Vec<(String, String)>, HostError>;
    /// Applies one header edit to the held request.
    fn edit_request_header(&mut self, edit: &HeaderEdit) -> Result<(), HostError>;
    /// Request trailers in order, as [`Host::request_headers`] (empty without trailers).
    fn request_trailers(&self) -> Result<Vec<(String, String)>, HostError>;
    /// Removes a request trailer (every value of the name).
    fn remove_request_trailer(&mut self, name: &str) -> Result<(), HostError>;
    /// Answers the request locally; `grpc_status` is the status Envoy gives a gRPC client
    /// (it makes its own trailers-only answer to a gRPC request), `None` elsewhere.
    fn send_response(
        &mut self,
        response: &LocalResponse,
        grpc_status: Option<u8>,
    ) -> Result<(), HostError>;
    /// Resumes a paused request.
    fn continue_request(&mut self) -> Result<(), HostError>;
    /// Writes a log line. Callers never pass tokens, secrets or keys.
    fn log(&self, level: Level, message: &str);
    /// Host time in seconds since the epoch.
    fn now(&self) -> Result<u64, HostError>;
    /// Request body bytes `[start, start + len)` of what the host has buffered.
    fn request_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError>;
    /// Replaces the request body the host holds (its first `size` bytes: all of it) with
    /// `body`; only in the body (or trailers) step, while the body is held.
    fn replace_request_body(&mut self, size: usize, body: &[u8]) -> Result<(), HostError>;
    /// Starts an HTTP call; the answer arrives in `on_http_call_response` with this token.
    fn dispatch(&mut self, call: &CallSpec) -> Result<u32, HostError>;
    /// The answer of the call whose response callback is running (body read up to `max`).
    fn call_answer(&self, body_size: usize, max: usize) -> CallAnswer;
    /// Sets a header on the response to the client.
    fn set_response_header(&mut self, name: &str, value: &str) -> Result<(), HostError>;
    /// Removes every header of the response (but its pseudo-headers): the upstream's, when the
    /// filter replaces an answer to a request it never let go.
    fn clear_response_headers(&mut self) -> Result<(), HostError>;
    /// True on Kong (ngx_wasm_module), where `ngx.*` properties exist (false until
    /// [`Host::learn_kind`] ran in a request).
    fn is_kong(&self) -> bool;
    /// Learns the host's kind, once per VM; called at each request's headers. False while it
    /// is unknown (the host's answer told nothing): the request is refused.
    fn learn_kind(&mut self) -> bool {
        true
    }
    /// True where the host acts on a refused configuration by serving none (Envoy: it will
    /// not start, or keeps its last configuration); false on Kong, which would proxy without
    /// the filter. Asked in the root context when a configuration is refused.
    fn refuses_configurations(&self) -> bool {
        true
    }
    /// Asks for `on_tick` every `ms` milliseconds (root context).
    fn set_tick_period(&self, _ms: u32) -> Result<(), HostError> {
        Ok(())
    }
    /// True once [`Host::learn_kind`] has learnt the kind (in any of the VM's contexts).
    fn kind_known(&self) -> bool {
        true
    }
    /// A string property (`["connection", "subject_peer_certificate"]`), when the host has it.
    fn text_property(&self, path: &[&str]) -> Option<String>;
    /// Host time in milliseconds (for latencies).
    fn now_ms(&self) -> u64;
    /// Defines a metric of a Proxy-Wasm type; fails where the host has no metrics.
    fn define_metric(&mut self, kind: u32, name: &str) -> Result<u32, HostError>;
    /// Adds to a counter, or records a histogram value (by the metric's type).
    fn add_metric(&mut self, id: u32, kind: u32, value: u64);
    /// A boolean property in the host's encoding (Envoy: one byte; Kong: `"true"`).
    fn flag_property(&self, path: &[&str]) -> Option<bool>;
    /// Writes a string property (on Kong's engine, an nginx variable the caller read first).
    fn set_text_property(&mut self, path: &[&str], value: &str) -> Result<(), HostError> {
        self.set_raw_property(path, value.as_bytes())
    }
    /// A property's bytes as the host holds them (no decoding, no trimming).
    fn raw_property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// Writes a property's bytes (as [`Host::set_text_property`]).
    fn set_raw_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError>;
}

fn lossy(pairs: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(String, String)> {
    pairs.into_iter().map(|(k, v)| (text(k), text(v))).collect()
}

/// Bytes as text, invalid UTF-8 replaced by U+FFFD; valid bytes keep their buffer (no copy:
/// every request's headers pass through here).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
}

/// The real host, reached through the raw ABI.
#[derive(Debug, Default, Clone)]
pub struct ProxyWasmHost {
    /// Shared by a VM's root and HTTP contexts; learnt at the first request.
    kind: Rc<Cell<Option<HostKind>>>,
}

/// Which proxy runs the filter; detected once per VM, at its first request. (Earlier, in the
/// root context, ngx_wasm_module answers every `ngx.*` property with an error and an error log
/// line, and a property it lacks with an alert, so there is no quiet probe before a request.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HostKind {
    /// Envoy (and Istio).
    #[default]
    Envoy,
    /// nginx with ngx_wasm_module (Kong 3.4–3.10): `ngx.*` properties exist only there.
    Ngx,
}

impl HostKind {
    /// Asks the host, in a request's context: `ngx.*` properties exist only on ngx_wasm_module
    /// (Envoy answers NotFound). Any other answer tells nothing: `None`, and the request is
    /// refused, since taking ngx for Envoy would leave its removals undone.
    fn detect() -> Option<Self> {
        match abi::property(&["ngx", "hostname"]) {
            Ok(Some(_)) => Some(Self::Ngx),
            Ok(None) => Some(Self::Envoy),
            Err(_) => None,
        }
    }
}

/// Rounds of [`Host::clear_response_headers`]: each removes the names of up to 100 pairs.
const CLEAR_ROUNDS: usize = 64;

/// Room given beyond the pairs Kong's engine adds to a map, for engine versions that add more.
const BASE_SLACK: usize = 64 * 1024;

/// What the engine may ask for at most of a buffer: [`i32::MAX`] (it reads the argument as a
/// signed 32-bit number).
const WHOLE_BUFFER: usize = 0x7fff_ffff;

impl ProxyWasmHost {
    /// The adapter of a VM, sharing what it learnt of the host.
    pub fn new(kind: Rc<Cell<Option<HostKind>>>) -> Self {
        Self { kind }
    }

    /// The room Kong's engine may write past a header map's buffer (`abi::header_pairs`): the
    /// whole of each pair it adds to the map (the request's pseudo-headers, the response's
    /// `:status` and shim headers, looked up by name, which the engine answers past its cut),
    /// and [`BASE_SLACK`]. None where the host is known to be Envoy.
    fn map_slack(&self, map: u32) -> usize {
        if self.kind.get() == Some(HostKind::Envoy) {
            return 0;
        }
        let added: &[&str] = match map {
            ids::REQUEST_HEADERS => &[":path", ":method", ":scheme", ":authority"],
            ids::RESPONSE_HEADERS => &[
                ":status",
                "content-type",
                "content-length",
                "transfer-encoding",
                "connection",
                "keep-alive",
                "vary",
            ],
            _ => &[],
        };
        let pair = |name: &&str| abi::header_value_len(map, name).map_or(0, |v| v + name.len());
        // Each pair: two lengths (8 bytes), the name and the value, each with its NUL.
        let added: usize = added.iter().map(|n| pair(n) + 10).sum();
        added.saturating_add(BASE_SLACK)
    }

    /// How much of the request body to ask for: on Kong's engine the whole of it, since the
    /// engine copies a body of several links past the length asked (review helper-108); the
    /// caller keeps what it wants of it.
    fn body_ask(&self, len: usize) -> usize {
        match self.kind.get() {
            Some(HostKind::Envoy) => len,
            _ => WHOLE_BUFFER,
        }
    }
}

fn fail(call: &'static str) -> impl Fn(u32) -> HostError {
    move |status| HostError { call, status }
}

impl Host for ProxyWasmHost {
    fn request_headers(&self) -> Result<Vec<(String, String)>, HostError> {
        let slack = self.map_slack(ids::REQUEST_HEADERS);
        let pairs =
            abi::header_pairs(ids::REQUEST_HEADERS, slack).map_err(fail("get request headers"))?;
        Ok(lossy(pairs))
    }

    fn edit_request_header(&mut self, edit: &HeaderEdit) -> Result<(), HostError> {
        match edit {
            HeaderEdit::Set(name, value) => abi::replace_header(ids::REQUEST_HEADERS, name, value)
                .map_err(fail("set request header")),
            HeaderEdit::Remove(name) => abi::remove_header(ids::REQUEST_HEADERS, name)
                .map_err(fail("remove request header")),
        }
    }

    fn request_trailers(&self) -> Result<Vec<(String, String)>, HostError> {
        let pairs = abi::header_pairs(ids::REQUEST_TRAILERS, self.map_slack(ids::REQUEST_TRAILERS))
            .map_err(fail("get request trailers"))?;
        Ok(lossy(pairs))
    }

    fn remove_request_trailer(&mut self, name: &str) -> Result<(), HostError> {
        abi::remove_header(ids::REQUEST_TRAILERS, name).map_err(fail("remove request trailer"))
    }

    fn send_response(
        &mut self,
        response: &LocalResponse,
        grpc_status: Option<u8>,
    ) -> Result<(), HostError> {
        let headers: Vec<(&str, &str)> = response
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let grpc = grpc_status.map_or(-1, i32::from);
        abi::send_response(u32::from(response.status), &headers, &response.body, grpc)
            .map_err(fail("send local response"))
    }

    fn continue_request(&mut self) -> Result<(), HostError> {
        abi::continue_request().map_err(fail("continue request"))
    }

    fn log(&self, level: Level, message: &str) {
        abi::log(level as u32, message);
    }

    fn now(&self) -> Result<u64, HostError> {
        abi::now_nanos()
            .map(|n| n / 1_000_000_000)
            .map_err(fail("get current time"))
    }

    fn request_body(&self, start: usize, len: usize) -> Result<Vec<u8>, HostError> {
        abi::buffer(ids::REQUEST_BODY, start, self.body_ask(len))
            .map(Option::unwrap_or_default)
            .map_err(fail("get request body"))
    }

    fn replace_request_body(&mut self, size: usize, body: &[u8]) -> Result<(), HostError> {
        abi::set_buffer(ids::REQUEST_BODY, 0, size, body).map_err(fail("set request body"))
    }

    fn dispatch(&mut self, call: &CallSpec) -> Result<u32, HostError> {
        let headers: Vec<(&str, &str)> = call
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let timeout = Duration::from_millis(u64::from(call.timeout_ms));
        // The SDK's dispatch registers the token so the answer reaches this context; it returns
        // BadArgument/InternalFailure as errors (other statuses are not produced by the hosts).
        proxy_wasm::hostcalls::dispatch_http_call(
            &call.upstream,
            headers,
            Some(&call.body),
            vec![],
            timeout,
        )
        .map_err(|s| HostError {
            call: "dispatch http call",
            status: s as u32,
        })
    }

    fn call_answer(&self, body_size: usize, max: usize) -> CallAnswer {
        let slack = self.map_slack(ids::CALL_RESPONSE_HEADERS);
        let headers = abi::header_pairs(ids::CALL_RESPONSE_HEADERS, slack);
        let headers = lossy(headers.unwrap_or_default());
        let status = headers
            .iter()
            .find(|(k, _)| k == ":status")
            .and_then(|(_, v)| v.parse().ok())
            .filter(|s| *s != 0);
        // The engine hands a call's answer over in one buffer (no copy past the length asked).
        let body = abi::buffer(ids::CALL_RESPONSE_BODY, 0, body_size.min(max))
            .ok()
            .flatten()
            .unwrap_or_default();
        // Kong reports a failed call in `:dispatch_status`; keep it, drop the other pseudo-headers.
        let headers = headers
            .into_iter()
            .filter(|(k, _)| !k.starts_with(':') || k == ":dispatch_status")
            .collect();
        CallAnswer {
            status,
            headers,
            body,
        }
    }

    /// On Kong's engine the header is replaced twice: a replace of a header the upstream sent
    /// twice clears every copy and sets none, and the second then adds it; of one sent once, or
    /// none, the first sets it and the second finds it. No removal and no lookup: removing a
    /// `Cache-Control` or `Link` the response does not hold (one another filter removed, which
    /// the engine's lookup by name still finds past its 100-pair cut) kills the worker (SIGSEGV:
    /// reviews helper-111 and helper-117).
    fn set_response_header(&mut self, name: &str, value: &str) -> Result<(), HostError> {
        let set = || {
            abi::replace_header(ids::RESPONSE_HEADERS, name, value)
                .map_err(fail("set response header"))
        };
        set()?;
        if host_quirks::replace_drops_repeated_response_headers(self.is_kong()) {
            set()?;
        }
        Ok(())
    }

    fn clear_response_headers(&mut self) -> Result<(), HostError> {
        // Kong's engine shows at most 100 pairs at a time: read again until a round finds no
        // name it has not removed (a shim header the engine computes, such as `Keep-Alive`,
        // comes back every round).
        let mut removed: Vec<String> = Vec::new();
        for _ in 0..CLEAR_ROUNDS {
            let slack = self.map_slack(ids::RESPONSE_HEADERS);
            let pairs = abi::header_pairs(ids::RESPONSE_HEADERS, slack)
                .map_err(fail("get response headers"))?;
            let before = removed.len();
            for (name, _) in lossy(pairs) {
                let framing = ["content-length", "connection", "transfer-encoding"]
                    .iter()
                    .any(|f| name.eq_ignore_ascii_case(f));
                let again = removed.iter().any(|r| r.eq_ignore_ascii_case(&name));
                if !name.starts_with(':') && !framing && !again {
                    abi::remove_header(ids::RESPONSE_HEADERS, &name)
                        .map_err(fail("remove response header"))?;
                    removed.push(name);
                }
            }
            if removed.len() == before {
                break;
            }
        }
        Ok(())
    }

    fn is_kong(&self) -> bool {
        self.kind.get() == Some(HostKind::Ngx)
    }

    fn learn_kind(&mut self) -> bool {
        if self.kind.get().is_none() {
            self.kind.set(HostKind::detect());
        }
        self.kind.get().is_some()
    }

    fn kind_known(&self) -> bool {
        self.kind.get().is_some()
    }

    fn set_tick_period(&self, ms: u32) -> Result<(), HostError> {
        abi::set_tick_period(ms).map_err(fail("set tick period"))
    }

    fn refuses_configurations(&self) -> bool {
        match self.kind.get() {
            Some(kind) => kind == HostKind::Envoy,
            // In the root context ngx_wasm_module answers every `ngx.*` property with an
            // error, Envoy with NotFound: only that answer is Envoy's, anything else may be Kong.
            None => matches!(abi::property(&["ngx", "hostname"]), Ok(None)),
        }
    }

    fn text_property(&self, path: &[&str]) -> Option<String> {
        abi::property(path)
            .ok()
            .flatten()
            .as_deref()
            .and_then(decode_text)
    }

    fn now_ms(&self) -> u64 {
        abi::now_nanos().map(|n| n / 1_000_000).unwrap_or_default()
    }

    fn define_metric(&mut self, kind: u32, name: &str) -> Result<u32, HostError> {
        abi::define_metric(kind, name).map_err(fail("define metric"))
    }

    fn add_metric(&mut self, id: u32, kind: u32, value: u64) {
        // Metrics are best effort: a failed update never affects the request.
        let _ = if kind == super::metrics::HISTOGRAM || kind == super::metrics::GAUGE {
            abi::record_metric(id, value)
        } else {
            abi::increment_metric(id, i64::try_from(value).unwrap_or(i64::MAX))
        };
    }

    fn raw_property(&self, path: &[&str]) -> Option<Vec<u8>> {
        abi::property(path).ok().flatten()
    }

    fn set_raw_property(&mut self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        abi::set_property(path, value).map_err(fail("set property"))
    }

    fn flag_property(&self, path: &[&str]) -> Option<bool> {
        abi::property(path)
            .ok()
            .flatten()
            .as_deref()
            .and_then(decode_flag)
    }
}

#[cfg(test)]
mod tests {
    use super::lossy;

    #[test]
    fn header_bytes_become_text_with_invalid_utf8_replaced() {
        let pairs = vec![
            (b"x-name".to_vec(), "caf\u{e9}".as_bytes().to_vec()),
            (b"x-bad\xff".to_vec(), b"a\xc3(b".to_vec()),
        ];
        assert_eq!(
            lossy(pairs),
            [
                ("x-name".to_string(), "caf\u{e9}".to_string()),
                ("x-bad\u{fffd}".to_string(), "a\u{fffd}(b".to_string()),
            ]
        );
    }
}
