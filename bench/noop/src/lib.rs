//! A proxy-wasm filter that decides nothing: every request continues. `make bench` runs it
//! beside jwt-relay in two modes:
//! - configuration `""`: it does nothing at all, so the cost of the wasm host itself shows;
//! - configuration `"cached-token-calls"`: it makes the host calls jwt-relay makes for a request
//!   whose token is in its cache (read the headers, read the clock, set three identity headers,
//!   count two events), so the cost of those calls shows apart from jwt-relay's own work.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType, MetricType};
use std::cell::Cell;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(NoopRoot::default()) });
}}

/// The counters of the calls mode, once the configuration asked for it.
type Counters = Rc<Cell<Option<[u32; 2]>>>;

#[derive(Default)]
struct NoopRoot {
    counters: Counters,
}

impl Context for NoopRoot {}

impl RootContext for NoopRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        if config == b"cached-token-calls" {
            let define = |name| hostcalls::define_metric(MetricType::Counter, name).ok();
            let ids = define("noop.cache_hits").zip(define("noop.allowed"));
            self.counters.set(ids.map(|(a, b)| [a, b]));
        }
        true
    }

    // Declaring an HTTP context is what makes the host create one per request, as for jwt-relay.
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop {
            counters: self.counters.clone(),
        }))
    }
}

struct Noop {
    counters: Counters,
}

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if let Some(ids) = self.counters.get() {
            cached_token_calls(ids);
        }
        Action::Continue
    }
}

/// jwt-relay's host calls for a cached token, results unused.
fn cached_token_calls(counters: [u32; 2]) {
    let _ = hostcalls::get_map(MapType::HttpRequestHeaders);
    let _ = hostcalls::get_current_time();
    for (name, value) in [
        ("x-consumer-id", "c-1"),
        ("x-consumer-username", "bench"),
        ("x-credential-identifier", "rs"),
    ] {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value));
    }
    for id in counters {
        let _ = hostcalls::increment_metric(id, 1);
    }
}
