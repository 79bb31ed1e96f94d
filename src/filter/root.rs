//! The root context: reads and compiles the configuration once, then hands it to every request.

use super::abi::{self, ids};
use super::host::{Host, Level, ProxyWasmHost};
use crate::config::{self, Config};
use crate::stages::Shared;
use std::cell::RefCell;
use std::rc::Rc;

/// Owns the compiled configuration and the VM's shared state; HTTP contexts share both
/// through an `Rc`.
#[derive(Default)]
pub struct Root {
    config: Option<Rc<Config>>,
    shared: Rc<RefCell<Shared>>,
}

impl Root {
    /// The configuration, once `configure` succeeded.
    pub fn config(&self) -> Option<Rc<Config>> {
        self.config.clone()
    }

    /// State shared by this VM's requests (caches).
    pub fn shared(&self) -> Rc<RefCell<Shared>> {
        self.shared.clone()
    }

    /// `on_configure`: false refuses the configuration (Envoy will not start, or NACKs an update).
    pub fn configure(&mut self, host: &impl Host) -> bool {
        let bytes = match abi::buffer(ids::PLUGIN_CONFIGURATION, 0, usize::MAX) {
            Ok(b) => b.unwrap_or_default(),
            Err(status) => {
                host.log(
                    Level::Error,
                    &format!("jwt-relay: configuration unreadable (host status {status})"),
                );
                return false;
            }
        };
        self.configure_from(host, &bytes)
    }

    /// Compiles `bytes`; logs and refuses on error, keeping any previous configuration untouched.
    pub fn configure_from(&mut self, host: &impl Host, bytes: &[u8]) -> bool {
        match config::load(bytes) {
            Ok(config) => {
                // Caches belong to a configuration: a new one starts empty.
                self.shared = Rc::new(RefCell::new(Shared::for_config(&config)));
                self.config = Some(Rc::new(config));
                host.log(Level::Info, "jwt-relay: configuration loaded");
                true
            }
            Err(e) => {
                host.log(
                    Level::Error,
                    &format!("jwt-relay: configuration rejected: {e}"),
                );
                false
            }
        }
    }
}

/// Used by `create_http_context`.
pub fn host() -> ProxyWasmHost {
    ProxyWasmHost
}
