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
    super::repo()
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
    /// Environment variables the filter's VM sees: Envoy's
    /// `vm_config.environment_variables.key_values`; on nginx the process environment, kept for
    /// the VM by an `env NAME;` directive each (as Kong's `nginx_main_env`).
    pub env: Vec<(String, String)>,
    /// Serve TLS and require a client certificate issued by `mtls_ca.pem` (tests/fixtures/jose).
    pub mtls: bool,
    /// Deliver the Wasm filter through ECDS (a watched file, Envoy's filesystem xDS) instead of
    /// inline, so [`Envoy::push_filter_config`] can replace its configuration while it serves.
    pub ecds: bool,
    /// nginx only: `proxy_request_buffering off`, as a Kong route with `request_buffering:
    /// false` proxies (nginx starts sending upstream before the body is in).
    pub unbuffered: bool,
    /// nginx only: `ignore_invalid_headers off` (Kong's `nginx_proxy_ignore_invalid_headers`):
    /// nginx keeps header names holding other bytes than letters, digits, `-` and `_`.
    pub invalid_headers_kept: bool,
    /// nginx only: the upstream URI as Kong 3.4–3.7 build it, the path in `$upstream_uri` when
    /// the filter runs and `?$args` added after it.
    pub query_added_later: bool,
    /// nginx only: the configuration of a second jwt-relay filter after the first in the
    /// route's filter chain (as Kong's `filter_chains` list several filters).
    pub next_filter: Option<String>,
    /// nginx only: a Proxy-Wasm module (a `.wasm` path) put before jwt-relay in the route's
    /// filter chain, as another filter of a Kong chain.
    pub before_filter: Option<std::path::PathBuf>,
    /// See [`Setup::edge`].
    pub edge: bool,
    /// nginx only: the large header and upstream buffers Kong deployments set
    /// (`large_client_header_buffers 16 128k`, kong.conf.default's example of an injected
    /// directive; `proxy_buffer_size 160k`).
    pub large_buffers: bool,
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
            env: Vec::new(),
            mtls: false,
            ecds: false,
            unbuffered: false,
            query_added_later: false,
            invalid_headers_kept: false,
            next_filter: None,
            before_filter: None,
            edge: false,
            large_buffers: false,
        }
    }

    /// nginx with large header buffers (see [`Setup::large_buffers`]).
    pub fn large_buffers(mut self) -> Self {
        self.large_buffers = true;
        self
    }

    /// Envoy only: `use_remote_address: true`, as Envoy's documentation asks of an edge proxy
    /// (the client's address is the connection's peer, never `X-Forwarded-For`'s last entry).
    pub fn edge(mut self) -> Self {
        self.edge = true;
        self
    }

    /// Adds a second jwt-relay filter after the first (see [`Setup::next_filter`]).
    pub fn next_filter(mut self, config: impl Into<String>) -> Self {
        self.next_filter = Some(config.into());
        self
    }

    /// Puts another filter before jwt-relay (see [`Setup::before_filter`]).
    pub fn before_filter(mut self, wasm: std::path::PathBuf) -> Self {
        self.before_filter = Some(wasm);
        self
    }

    /// Builds the upstream URI as Kong 3.4–3.7 do (see [`Setup::query_added_later`]).
    pub fn query_added_later(mut self) -> Self {
        self.query_added_later = true;
        self
    }

    /// Keeps invalid header names (see [`Setup::invalid_headers_kept`]).
    pub fn invalid_headers_kept(mut self) -> Self {
        self.invalid_headers_kept = true;
        self
    }

    /// Proxies without buffering the request body (see [`Setup::unbuffered`]).
    pub fn unbuffered(mut self) -> Self {
        self.unbuffered = true;
        self
    }

    /// Delivers the filter through ECDS (see [`Setup::ecds`]).
    pub fn ecds(mut self) -> Self {
        self.ecds = true;
        self
    }

    /// Serves TLS with `mtls_server_cert.pem` and requires a client certificate from
    /// `mtls_ca.pem`.
    pub fn mtls(mut self) -> Self {
        self.mtls = true;
        self
    }

    /// Adds an environment variable for the filter's VM.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
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
    /// With [`Setup::ecds`]: the filter's `typed_config`, whose configuration a push replaces.
    ecds: Option<Value>,
}

