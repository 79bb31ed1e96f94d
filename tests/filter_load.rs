//! The filter loads in every host (Envoy, and Kong's engine when `JWT_RELAY_NGX_BIN` is set):
//! `{}` passes requests through untouched, and a bad config is refused with its JSON path in
//! the host's log, Envoy refusing to serve and Kong's engine answering every request 500.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use support::{hosts, Gateway, Host, Request, Server, Setup};

/// Headers the hosts themselves add on the way upstream (Envoy's own; nginx's `Connection`);
/// everything else must arrive as the client sent it.
const HOST_ADDED: [&str; 4] = [
    "x-forwarded-proto",
    "x-request-id",
    "x-envoy-expected-rq-timeout-ms",
    "connection",
];

fn client_headers(rec: &support::Recorded) -> Vec<(String, String)> {
    rec.headers
        .iter()
        .filter(|(k, _)| !HOST_ADDED.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

#[test]
fn empty_config_get_passes_through_unchanged() {
    for host in hosts() {
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new("{}", upstream.addr()));
        let resp = gw.send(
            &Request::get("/a/b?x=1&y=%20")
                .header("authorization", "Bearer not-a-token")
                .header("x-consumer-id", "client-sent")
                .header("x-dup", "one")
                .header("x-dup", "two"),
        );
        assert_eq!((resp.status, resp.text().as_str()), (200, "ok"), "{host:?}");
        let rec = upstream.single();
        assert_eq!(
            (rec.method.as_str(), rec.path.as_str()),
            ("GET", "/a/b?x=1&y=%20")
        );
        // Kong (nginx) sends the upstream's own address as `Host` (`preserve_host` off).
        let host_header = match host {
            Host::Envoy => gw.listener().to_string(),
            Host::Ngx => upstream.addr().to_string(),
        };
        let want: Vec<(String, String)> = [
            ("host", host_header.as_str()),
            ("authorization", "Bearer not-a-token"),
            ("x-consumer-id", "client-sent"),
            ("x-dup", "one"),
            ("x-dup", "two"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(client_headers(&rec), want, "{host:?}");
        assert!(rec.body.is_empty());
    }
}

#[test]
fn empty_config_post_body_reaches_upstream_byte_for_byte() {
    for host in hosts() {
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new("{}", upstream.addr()));
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let resp = gw.send(&Request::post("/upload", body.clone()).chunked(7_000));
        assert_eq!(resp.status, 200, "{host:?}");
        assert_eq!(upstream.single().body, body, "{host:?}");
    }
}

#[test]
fn non_utf8_header_value_passes_without_trap() {
    for host in hosts() {
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new("{}", upstream.addr()));
        for _ in 0..2 {
            let req = Request::get("/").raw_header("x-latin1", b"caf\xe9 \xff");
            assert_eq!(gw.send(&req).status, 200, "{host:?}");
        }
        assert_eq!(upstream.requests().len(), 2);
    }
}

fn assert_refused(filter_config: &str, expected_log: &str) {
    assert_refused_log(filter_config, expected_log);
}

/// [`assert_refused`], and the hosts' logs ([`Gateway::refused`]: Envoy refuses to start, Kong's
/// engine answers every request 500); nothing reaches the upstream.
fn assert_refused_log(filter_config: &str, expected_log: &str) -> String {
    let mut logs = String::new();
    for host in hosts() {
        let upstream = Server::ok();
        let log = Gateway::refused(host, Setup::new(filter_config, upstream.addr()));
        assert!(
            log.contains(expected_log),
            "{host:?}: log lacks {expected_log:?}:\n{log}"
        );
        assert!(upstream.requests().is_empty(), "{host:?}");
        logs.push_str(&log);
    }
    logs
}

/// No configuration is not `{}`: Envoy without `configuration`, a Kong filter without `config`
/// (review: both passed every request through).
#[test]
fn an_empty_configuration_is_refused() {
    for empty in ["", "  \n"] {
        assert_refused(
            empty,
            "jwt-relay: configuration rejected: .: is empty (`{}` is the configuration that passes every request through)",
        );
    }
}

#[test]
fn unknown_field_is_refused_with_path_and_envoy_does_not_serve() {
    assert_refused(
        r#"{"reconcile": {"url": "http://auth:8080", "methd": "GET"}}"#,
        "jwt-relay: configuration rejected: reconcile.methd: unknown field",
    );
}

#[test]
fn malformed_json_is_refused_and_envoy_does_not_serve() {
    assert_refused(
        r#"{"jwt": {"#,
        "jwt-relay: configuration rejected: .: malformed JSON: EOF while parsing an object",
    );
}

#[test]
fn wrong_type_is_refused_with_path() {
    assert_refused(
        r#"{"jwt": {"claims_to_verify": ["iat"]}}"#,
        "jwt-relay: configuration rejected: jwt.claims_to_verify[0]: unknown variant `iat`, expected `exp` or `nbf`",
    );
}

/// A secret where it does not belong is refused without being logged (review: the whole PEM of
/// a key given as `private_key_env`, an API key given as a credential object, and a numeric
/// password were in the host's error log).
#[test]
fn a_refused_configuration_never_logs_the_secret_in_it() {
    let key = std::fs::read_to_string(support::envoy::fixture_path("ec_p256_pkcs8.pem")).unwrap();
    let key_line = key.lines().nth(1).unwrap().to_string();
    let cases = [
        (
            serde_json::json!({"upstream_jwt": {"private_key_env": key, "x5c": false}}),
            "upstream_jwt.private_key_env: must name an environment variable",
            key_line.as_str(),
        ),
        (
            serde_json::json!({"consumers": [{"id": "c", "keyauth_credentials": ["LEAKED-API-KEY-7781"]}]}),
            "consumers[0].keyauth_credentials[0]: invalid type: string, expected struct",
            "LEAKED-API-KEY-7781",
        ),
        (
            serde_json::json!({"consumers": [{"id": "c", "basicauth_credentials": [{"username": "u", "password": 90817263}]}]}),
            "consumers[0].basicauth_credentials[0].password: invalid type: integer, expected a string",
            "90817263",
        ),
        // Review: base64 of a key with no `+`, `/` or `=` reads as a variable's name, and the
        // name was quoted; so was a key pasted as a member's name.
        (
            serde_json::json!({"upstream_jwt": {"private_key_env": "MC4CAQAwBQYDK2VwBCIEIHdhc2gtdGhpcy1pcy1ub3QtYS1yZWFsLWtleS0x", "x5c": false}}),
            "upstream_jwt.private_key_env: the environment variable it names is not set",
            "MC4CAQAwBQYDK2VwBCIEIHdhc2gtdGhpcy1pcy1ub3QtYS1yZWFsLWtleS0x",
        ),
        (
            serde_json::json!({"consumers": [{"id": "c", "keyauth_credentials": [{"a3f19c0d5e7b2a4c6e8f0a1b3c5d7e9f": true}]}]}),
            "consumers[0].keyauth_credentials[0]: unknown field (its name is not shown: it may be a secret)",
            "a3f19c0d5e7b2a4c6e8f0a1b3c5d7e9f",
        ),
    ];
    for (config, expected, secret) in cases {
        let log = assert_refused_log(&config.to_string(), expected);
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

/// Kong hands a filter its `config` encoded by Lua's cjson, which writes every empty array of a
/// configuration read back from Kong's database or declarative cache as `{}` (review: Kong's
/// own export of the jwt plugin, `cookie_names: []`, was refused). It loads as written with
/// `[]`, and authenticates.
#[test]
fn a_configuration_with_kongs_empty_objects_for_empty_arrays_loads() {
    let config = r#"{"consumers": [{"id": "c-1", "username": "alice", "tags": {},
        "jwt_secrets": {}, "basicauth_credentials": {}, "keyauth_credentials": [{"key": "k-1"}]}],
        "key_auth": {"key_names": ["apikey"], "anonymous": null}}"#;
    for host in hosts() {
        let upstream = Server::ok();
        let gw = Gateway::start(host, Setup::new(config, upstream.addr()));
        let resp = gw.send(&Request::get("/a").header("apikey", "k-1"));
        assert_eq!(resp.status, 200, "{host:?}: {}", resp.text());
        let resp = gw.send(&Request::get("/b").header("apikey", "wrong"));
        assert_eq!(resp.status, 401, "{host:?}: {}", resp.text());
        let rec = upstream.single();
        assert_eq!(rec.path, "/a");
        assert_eq!(rec.header("x-consumer-username"), Some("alice"), "{host:?}");
    }
}
