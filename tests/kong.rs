//! Kong: the schema Kong validates `config` with (filters/jwt_relay.meta.json) is a valid
//! Draft-4 schema that accepts every example config the filter accepts and refuses what the
//! filter's parser refuses; kong/kong.yml's filter configs load in the filter (same code as
//! `on_configure`); kong.conf and docker-compose.yml agree; the example keys are the test
//! fixtures. Draft-4 validation and YAML reading are Python's `jsonschema` and `PyYAML`
//! (tests/support/kong_check.py, run with `$JWT_RELAY_PYTHON` or the project virtualenv).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::{json, Value};
use std::path::Path;

use support::repo;

/// Runs kong_check.py ops; one result per op.
fn check(ops: Vec<Value>) -> Vec<Value> {
    support::oracle::run_script("kong_check.py", ops)
}

/// Schema errors of each config, in order.
fn schema_errors(configs: &[Value]) -> Vec<Vec<String>> {
    let ops = configs
        .iter()
        .map(|c| json!({"op": "validate", "config": c}))
        .collect();
    check(ops)
        .into_iter()
        .map(|r| serde_json::from_value(r["errors"].clone()).unwrap())
        .collect()
}

fn load_yaml(path: &str) -> Value {
    check(vec![json!({"op": "load_yaml", "path": path})]).remove(0)["value"].clone()
}

fn load(config: &Value) -> Result<jwt_relay_core::stages::Pipeline, String> {
    jwt_relay_core::stages::Pipeline::load(config.to_string().as_bytes()).map_err(|e| e.to_string())
}

/// Every jwt_relay config in a Kong declaration: filter chains and (Kong 3.9) plugins, on
/// services and routes, with where it was found.
fn kong_filter_configs(declaration: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let mut visit = |entity: &Value, kind: &str| {
        let name = entity["name"].as_str().unwrap_or("?");
        for chain in entity["filter_chains"].as_array().into_iter().flatten() {
            for filter in chain["filters"].as_array().unwrap() {
                assert_eq!(filter["name"], "jwt_relay");
                found.push((format!("{kind} {name} filter"), filter["config"].clone()));
            }
        }
        for plugin in entity["plugins"].as_array().into_iter().flatten() {
            if plugin["name"] == "jwt_relay" {
                found.push((format!("{kind} {name} plugin"), plugin["config"].clone()));
            }
        }
    };
    for service in declaration["services"].as_array().unwrap() {
        visit(service, "service");
        for route in service["routes"].as_array().into_iter().flatten() {
            visit(route, "route");
        }
    }
    found
}

#[test]
fn meta_json_is_a_valid_draft4_schema() {
    let result = check(vec![json!({"op": "check_schema"})]).remove(0);
    assert_eq!(result["errors"], json!([]));
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("filters/jwt_relay.meta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        meta["config_schema"]["$schema"],
        "http://json-schema.org/draft-04/schema#"
    );
    assert_eq!(meta["config_schema"]["additionalProperties"], false);
}

#[test]
fn kong_yml_has_one_loadable_valid_config_per_capability() {
    let declaration = load_yaml("kong/kong.yml");
    assert_eq!(declaration["_format_version"], "3.0");
    let configs = kong_filter_configs(&declaration);
    let places: Vec<&str> = configs.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(
        places,
        [
            "route jwt-auth filter",
            "route reconcile filter",
            "route upstream-jwt filter",
            "route custom-jwt filter",
            "route reconcile-as-plugin plugin",
        ]
    );
    let values: Vec<Value> = configs.iter().map(|(_, c)| c.clone()).collect();
    for ((place, config), errors) in configs.iter().zip(schema_errors(&values)) {
        assert_eq!(errors, Vec::<String>::new(), "{place}: schema");
        if let Err(e) = load(config) {
            panic!("{place}: the filter refuses it: {e}");
        }
    }
    for section in [
        "jwt",
        "reconcile",
        "upstream_jwt",
        "custom_jwt",
        "jwks_endpoint",
    ] {
        assert!(
            values.iter().any(|c| c.get(section).is_some()),
            "no example of {section}"
        );
    }
}