/// The name of the ECDS resource (and of the HTTP filter that discovers it).
const ECDS_NAME: &str = "jwt_relay";
/// The Wasm filter's type URL.
const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

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
        let mut bootstrap = render(&setup);
        let ecds = setup.ecds.then(|| {
            let typed = wasm_typed_config(&setup);
            fs::create_dir_all(dir.join("ecds")).unwrap();
            write_ecds(&dir, &typed, 1);
            bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
                ["typed_config"]["http_filters"][0] = ecds_filter(&dir);
            // xDS subscriptions, even from files, need the node's identity.
            bootstrap["node"] = json!({"id": "jwt-relay-test", "cluster": "jwt-relay-test"});
            typed
        });
        fs::write(&config, bootstrap.to_string()).unwrap();
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
        let mut child = child;
        let mut addrs = None;
        let log_path = dir.join("envoy.log");
        let admin_path = dir.join("admin");
        let ready = wait_until_ready(
            &mut child,
            || {
                addrs = probe_ready(&admin_path);
                addrs.is_some()
            },
            || fs::read_to_string(&log_path).unwrap_or_default(),
        );
        let envoy = Envoy {
            child,
            dir,
            admin: addrs.map_or(([127, 0, 0, 1], 0).into(), |a| a.0),
            listener: addrs.map_or(([127, 0, 0, 1], 0).into(), |a| a.1),
            ecds,
        };
        ready.map(|()| envoy)
    }

    /// Replaces the filter's configuration through ECDS (the file Envoy watches, replaced by a
    /// rename as a config-management tool would) and waits until Envoy applied or rejected it:
    /// `Ok` when applied, `Err` with Envoy's log when it was refused (the previous one stays).
    pub fn push_filter_config(&self, filter_config: &str) -> Result<(), String> {
        let mut typed = self
            .ecds
            .clone()
            .expect("push_filter_config needs Setup::ecds");
        typed["config"]["configuration"]["value"] = Value::from(filter_config);
        let stat = |what: &str| {
            self.stat(&format!(
                "extension_config_discovery.http_filter.{ECDS_NAME}.{what}"
            ))
            .unwrap_or(0)
        };
        // A refused update counts in `config_reload` too: success and rejection have their own.
        let (successes, rejections) = (stat("update_success"), stat("update_rejected"));
        let version = NEXT_DIR.fetch_add(1, Ordering::SeqCst) + 2;
        write_ecds(&self.dir, &typed, version);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if stat("update_success") > successes {
                return Ok(());
            }
            if stat("update_rejected") > rejections {
                return Err(self.log());
            }
            assert!(
                Instant::now() < deadline,
                "Envoy neither applied nor refused the pushed configuration:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a request through the listener.
    pub fn send(&self, req: &Request) -> Response {
        http::send(self.listener, req)
    }

    /// A path in this Envoy's own scratch directory (removed with it), for a test's files.
    pub fn scratch_path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
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

/// Polls `probe` until it holds, or the process exits, or 60 s pass; on failure, the exit
/// status and what `log` reads.
pub fn wait_until_ready(
    child: &mut Child,
    mut probe: impl FnMut() -> bool,
    log: impl Fn() -> String,
) -> Result<(), StartFailure> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(StartFailure {
                exited: status.code(),
                log: log(),
            });
        }
        if Instant::now() > deadline {
            return Err(StartFailure {
                exited: None,
                log: log(),
            });
        }
        if probe() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The admin and listener addresses once Envoy is LIVE (its admin `/ready` answers 200 and the
/// listener has a port).
fn probe_ready(admin_path: &std::path::Path) -> Option<(SocketAddr, SocketAddr)> {
    let admin: SocketAddr = fs::read_to_string(admin_path).ok()?.trim().parse().ok()?;
    let ready = http::try_send(admin, &Request::get("/ready"))?;
    if ready.status != 200 {
        return None;
    }
    let listeners = http::try_send(admin, &Request::get("/listeners?format=json"))?.json();
    let port = listeners["listener_statuses"][0]["local_address"]["socket_address"]["port_value"]
        .as_u64()
        .filter(|p| *p > 0)?;
    Some((admin, SocketAddr::from(([127, 0, 0, 1], port as u16))))
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
        // Request trailers go on to HTTP/1.1 upstreams (Envoy drops them by default), so a
        // test sees every field the client sent that the filter let through.
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http_protocol_options": {"enable_trailers": true}}
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": addr.ip().to_string(), "port_value": addr.port()
            }}}}]}]
        }
    })
}

