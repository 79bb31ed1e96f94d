//! Host metrics for [`Event`]s: defined on first use, then incremented by id. A host without
//! metrics (Kong before 3.8) refuses the definition; the filter then carries on without them.

use super::host::{Host, HostKind};
use crate::stages::events::{Event, RECONCILE_LATENCY_MS};
use std::collections::HashMap;

/// Proxy-Wasm metric type of a counter.
pub const COUNTER: u32 = 0;
/// Proxy-Wasm metric type of a histogram.
pub const HISTOGRAM: u32 = 2;

/// Metric ids by name, shared by a VM's contexts.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: HashMap<String, u32>,
    unavailable: bool,
    /// ngx_wasm_module names a metric `pw:<filter>:<name>` itself: the filter's own
    /// `jwt_relay.` prefix is left out there so it does not appear twice.
    unprefixed: bool,
}

/// The prefix every metric name of [`Event::metric`] starts with.
const PREFIX: &str = "jwt_relay.";

impl Metrics {
    /// Metrics named for this host.
    pub fn for_host(kind: HostKind) -> Self {
        Self {
            unprefixed: kind == HostKind::Ngx,
            ..Self::default()
        }
    }

    /// The name the host is given for one of ours.
    fn host_name(&self, name: String) -> String {
        match name.strip_prefix(PREFIX) {
            Some(short) if self.unprefixed => short.to_string(),
            _ => name,
        }
    }

    fn id(&mut self, host: &mut impl Host, kind: u32, name: String) -> Option<u32> {
        if self.unavailable {
            return None;
        }
        let name = self.host_name(name);
        if let Some(id) = self.ids.get(&name) {
            return Some(*id);
        }
        match host.define_metric(kind, &name) {
            Ok(id) => {
                self.ids.insert(name, id);
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
        let envoy = Metrics::for_host(HostKind::Envoy);
        let ngx = Metrics::for_host(HostKind::Ngx);
        let name = Event::Allowed.metric();
        assert_eq!(envoy.host_name(name.clone()), "jwt_relay.requests_allowed");
        assert_eq!(ngx.host_name(name), "requests_allowed");
        assert_eq!(
            ngx.host_name(RECONCILE_LATENCY_MS.into()),
            "reconcile_latency_ms"
        );
    }
}