#[test]
fn kong_yml_keys_are_the_test_fixtures() {
    let text = std::fs::read_to_string(repo().join("kong/kong.yml")).unwrap();
    let fixtures = repo().join("tests/fixtures/jose");
    // Every PEM block is one of the fixture files, line for line.
    let mut blocks = 0;
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if !line.starts_with("-----BEGIN ") {
            continue;
        }
        let end = i + lines[i..]
            .iter()
            .position(|l| l.starts_with("-----END "))
            .unwrap();
        let pem = lines[i..=end].join("\n") + "\n";
        let matches = std::fs::read_dir(&fixtures)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .any(|p| std::fs::read_to_string(p).unwrap().contains(&pem));
        assert!(matches, "PEM block at line {} is not a fixture", i + 1);
        blocks += 1;
    }
    assert_eq!(blocks, 4);
    // The custom_jwt JWK is ec_p256_pkcs8.pem.
    let declaration = load_yaml("kong/kong.yml");
    let configs = kong_filter_configs(&declaration);
    let jwk = &configs[3].1["custom_jwt"]["private_jwk"];
    let fixture = check(vec![
        json!({"op": "pem_to_jwk", "path": "tests/fixtures/jose/ec_p256_pkcs8.pem"}),
    ])
    .remove(0)["jwk"]
        .clone();
    for member in ["crv", "x", "y", "d"] {
        assert_eq!(jwk[member], fixture[member], "{member}");
    }
    assert!(text.contains("TEST-ONLY fixture from tests/fixtures/jose"));
}

