//! Proxy-Wasm glue: turns host callbacks into calls on the pure core. Only [`abi`] talks to the
//! host; [`host::Host`] is the seam the state machine is tested through. [`wiping_alloc`] is the
//! module's allocator.

pub mod abi;
pub mod host;
pub mod host_quirks;
pub mod http;
pub mod map_codec;
pub mod metrics;
pub mod root;
pub mod wiping_alloc;

use http::HttpFilter;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use root::Root;

struct RootCtx(Root);
struct HttpCtx(HttpFilter<host::ProxyWasmHost>);

impl Context for RootCtx {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        self.0
            .on_call_response(&mut self.0.host(), token, body_size);
    }
}

impl RootContext for RootCtx {
    fn on_configure(&mut self, _size: usize) -> bool {
        self.0.configure()
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Without a configuration Envoy never creates streams; should a host do so, each is
        // refused (500), never passed through as an empty configuration would pass it.
        let config = self.0.config();
        // Nothing configured (`{}`): nothing to decide, hold or count, so the stream gets the
        // context a bare filter would, at a bare filter's cost per request (issue 16).
        if config.as_ref().is_some_and(|c| c.is_pass_through()) {
            return Some(Box::new(PassThrough));
        }
        let configured = config.is_some();
        let filter = HttpFilter::new(
            config.unwrap_or_default(),
            self.0.shared(),
            self.0.metrics(),
            self.0.host(),
        );
        let filter = if configured {
            filter
        } else {
            filter.unconfigured()
        };
        Some(Box::new(HttpCtx(filter)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn on_tick(&mut self) {
        self.0.on_tick(&mut self.0.host());
    }
}

impl HttpContext for HttpCtx {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.0.on_request_headers(end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        action(self.0.on_request_body(body_size, end_of_stream))
    }

    // Every callback is answered by the state machine: the SDK's defaults return `Continue`,
    // which would resume a request the filter holds (trailers) or let a response by.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        action(self.0.on_request_trailers())
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        action(self.0.on_response_headers())
    }

    fn on_http_response_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        action(self.0.on_response_body())
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        action(self.0.on_response_trailers())
    }
}

impl Context for HttpCtx {
    fn on_http_call_response(
        &mut self,
        token: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        self.0.on_call_response(token, body_size);
    }

    /// The stream is gone (answered, or its client vanished): a call it made dies with it.
    fn on_done(&mut self) -> bool {
        self.0.on_done();
        true
    }
}

/// A stream under a configuration with no stage: the SDK's callbacks, each `Continue`.
struct PassThrough;

impl Context for PassThrough {}
impl HttpContext for PassThrough {}

fn action(next: http::Action) -> Action {
    match next {
        http::Action::Continue => Action::Continue,
        http::Action::Pause => Action::Pause,
    }
}

/// Registers the root context with the host when the module starts.
pub fn register() {
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(RootCtx(Root::default()))
    });
}

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    register();
}}