/// Writes the ECDS resource file: to a temporary name first, then renamed into the watched
/// directory, so Envoy never reads half a file.
fn write_ecds(dir: &std::path::Path, typed: &Value, version: usize) {
    let mut resource = json!({"name": ECDS_NAME, "typed_config": typed});
    resource["@type"] =
        Value::from("type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig");
    let response = json!({"version_info": version.to_string(), "resources": [resource]});
    let tmp = dir.join("ecds.json.tmp");
    fs::write(&tmp, response.to_string()).unwrap();
    fs::rename(&tmp, dir.join("ecds").join("filter.json")).unwrap();
}

/// The HTTP filter entry that discovers the Wasm filter from the watched ECDS file. No default
/// configuration: until one is applied, Envoy answers every request with an error (fails closed).
fn ecds_filter(dir: &std::path::Path) -> Value {
    let watched = dir.join("ecds");
    json!({
        "name": ECDS_NAME,
        "config_discovery": {
            "config_source": {
                "path_config_source": {
                    "path": watched.join("filter.json").display().to_string(),
                    "watched_directory": {"path": watched.display().to_string()}
                },
                "resource_api_version": "V3"
            },
            "type_urls": [WASM_TYPE]
        }
    })
}

/// The Wasm filter's `typed_config`: the one a test gave, else built from its configuration.
fn wasm_typed_config(setup: &Setup) -> Value {
    setup.wasm_typed_config.clone().unwrap_or_else(|| {
        json!({
            "@type": WASM_TYPE,
            "config": {
                "name": "jwt_relay",
                "root_id": "jwt_relay",
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": setup.filter_config
                },
                "allow_on_headers_stop_iteration": true,
                "vm_config": vm_config(setup)
            }
        })
    })
}

fn vm_config(setup: &Setup) -> Value {
    let mut vm = json!({
        "vm_id": "jwt_relay",
        "runtime": "envoy.wasm.runtime.v8",
        "code": {"local": {"filename": wasm_path().display().to_string()}}
    });
    if !setup.env.is_empty() {
        let vars: serde_json::Map<String, Value> = setup
            .env
            .iter()
            .map(|(n, v)| (n.clone(), Value::from(v.clone())))
            .collect();
        vm["environment_variables"] = json!({ "key_values": vars });
    }
    vm
}

/// A fixture's absolute path.
pub fn fixture_path(name: &str) -> String {
    super::repo()
        .join("tests/fixtures/jose")
        .join(name)
        .display()
        .to_string()
}

/// TLS that requires a client certificate (Envoy then reports its subject to the filter).
fn mtls_transport_socket() -> Value {
    json!({
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "require_client_certificate": true,
            "common_tls_context": {
                "tls_certificates": [{
                    "certificate_chain": {"filename": fixture_path("mtls_server_cert.pem")},
                    "private_key": {"filename": fixture_path("mtls_server_key.pem")}
                }],
                "validation_context": {"trusted_ca": {"filename": fixture_path("mtls_ca.pem")}}
            }
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
    let mut bootstrap = json!({
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
                        "use_remote_address": setup.edge,
                        "route_config": {"virtual_hosts": [{
                            "name": "all", "domains": ["*"],
                            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream", "timeout": "30s"}}]
                        }]},
                        "http_filters": [
                            {"name": "envoy.filters.http.wasm", "typed_config": wasm_typed_config(setup)},
                            {"name": "envoy.filters.http.router", "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
                            }}
                        ]
                    }
                }]}]
            }],
            "clusters": clusters
        }
    });
    if setup.mtls {
        bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"] =
            mtls_transport_socket();
    }
    bootstrap
}
