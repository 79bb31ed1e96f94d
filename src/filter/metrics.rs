//! Host metrics for [`Event`]s: defined on first use, then incremented by id.
//!
//! Kong's engine before 3.8 (ngx_wasm_module up to 0.3) has the metric calls as stubs that
//! trap, and a trap ends the instance with every request it holds, so on Kong the filter calls
//! them only when the configuration says `"metrics": true`. Which host runs the filter is
//! learnt at a VM's first request: counts a root context makes before then (a startup JWKS
//! fetch) wait for it.

use super::host::Host;
use jwt_relay_core::stages::events::{Event, RECONCILE_LATENCY_MS};
use std::borrow::Cow;
use std::collections::HashMap;

/// Proxy-Wasm metric type of a counter.
pub const COUNTER: u32 = 0;
/// Proxy-Wasm metric type of a gauge (recorded: the value replaces the last).
pub const GAUGE: u32 = 1;
/// Proxy-Wasm metric type of a histogram.
pub const HISTOGRAM: u32 = 2;

/// Counter names kept while the host is unknown (each with its count): more than the root
/// context's events, so none is lost.
const PENDING_NAMES: usize = 8;

/// Metric ids by name, shared by a VM's contexts.
///
/// ngx_wasm_module names a metric `pw:<filter>:<name>` itself: there the filter's own
/// `jwt_relay.` prefix is left out so it does not appear twice.
#[derive(Debug, Default)]
pub struct Metrics {
    ids: HashMap<String, u32>,
    /// The configuration's `metrics` (`None`: on Envoy only).
    wanted: Option<bool>,
    /// The host refused a definition: no metric is tried again.
    unavailable: bool,
    /// Counts made before the host was known, by name.
    pending: Vec<(String, u64)>,
    /// Requests this VM finished, for the gauges' refresh.
    finished: u64,
}

/// Whether a metric call may be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// The host is not known yet: counters wait, gauges and histograms are skipped.
    Wait,
    Off,
    On,
}

/// The gauges are refreshed on a VM's first finished request and every `GAUGE_EVERY` after: a
/// soak reads them from the host's stats at no cost to the other requests.
pub const GAUGE_EVERY: u64 = 1024;

/// What the gauges report: this VM's memory and how full its caches are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// The VM's linear memory, in bytes (it grows and never shrinks: flat means no leak).
    pub memory_bytes: u64,
    /// Verified tokens held.
    pub token_cache_entries: u64,
    /// Reconcile answers held.
    pub reconcile_cache_entries: u64,
}

/// This VM's linear memory in bytes.
pub fn memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as u64).saturating_mul(65536)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
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
    /// Takes a configuration's `metrics` setting.
    pub fn configure(&mut self, wanted: Option<bool>) {
        self.wanted = wanted;
    }

    fn gate(&self, host: &impl Host) -> Gate {
        if self.unavailable || self.wanted == Some(false) {
            Gate::Off
        } else if !host.kind_known() {
            Gate::Wait
        } else if host.is_kong() && self.wanted.is_none() {
            Gate::Off
        } else {
            Gate::On
        }
    }

    fn id(&mut self, host: &mut impl Host, kind: u32, name: Cow<'static, str>) -> Option<u32> {
        if self.gate(host) != Gate::On {
            return None;
        }
        if let Some(id) = self.ids.get(name.as_ref()) {
            return Some(*id);
        }
        match host.define_metric(kind, &host_name(host.is_kong(), &name)) {
            Ok(id) => {
                self.ids.insert(name.into_owned(), id);
                Some(id)
            }
            Err(_) => {
                self.unavailable = true;
                None
            }
        }
    }

    fn add(&mut self, host: &mut impl Host, name: Cow<'static, str>, n: u64) {
        if let Some(id) = self.id(host, COUNTER, name) {
            host.add_metric(id, COUNTER, n);
        }
    }

    /// Counts one event (held back while the host is unknown).
    pub fn count(&mut self, host: &mut impl Host, event: &Event) {
        // The name is formatted only where it is used: with metrics off (Kong's default)
        // a request's events cost nothing.
        match self.gate(host) {
            Gate::Off => self.pending.clear(),
            Gate::Wait => self.hold(event.metric().into_owned()),
            Gate::On => {
                for (held, n) in std::mem::take(&mut self.pending) {
                    self.add(host, held.into(), n);
                }
                self.add(host, event.metric(), 1);
            }
        }
    }

    fn hold(&mut self, name: String) {
        if let Some((_, n)) = self.pending.iter_mut().find(|(held, _)| *held == name) {
            *n = n.saturating_add(1);
        } else if self.pending.len() < PENDING_NAMES {
            self.pending.push((name, 1));
        }
    }

    /// A request finished: refreshes the gauges when due, with the sizes `sizes` reads then.
    pub fn finished(&mut self, host: &mut impl Host, sizes: impl FnOnce() -> Sizes) {
        let due = self.finished.is_multiple_of(GAUGE_EVERY);
        self.finished = self.finished.wrapping_add(1);
        if !due || self.gate(host) != Gate::On {
            return;
        }
        let sizes = sizes();
        for (name, value) in [
            ("jwt_relay.vm_memory_bytes", sizes.memory_bytes),
            ("jwt_relay.token_cache_entries", sizes.token_cache_entries),
            (
                "jwt_relay.reconcile_cache_entries",
                sizes.reconcile_cache_entries,
            ),
        ] {
            if let Some(id) = self.id(host, GAUGE, name.into()) {
                host.add_metric(id, GAUGE, value);
            }
        }
    }

    /// Records a reconcile call's latency.
    pub fn reconcile_latency(&mut self, host: &mut impl Host, ms: u64) {
        if let Some(id) = self.id(host, HISTOGRAM, RECONCILE_LATENCY_MS.into()) {
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