/// JSON code blocks of a Markdown file that are objects.
fn markdown_configs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match (&mut block, line.trim_start()) {
            (None, "```json") => block = Some(String::new()),
            (Some(b), "```") => {
                if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(b) {
                    out.push(v);
                }
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// The filter configs (StringValue `value`s) of an Envoy YAML.
fn envoy_configs(path: &str) -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(o) => {
                if o.get("@type").and_then(Value::as_str)
                    == Some("type.googleapis.com/google.protobuf.StringValue")
                {
                    out.push(serde_json::from_str(o["value"].as_str().unwrap()).unwrap());
                }
                o.values().for_each(|c| walk(c, out));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&load_yaml(path), &mut out);
    out
}

#[test]
fn example_configs_in_repo_agree_with_schema() {
    let mut configs = envoy_configs("envoy/envoy.yaml");
    assert_eq!(configs.len(), 1, "the demo has one filter config");
    assert!(
        configs[0]["upstream_jwt"].is_object(),
        "the demo config was read"
    );
    configs.extend(markdown_configs(&repo().join("README.md")));
    for doc in std::fs::read_dir(repo().join("docs")).unwrap() {
        configs.extend(markdown_configs(&doc.unwrap().path()));
    }
    let mut loadable = 0;
    for (config, errors) in configs.iter().zip(schema_errors(&configs)) {
        // The schema never refuses what the filter accepts...
        if load(config).is_ok() {
            loadable += 1;
            assert_eq!(errors, Vec::<String>::new(), "{config}");
        }
        // ...and what it refuses, the filter refuses too.
        if !errors.is_empty() {
            assert!(load(config).is_err(), "schema refuses a loadable {config}");
        }
    }
    assert!(loadable >= 3, "only {loadable} loadable examples found");
}

#[test]
fn bad_configs_are_refused_by_schema_and_parser_alike() {
    let bad = [
        (json!({"jwtt": {}}), "jwtt: unknown field"),
        (
            json!({"reconcile": {"url": "http://a", "methd": "GET"}}),
            "reconcile.methd: unknown field",
        ),
        (
            json!({"consumers": [{"id": "a", "jwt_secrets": [{"kee": "x"}]}]}),
            "consumers[0].jwt_secrets[0].kee: unknown field",
        ),
        (
            json!({"jwt": {"run_on_preflight": "yes"}}),
            "jwt.run_on_preflight: invalid type: string, expected a boolean",
        ),
        (
            json!({"jwt": {"claims_to_verify": ["iat"]}}),
            "jwt.claims_to_verify[0]: unknown variant `iat`, expected `exp` or `nbf`",
        ),
        (
            json!({"reconcile": {"method": "PUT"}}),
            "reconcile.method: unknown variant `PUT`, expected `POST` or `GET`",
        ),
        (
            json!({"upstream_jwt": {"expires_in": -1}}),
            "upstream_jwt.expires_in: invalid value: integer `-1`, expected u64",
        ),
        (
            json!({"jwt": {"claims_to_headers": [{"claim": "sub"}]}}),
            "jwt.claims_to_headers[0]: missing field `header`",
        ),
        // Forms serde's derive reads and the schema refuses (review): a section as an array
        // of its fields in order, a variant as a one-member object.
        (
            json!({"consumers": [["c1", "alice"]]}),
            "consumers[0]: invalid type: sequence, expected struct ConsumerSection",
        ),
        (
            json!({"reconcile": ["http://a"]}),
            "reconcile: invalid type: sequence, expected struct ReconcileSection",
        ),
        (
            json!({"reconcile": {"url": "http://a", "method": {"GET": null}}}),
            "reconcile.method: invalid type: map, expected enum CallMethod",
        ),
    ];
    let configs: Vec<Value> = bad.iter().map(|(c, _)| c.clone()).collect();
    for ((config, message), errors) in bad.iter().zip(schema_errors(&configs)) {
        assert_ne!(errors, Vec::<String>::new(), "schema accepts {config}");
        let parsed = jwt_relay_core::config::parse(config.to_string().as_bytes());
        assert_eq!(parsed.unwrap_err().to_string(), *message);
    }
}

/// A number the filter refuses at load is refused by the schema too, so Kong's Admin API answers
/// 400 instead of taking a configuration every request then answers 500 under (review: the
/// schema let `leeway_seconds: 7200` and `timeout_ms: 2^32` through); the bounds themselves
/// load on both.
#[test]
fn numeric_bounds_are_the_schemas_and_the_filters_alike() {
    let jwks = |member: &str, value: Value| {
        let mut uri = json!({"url": "http://idp.example/keys"});
        uri[member] = value;
        json!({"jwt": {"jwks_uri": uri}})
    };
    let refused = [
        json!({"jwt": {"leeway_seconds": 3601}}),
        jwks("timeout_ms", json!(4_294_967_296_u64)),
        jwks("timeout_ms", json!(0)),
        jwks("cache_seconds", json!(0)),
        json!({"reconcile": {"url": "http://a", "cache_seconds": 86_401}}),
        json!({"reconcile": {"url": "http://a", "max_body_bytes": 0}}),
    ];
    for (config, errors) in refused.iter().zip(schema_errors(&refused)) {
        assert_ne!(errors, Vec::<String>::new(), "schema accepts {config}");
        assert!(load(config).is_err(), "filter loads {config}");
    }
    let bounds = [
        json!({"jwt": {"leeway_seconds": 3600}}),
        jwks("timeout_ms", json!(4_294_967_295_u64)),
        jwks("timeout_ms", json!(1)),
        json!({"reconcile": {"url": "http://a", "cache_seconds": 86_400}}),
    ];
    for (config, errors) in bounds.iter().zip(schema_errors(&bounds)) {
        assert_eq!(errors, Vec::<String>::new(), "schema refuses {config}");
        assert!(
            load(config).is_ok(),
            "filter refuses {config}: {:?}",
            load(config).err()
        );
    }
}

/// A credential's required member given as `null` is refused by the schema, so Kong's Admin API
/// answers 400, as the filter refuses it at load (review: the schema let `null` through, and
/// the filter's refusal came only at load).
#[test]
fn null_credential_members_are_refused_by_schema_and_filter_alike() {
    let bad = [
        json!({"consumers": [{"id": "a", "jwt_secrets": [{"key": null, "secret": "s"}]}]}),
        json!({"consumers": [{"id": "a", "keyauth_credentials": [{"key": null}]}]}),
        json!({"consumers": [{"id": "a", "basicauth_credentials": [{"username": null, "password": "p"}]}]}),
        json!({"consumers": [{"id": "a", "basicauth_credentials": [{"username": "u", "password": null}]}]}),
    ];
    for (config, errors) in bad.iter().zip(schema_errors(&bad)) {
        assert_ne!(errors, Vec::<String>::new(), "schema accepts {config}");
        assert!(load(config).is_err(), "the filter loads {config}");
    }
}

/// `key_in_body` with `hide_credentials` and with `anonymous` (Kong's route key-auth6, and the
/// multi-auth fallback) load, and the schema Kong's Admin API checks accepts them.
#[test]
fn key_in_body_loads_with_hide_credentials_and_anonymous() {
    let configs = [
        json!({"key_auth": {"key_in_body": true, "hide_credentials": true}}),
        json!({"consumers": [{"id": "anon"}], "key_auth": {"key_in_body": true, "anonymous": "anon"}}),
    ];
    for (config, errors) in configs.iter().zip(schema_errors(&configs)) {
        assert_eq!(errors, Vec::<String>::new(), "{config}");
        assert!(load(config).is_ok(), "{config}");
    }
}

fn kong_conf() -> Vec<(String, String)> {
    std::fs::read_to_string(repo().join("kong/kong.conf"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn conf(key: &str) -> String {
    kong_conf()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("kong.conf lacks {key}"))
}

#[test]
fn kong_conf_enables_wasm_and_buffers_bodies_the_filter_reads() {
    assert_eq!(conf("wasm"), "on");
    assert_eq!(conf("database"), "off");
    assert_eq!(conf("wasm_filters_path"), "/srv/jwt-relay/filters");
    assert_eq!(conf("declarative_config"), "/srv/jwt-relay/kong/kong.yml");
    let buffer = conf("nginx_http_client_body_buffer_size");
    let mib: u64 = buffer.strip_suffix('m').unwrap().parse().unwrap();
    assert!(
        mib << 20 >= jwt_relay_core::config::DEFAULT_MAX_BODY_BYTES,
        "{buffer}"
    );
}

#[test]
fn docker_compose_runs_kong_310_with_the_filter_and_kong_conf() {
    let compose = load_yaml("kong/docker-compose.yml");
    let kong = &compose["services"]["kong"];
    assert_eq!(kong["image"], "kong/kong-gateway:3.10");
    assert_eq!(kong["network_mode"], "host");
    let env = &kong["environment"];
    assert_eq!(env["KONG_WASM"], "on");
    assert_eq!(env["KONG_DATABASE"], "off");
    // The environment repeats kong.conf: the two cannot disagree.
    assert_eq!(env["KONG_WASM_FILTERS_PATH"], conf("wasm_filters_path"));
    assert_eq!(env["KONG_DECLARATIVE_CONFIG"], conf("declarative_config"));
    assert_eq!(
        env["KONG_NGINX_HTTP_CLIENT_BODY_BUFFER_SIZE"],
        conf("nginx_http_client_body_buffer_size")
    );
    assert_eq!(
        kong["volumes"],
        json!([
            "./kong.conf:/etc/kong/kong.conf:ro",
            "./kong.yml:/srv/jwt-relay/kong/kong.yml:ro",
            "../filters:/srv/jwt-relay/filters:ro"
        ])
    );
    for (name, port) in [("upstream", "8081"), ("auth", "8082")] {
        let svc = &compose["services"][name];
        assert_eq!(
            svc["command"],
            json!(["python3", "/demo/servers.py", name, port])
        );
        assert_eq!(svc["volumes"], json!(["../envoy/demo:/demo:ro"]));
    }
    // kong.yml points at the same demo ports.
    let yml = std::fs::read_to_string(repo().join("kong/kong.yml")).unwrap();
    assert!(yml.contains("url: http://127.0.0.1:8081"));
    assert!(yml.contains("url: http://127.0.0.1:8082"));
}

#[test]
fn build_keeps_meta_json_beside_the_filter() {
    let ignore = std::fs::read_to_string(repo().join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "/filters/*.wasm"));
    assert!(!ignore.lines().any(|l| l == "/filters" || l == "/filters/"));
    let makefile = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    assert!(makefile.contains("rm -rf $(VENV) $(WASM)"));
    assert!(!makefile.contains("rm -rf filters"));
}
