//! A proxy-wasm filter that decides nothing: every request continues. `make bench` runs it
//! beside jwt-relay in three modes:
//! - configuration `""`: it does nothing at all, so the cost of the wasm host itself shows;
//! - configuration `"cached-token-calls"`: it makes the host calls jwt-relay makes for a request
//!   whose token is in its cache (read the headers, read the clock, set three identity headers,
//!   count two events), so the cost of those calls shows apart from jwt-relay's own work;
//! - configuration `"mint-calls"`: it makes the host calls `upstream_jwt` makes for a request
//!   with a body (read the headers and the clock, hold the headers, read the body as it
//!   arrives, set the minted token's header, count two events): the host's share of a mint.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};
use std::cell::Cell;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NoopRoot::default()) });
}}

/// What the configuration asked for; the two modes that call the host carry their counters.
#[derive(Clone, Copy, Default)]
enum Mode {
    #[default]
    Nothing,
    CachedToken([u32; 2]),
    Mint([u32; 2]),
}

/// A token-sized header value (an EdDSA `upstream_jwt` token is about this long).
const MINTED: &str = concat!(
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.",
    "eyJpYXQiOjE3NjQ5NDY0MDAsImV4cCI6MTc2NDk0NjQ2MCwianRpIjoiMmY0ZTNhYjgtNmE2Yy00YjFkLWE5",
    "OGMtNWU3ZDBjNGYzYjJhIiwicGF5bG9hZGhhc2giOiJhNGY4YjBjMmQ5ZTdmNjEzNWQyYzhlMGE3YjRmOWMx",
    "ZDNlNWE2YjdjOGQ5ZTBmMWEyYjNjNGQ1ZTZmN2E4YjkifQ.",
    "Zm9yLWJlbmNoLW9ubHktbm90LWEtc2lnbmF0dXJlLWZvci1iZW5jaC1vbmx5LW5vdC1hLXNpZ25hdHVyZS1mb3I"
);

#[derive(Default)]
struct NoopRoot {
    mode: Mode,
    /// Kong's engine or not, learnt at the first mint request (as jwt-relay learns it).
    kong: Rc<Cell<Option<bool>>>,
}

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let define = |name| hostcalls::define_metric(MetricType::Counter, name).ok();
        let ids = || {
            define("noop.events")
                .zip(define("noop.allowed"))
                .map(|(a, b)| [a, b])
        };
        let mode = match config.as_slice() {
            b"cached-token-calls" => ids().map(Mode::CachedToken),
            b"mint-calls" => ids().map(Mode::Mint),
            _ => None,
        };
        self.mode = mode.unwrap_or_default();
        true
    }

    // Declaring an HTTP context is what makes the host create one per request, as for jwt-relay.
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop {
            mode: self.mode,
            kong: self.kong.clone(),
            seen: 0,
        }))
    }
}

struct Noop {
    mode: Mode,
    kong: Rc<Cell<Option<bool>>>,
    /// Body bytes read so far (mint mode).
    seen: usize,
}

impl Noop {
    /// jwt-relay's test: only Kong's engine has `ngx.hostname`.
    fn on_kong(&self) -> bool {
        if let Some(kong) = self.kong.get() {
            return kong;
        }
        let kong = matches!(
            hostcalls::get_property(vec!["ngx", "hostname"]),
            Ok(Some(_))
        );
        self.kong.set(Some(kong));
        kong
    }
}

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        match self.mode {
            Mode::Nothing => Action::Continue,
            Mode::CachedToken(counters) => {
                read_request();
                set_and_count(
                    &[
                        ("x-consumer-id", "c-1"),
                        ("x-consumer-username", "bench"),
                        ("x-credential-identifier", "rs"),
                    ],
                    counters,
                );
                Action::Continue
            }
            Mode::Mint(counters) => {
                read_request();
                if end_of_stream {
                    return minted(counters);
                }
                // Kong's engine calls the body step once the headers step went on (with the
                // whole body); Envoy needs the headers held while the body arrives.
                if self.on_kong() {
                    Action::Continue
                } else {
                    Action::Pause
                }
            }
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Mode::Mint(counters) = self.mode else {
            return Action::Continue;
        };
        if body_size > self.seen {
            let _ = hostcalls::get_buffer(
                BufferType::HttpRequestBody,
                self.seen,
                body_size - self.seen,
            );
            self.seen = body_size;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        minted(counters)
    }
}

/// The body is in: the token's header goes on, the request with it.
fn minted(counters: [u32; 2]) -> Action {
    set_and_count(&[("jwt", MINTED)], counters);
    Action::Continue
}

/// jwt-relay's reads at the start of every request, results unused.
fn read_request() {
    let _ = hostcalls::get_map(MapType::HttpRequestHeaders);
    let _ = hostcalls::get_current_time();
}

/// jwt-relay's writes when it lets a request through: its headers, then its two counters.
fn set_and_count(headers: &[(&str, &str)], counters: [u32; 2]) {
    for (name, value) in headers {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
    }
    for id in counters {
        let _ = hostcalls::increment_metric(id, 1);
    }
}
