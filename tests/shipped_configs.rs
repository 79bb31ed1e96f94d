//! The Envoy configs shipped in envoy/ are valid for the Envoy we test with, and the Docker
//! compose file runs that same envoy.yaml.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::{json, Value};

use std::process::Command;
use support::{Envoy, Reply, Request, Server, Setup};

use support::repo;

#[test]
fn demo_envoy_yaml_validates() {
    support::envoy::wasm_path(); // envoy.yaml points at the built filter
    let out = Command::new(support::envoy::envoy_bin())
        .current_dir(repo())
        .args([
            "--mode",
            "validate",
            "-c",
            "envoy/envoy.yaml",
            "--disable-hot-restart",
        ])
        .output()
        .unwrap();
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "envoy --mode validate failed:\n{log}");
    assert!(log.contains("configuration 'envoy/envoy.yaml' OK"), "{log}");
}

#[test]
fn demo_filter_config_loads_in_the_filter() {
    let yaml = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).unwrap();
    let start = yaml.find("# BEGIN filter config").unwrap() + "# BEGIN filter config".len();
    let end = yaml.find("# END filter config").unwrap();
    let config = jwt_relay_core::stages::Pipeline::load(&yaml.as_bytes()[start..end]).unwrap();
    assert!(config.auth.is_some() && config.reconcile.is_some() && config.upstream_jwt.is_some());
}

#[test]
fn demo_envoy_yaml_holds_headers_for_body_reads() {
    let yaml = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).unwrap();
    assert!(yaml.contains("allow_on_headers_stop_iteration: true"));
    assert!(yaml.contains("filename: filters/jwt_relay.wasm"));
    // A VM that died is rebuilt rather than leaving the worker answering 503 (review).
    assert!(yaml.contains("failure_policy: FAIL_RELOAD"));
}

#[test]
fn docker_compose_runs_the_same_envoy_yaml_and_filter() {
    let compose = std::fs::read_to_string(repo().join("envoy/docker-compose.yml")).unwrap();
    assert!(compose.contains("./envoy.yaml:/srv/envoy/envoy.yaml:ro"));
    assert!(compose.contains("../filters:/srv/filters:ro"));
    assert!(compose.contains("working_dir: /srv"));
    assert!(compose.contains("image: envoyproxy/envoy:v1.40"));
    // Loopback addresses in envoy.yaml only hold with host networking everywhere.
    assert_eq!(compose.matches("network_mode: host").count(), 3);
}

fn istio(name: &str) -> String {
    std::fs::read_to_string(repo().join("envoy/istio").join(name)).unwrap()
}

#[test]
fn istio_wasmplugin_config_loads_in_the_filter() {
    let yaml = istio("wasmplugin.yaml");
    let start = yaml.find("# BEGIN pluginConfig").unwrap() + "# BEGIN pluginConfig".len();
    let end = yaml.find("# END pluginConfig").unwrap();
    let plugin_config = &yaml[start..end];
    jwt_relay_core::stages::Pipeline::load(plugin_config.as_bytes()).unwrap();
    for line in [
        "kind: WasmPlugin",
        "phase: AUTHN",
        "failStrategy: FAIL_CLOSE",
        "url: oci://",
    ] {
        assert!(yaml.contains(line), "{line}");
    }
    let cluster = "outbound|8080||auth.platform.svc.cluster.local";
    assert!(plugin_config.contains(cluster));
    assert!(istio("serviceentry-auth.yaml").contains("auth.platform.svc.cluster.local"));
}

/// The Wasm `typed_config` that `envoyfilter-body-stages.yaml` ADDs as an extension config, with
/// the module as a local file (istio-agent turns the `oci://` source into one).
fn istio_body_stages_typed_config() -> Value {
    let doc = support::oracle::run_script(
        "kong_check.py",
        vec![json!({"op": "load_yaml", "path": "envoy/istio/envoyfilter-body-stages.yaml"})],
    )
    .remove(0)["value"]
        .clone();
    let patches = doc["spec"]["configPatches"].as_array().unwrap();
    let ext = patches
        .iter()
        .find(|p| p["applyTo"] == "EXTENSION_CONFIG")
        .unwrap();
    assert_eq!(
        ext["patch"]["operation"], "ADD",
        "istiod drops anything else there"
    );
    let filter = patches
        .iter()
        .find(|p| p["applyTo"] == "HTTP_FILTER")
        .unwrap();
    assert_eq!(
        filter["patch"]["value"]["name"],
        ext["patch"]["value"]["name"]
    );
    let mut typed = ext["patch"]["value"]["typed_config"].clone();
    assert!(
        typed["config"]["vm_config"]["code"]["remote"]["http_uri"]["uri"]
            .as_str()
            .unwrap()
            .starts_with("oci://")
    );
    typed["config"]["vm_config"]["code"] =
        json!({"local": {"filename": support::envoy::wasm_path().display().to_string()}});
    typed
}

#[test]
fn istio_envoyfilter_body_stages_run_in_a_real_envoy() {
    let typed = istio_body_stages_typed_config();
    assert_eq!(typed["config"]["allow_on_headers_stop_iteration"], true);
    let configuration = typed["config"]["configuration"]["value"].as_str().unwrap();
    jwt_relay_core::stages::Pipeline::load(configuration.as_bytes()).unwrap();
    let upstream = Server::ok();
    let auth = Server::start(|_| Reply::json(200, &json!({"role": "reader"})));
    let mut setup = Setup::new("unused", upstream.addr()).cluster(
        "outbound|8080||auth.platform.svc.cluster.local",
        auth.addr(),
    );
    setup.wasm_typed_config = Some(typed);
    let envoy = Envoy::start(setup);
    let token = support::tokens::sign_hmac(
        "HS256",
        b"replace-me-with-a-long-random-secret",
        &json!({"iss": "https://idp.example.com/", "exp": support::tokens::now() + 60}),
    );
    let body = r#"{"order": 7}"#;
    for req in [
        Request::post("/orders", body),
        Request::post("/orders", body).chunked(4),
    ] {
        let req = req
            .header("authorization", &format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("x-auth-role", "admin");
        let resp = envoy.send(&req);
        assert_eq!(resp.status, 200, "{}", resp.text());
    }
    for call in auth.wait_for(2) {
        let envelope: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(envelope["body"], json!({"order": 7}));
    }
    for seen in upstream.wait_for(2) {
        assert_eq!(seen.header_all("x-auth-role"), ["reader"]);
        assert_eq!(seen.body, body.as_bytes());
    }
}

#[test]
fn istio_oci_image_is_the_module_alone() {
    let docker = istio("Dockerfile");
    assert!(
        docker.contains("FROM scratch")
            && docker.contains("COPY filters/jwt_relay.wasm ./plugin.wasm")
            && docker.contains("--platform linux/amd64")
    );
}
