//! Starts a real Envoy loading the real filter, on free loopback ports, and stops it on drop.

use super::http::{self, Request, Response};
use serde_json::{json, Value};
use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Envoy binary: `$ENVOY_BIN`, else the project virtualenv's.
pub fn envoy_bin() -> PathBuf {
    let path = std::env::var_os("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/envoy"));
    assert!(
        path.exists(),
        "Envoy not found at {} (run `make test`, which installs it)",
        path.display()
    );
    path
}

/// The built filter: `$JWT_RELAY_WASM`, else `filters/jwt_relay.wasm`.
pub fn wasm_path() -> PathBuf {
    let path = std::env::var_os("JWT_RELAY_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("filters/jwt_relay.wasm"));
    assert!(
        path.exists(),
        "filter not built at {} (run `make test`, which builds it)",
        path.display()
    );
    path
}

/// What to put in the generated Envoy config.
pub struct Setup {
    /// The filter configuration (JSON), passed as a StringValue.
    pub filter_config: String,
    /// Address of the default route's upstream.
    pub upstream: SocketAddr,
    /// Extra clusters the filter can dispatch to: (name, address).
    pub clusters: Vec<(String, SocketAddr)>,
    /// Per-connection buffer limit on listener and clusters (nginx: `client_max_body_size`).
    pub buffer_limit: u64,
    /// nginx only: `client_body_buffer_size`, the largest body kept in memory, so readable by
    /// the filter (Kong's `nginx_http_client_body_buffer_size`, 8k by default).
    pub body_buffer: u64,
    /// Envoy only: the Wasm filter's whole `typed_config` (as a shipped manifest has it) in
    /// place of the one built from `filter_config`.
    pub wasm_typed_config: Option<Value>,
}

impl Setup {
    pub fn new(filter_config: impl Into<String>, upstream: SocketAddr) -> Self {
        Self {
            filter_config: filter_config.into(),
            upstream,
            clusters: Vec::new(),
            buffer_limit: 16 * 1024 * 1024,
            body_buffer: 16 * 1024 * 1024,
            wasm_typed_config: None,
        }
    }

    pub fn cluster(mut self, name: &str, addr: SocketAddr) -> Self {
        self.clusters.push((name.into(), addr));
        self
    }
}

/// A running Envoy.
pub struct Envoy {
    child: Child,
    dir: PathBuf,
    pub admin: SocketAddr,
    pub listener: SocketAddr,
}

/// Why Envoy did not become ready.
#[derive(Debug)]
pub struct StartFailure {
    /// Envoy's exit status, if it exited.
    pub exited: Option<i32>,
    /// Everything Envoy logged.
    pub log: String,
}

impl Envoy {
    /// Starts Envoy and waits until it is ready; panics with Envoy's log if it is not.
    pub fn start(setup: Setup) -> Envoy {
        Self::try_start(setup).unwrap_or_else(|f| panic!("Envoy did not start: {f:?}"))
    }

    /// Starts Envoy; on failure returns its exit status and log.
    pub fn try_start(setup: Setup) -> Result<Envoy, StartFailure> {
        let dir = std::env::temp_dir().join(format!(
            "jwt-relay-test-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("envoy.json");
        fs::write(&config, render(&setup).to_string()).unwrap();
        let log = fs::File::create(dir.join("envoy.log")).unwrap();
        let child = Command::new(envoy_bin())
            .arg("-c")
            .arg(&config)
            .args(["--disable-hot-restart", "--concurrency", "1"])
            .args(["-l", "info", "--component-log-level", "wasm:debug"])
            .arg("--admin-address-path")
            .arg(dir.join("admin"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn envoy");
        let mut envoy = Envoy {
            child,
            dir,
            admin: "127.0.0.1:0".parse().unwrap(),
            listener: "127.0.0.1:0".parse().unwrap(),
        };
        envoy.wait_ready()?;
        Ok(envoy)
    }

    /// Polls the admin `/ready` endpoint until Envoy is LIVE, or it exits, or 60 s pass.
    fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(StartFailure {
                    exited: status.code(),
                    log: self.log(),
                });
            }
            if Instant::now() > deadline {
                return Err(StartFailure {
                    exited: None,
                    log: self.log(),
                });
            }
            if self.probe_ready() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn probe_ready(&mut self) -> bool {
        let Ok(text) = fs::read_to_string(self.dir.join("admin")) else {
            return false;
        };
        let Ok(admin) = text.trim().parse() else {
            return false;
        };
        self.admin = admin;
        match http::try_send(admin, &Request::get("/ready")) {
            Some(r) if r.status == 200 => {}
            _ => return false,
        }
        let Some(listeners) = http::try_send(admin, &Request::get("/listeners?format=json")) else {
            return false;
        };
        let listeners = listeners.json();
        let port = &listeners["listener_statuses"][0]["local_address"]["socket_address"];
        match port["port_value"].as_u64() {
            Some(p) if p > 0 => {
                self.listener = SocketAddr::from(([127, 0, 0, 1], p as u16));
                true
            }
            _ => false,
        }
    }

    /// Sends a request through the listener.
    pub fn send(&self, req: &Request) -> Response {
        http::send(self.listener, req)
    }

    /// Everything Envoy logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }

    /// A stat's value from the admin `/stats` endpoint.
    pub fn stat(&self, name: &str) -> Option<u64> {
        let text = http::send(
            self.admin,
            &Request::get(&format!("/stats?filter=^{name}$")),
        )
        .text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .and_then(|v| v.trim().parse().ok())
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn cluster(name: &str, addr: SocketAddr, buffer_limit: u64) -> Value {
    json!({
        "name": name,
        "connect_timeout": "2s",
        "type": "STATIC",
        "per_connection_buffer_limit_bytes": buffer_limit,
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": addr.ip().to_string(), "port_value": addr.port()
            }}}}]}]
        }
    })
}

/// The Envoy bootstrap for a test, as JSON (which Envoy reads as YAML).
pub fn render(setup: &Setup) -> Value {
    let loopback =
        |port: u16| json!({"socket_address": {"address": "127.0.0.1", "port_value": port}});
    let mut clusters = vec![cluster("upstream", setup.upstream, setup.buffer_limit)];
    clusters.extend(
        setup
            .clusters
            .iter()
            .map(|(n, a)| cluster(n, *a, setup.buffer_limit)),
    );
    json!({
        "admin": {"address": loopback(0)},
        "static_resources": {
            "listeners": [{
                "name": "main",
                "address": loopback(0),
                "per_connection_buffer_limit_bytes": setup.buffer_limit,
                "filter_chains": [{"filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "route_config": {"virtual_hosts": [{
                            "name": "all", "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "30s"}}]
                        }]},
                        "http_filters": [
                            {"name": "envoy.filters.http.wasm", "typed_config": setup.wasm_typed_config.clone().unwrap_or_else(|| json!({
                                "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
                                "config": {
                                    "name": "jwt_relay",
                                    "root_id": "jwt_relay",
                                    "configuration": {
                                        "@type": "type.googleapis.com/google.protobuf.StringValue",
                                        "value": setup.filter_config
                                    },
                                    "allow_on_headers_stop_iteration": true,
                                    "vm_config": {
                                        "vm_id": "jwt_relay",
                                        "runtime": "envoy.wasm.runtime.v8",
                                        "code": {"local": {"filename": wasm_path().display().to_string()}}
                                    }
                                }
                            }))},
                            {"name": "envoy.filters.http.router", "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                            }}
                        ]
                    }
                }]}]
            }],
            "clusters": clusters
        }
    })
}
