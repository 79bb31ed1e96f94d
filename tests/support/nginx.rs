//! Kong's wasm engine (nginx + ngx_wasm_module) loading the real filter, proxying as Kong does:
//! the filter's headers step runs in the access phase (Kong attaches filter chains at the end of
//! its access phase), the upstream URI is `$upstream_uri` (Kong's `proxy_pass` sends that
//! variable, set before filters run, not the request's `:path`), and the request body is
//! buffered in memory up to `client_body_buffer_size` (Kong's
//! `nginx_http_client_body_buffer_size`); header names with `_` reach the filter
//! (`underscores_in_headers on`, as Kong's nginx template sets). The engine is not installable from a registry: it is
//! found through `JWT_RELAY_NGX_BIN`, and tests skip this host when it is unset.

use super::envoy::{fixture_path, wait_until_ready, wasm_path, Setup, StartFailure};
use super::http::{self, Request, Response};
use serde_json::Value;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// The engine's nginx binary, when this machine has one.
pub fn ngx_bin() -> Option<PathBuf> {
    std::env::var_os("JWT_RELAY_NGX_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// A running nginx with the filter.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub listener: SocketAddr,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// The filter configuration with every dispatch target (`"upstream": "<cluster>"`) replaced by
/// the service's `127.0.0.1:PORT`: on nginx a call goes to an address, not a cluster.
pub fn to_addresses(config: &str, clusters: &[(String, SocketAddr)]) -> String {
    fn walk(value: &mut Value, clusters: &[(String, SocketAddr)]) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    let named = v.as_str().and_then(|name| {
                        clusters
                            .iter()
                            .find(|(c, _)| key == "upstream" && c == name)
                    });
                    match named {
                        Some((_, addr)) => *v = Value::String(addr.to_string()),
                        None => walk(v, clusters),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, clusters)),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(config) {
        Ok(mut value) => {
            walk(&mut value, clusters);
            value.to_string()
        }
        Err(_) => config.to_string(), // a test of a malformed configuration: passed as it is
    }
}

/// An nginx single-quoted string: nginx turns `\\`, `\'`, `\n`, `\t`, `\r` into characters, so
/// every backslash of the JSON is doubled.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The nginx configuration for a test, mirroring how Kong proxies: `$upstream_uri` for the
/// upstream's URI, and `X-Forwarded-Proto` from `$upstream_x_forwarded_proto`, which Kong's
/// runloop sets before filters run (its own scheme for a client `trusted_ips` does not trust).
pub fn render(setup: &Setup, dir: &std::path::Path, port: u16) -> String {
    let config = to_addresses(&setup.filter_config, &setup.clusters);
    let d = dir.display();
    let env: String = setup
        .env
        .iter()
        .map(|(name, _)| format!("env {name};\n"))
        .collect();
    let tls = if setup.mtls {
        format!(
            " ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    \
             ssl_client_certificate {};\n    ssl_verify_client on",
            fixture_path("mtls_server_cert.pem"),
            fixture_path("mtls_server_key.pem"),
            fixture_path("mtls_ca.pem")
        )
    } else {
        // Cleartext HTTP/2 (prior knowledge) beside HTTP/1.1, as Kong's proxy listener serves
        // it with `http2` (nginx 1.25.1+ tells the two apart by the connection's preface).
        ";\n    http2 on".to_string()
    };
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\n{env}\
         error_log {d}/error.log info;\npid {d}/nginx.pid;\n\
         events {{ worker_connections 512; }}\n\
         wasm {{ module jwt_relay {wasm};{before_module} }}\n\
         http {{\n  access_log off;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           client_body_buffer_size {buffer}; client_max_body_size {max};\n\
           underscores_in_headers on;{invalid}{large}\n\
           map $request_uri $request_path {{ \"~^(?<p>[^?]*)\" $p; }}\n\
           server {{\n    listen 127.0.0.1:{port}{tls};\n\
             location / {{\n      proxy_wasm_request_headers_in_access on;\n\
               set $upstream_uri {uri};\n      set $upstream_x_forwarded_proto $scheme;\n\
               proxy_set_header X-Forwarded-Proto $upstream_x_forwarded_proto;\n\
               {before}proxy_wasm jwt_relay {config};\n{next}\
               {buffering}proxy_http_version 1.1;\n      proxy_pass http://{upstream}$upstream_uri{later};\n    }}\n  }}\n}}\n",
        wasm = wasm_path().display(),
        buffer = setup.body_buffer,
        max = setup.buffer_limit,
        config = quoted(&config),
        before_module = match &setup.before_filter {
            Some(wasm) => format!(" module before {};", wasm.display()),
            None => String::new(),
        },
        before = match setup.before_filter {
            Some(_) => "proxy_wasm before;\n      ",
            None => "",
        },
        next = match &setup.next_filter {
            Some(next) => format!(
                "      proxy_wasm jwt_relay {};\n",
                quoted(&to_addresses(next, &setup.clusters))
            ),
            None => String::new(),
        },
        upstream = setup.upstream,
        // Kong 3.8+ set the whole URI before filters run; 3.4–3.7 the path, and add the
        // query after them (`kong.runloop.handler`'s `access.after`).
        uri = if setup.query_added_later { "$request_path" } else { "$request_uri" },
        later = if setup.query_added_later { "$is_args$args" } else { "" },
        invalid = match setup.invalid_headers_kept {
            true => " ignore_invalid_headers off;",
            false => "",
        },
        large = match setup.large_buffers {
            true => {
                "\n  large_client_header_buffers 16 128k;\n  \
                 proxy_buffer_size 160k; proxy_buffers 64 160k; proxy_busy_buffers_size 320k;"
            }
            false => "",
        },
        buffering = match setup.unbuffered {
            true => "proxy_request_buffering off;\n      ",
            false => "",
        },
    )
}

/// The end of the filter's log line for a configuration it refused on Kong's engine.
pub const FAILS_CLOSED: &str = "every request is answered 500 until a configuration loads";

impl Nginx {
    /// Starts nginx and waits until it accepts connections; panics with its log if it does not.
    pub fn start(setup: Setup) -> Nginx {
        Self::try_start(setup).unwrap_or_else(|f| panic!("nginx did not start: {f:?}"))
    }

    /// Starts nginx; on failure returns its exit status and log.
    pub fn try_start(setup: Setup) -> Result<Nginx, StartFailure> {
        let bin = ngx_bin().expect("JWT_RELAY_NGX_BIN is not set");
        let dir = std::env::temp_dir().join(format!(
            "jwt-relay-ngx-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let conf = dir.join("nginx.conf");
        fs::write(&conf, render(&setup, &dir, port)).unwrap();
        let out = fs::File::create(dir.join("stderr.log")).unwrap();
        let child = Command::new(bin)
            .envs(setup.env.iter().map(|(n, v)| (n, v)))
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn nginx");
        let mut child = child;
        let listener = SocketAddr::from(([127, 0, 0, 1], port));
        let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
        // nginx listens before the filter's `on_configure` ran (the module compiles at worker
        // start): ready once the filter said so, refused once nginx exited.
        let ready = wait_until_ready(
            &mut child,
            || {
                let log = read("error.log");
                // A refused configuration serves too, answering 500 (Kong must not drop the chain).
                (log.contains("jwt-relay: configuration loaded") || log.contains(FAILS_CLOSED))
                    && TcpStream::connect(listener).is_ok()
            },
            || format!("{}{}", read("stderr.log"), read("error.log")),
        );
        let nginx = Nginx {
            child,
            dir,
            listener,
        };
        ready.map(|()| nginx)
    }

    /// Sends a request through the listener.
    pub fn send(&self, req: &Request) -> Response {
        http::send(self.listener, req)
    }

    /// Everything nginx logged so far (the filter's lines included).
    pub fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}
