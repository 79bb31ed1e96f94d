//! Host metrics for [`Event`]s: defined on first use, then incremented by id. A host without
//! metrics (Kong before 3.8) refuses the definition; the filter then carries on without them.

use super::host::Host;
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
}

impl Metrics {
    fn id(&mut self, host: &mut impl Host, kind: u32, name: String) -> Option<u32> {
        if self.unavailable {
            return None;
        }
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
