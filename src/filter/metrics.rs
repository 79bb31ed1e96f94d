//! Host metrics for [`Event`]s: defined on first use, then incremented by id. A host without
//! metrics (Kong before 3.8) refuses the definition; the filter then carries on without them.

use super::host::Host;
use jwt_relay_core::stages::events::{Event, RECONCILE_LATENCY_MS};
use std::collections::HashMap;

/// Proxy-Wasm metric type of a counter.
pub const COUNTER: u32 = 0;
/// Proxy-Wasm metric type of a histogram.
pub const HISTOGRAM: u32 = 2;

/// Metric ids by name, shared by a VM's contexts.
///
/// ngx_wasm_module names a metric `pw:<filter>:<name>` itself: there the filter's own
/// `jwt_relay.` prefix is left out so it does not appear twice. The host's kind is learnt at the
/// first request, so ids are kept per (kind, name): a metric a root context defined before then
/// (a startup JWKS fetch) is defined again under the right name once the kind is known.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: HashMap<(bool, String), u32>,
    unavailable: bool,
}

/// The prefix every metric name of [`Event::metric`] starts with.
const PREFIX: &str = "jwt_relay.";

/// The name the host is given for one of ours.
fn host_name(ngx: bool, name: &str) -> String {
    match name.strip_prefix(PREFIX) {
        Some(short) if ngx => short.to_string(),
        _ => name.to_string(),
    }
}

impl Metrics {
    fn id(&mut self, host: &mut impl Host, kind: u32, name: String) -> Option<u32> {
        if self.unavailable {
            return None;
        }
        let key = (host.is_kong(), name);
        if let Some(id) = self.ids.get(&key) {
            return Some(*id);
        }
        match host.define_metric(kind, &host_name(key.0, &key.1)) {
            Ok(id) => {
                self.ids.insert(key, id);
                Some(id)
            }
            Err(_) => {
                self.unavailable = true;
                None
            }
        }
    }

    /// Counts one event.
    pub fn count(&mut self, host: &mut impl Host, event: &Event) {
        if let Some(id) = self.id(host, COUNTER, event.metric()) {
            host.add_metric(id, COUNTER, 1);
        }
    }

    /// Records a reconcile call's latency.
    pub fn reconcile_latency(&mut self, host: &mut impl Host, ms: u64) {
        if let Some(id) = self.id(host, HISTOGRAM, RECONCILE_LATENCY_MS.to_string()) {
            host.add_metric(id, HISTOGRAM, ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_name_drops_the_prefix_only_on_ngx() {
        let name = Event::Allowed.metric();
        assert_eq!(host_name(false, &name), "jwt_relay.requests_allowed");
        assert_eq!(host_name(true, &name), "requests_allowed");
        assert_eq!(
            host_name(true, RECONCILE_LATENCY_MS),
            "reconcile_latency_ms"
        );
    }
}
