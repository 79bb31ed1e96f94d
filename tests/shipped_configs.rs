//! The Envoy configs shipped in envoy/ are valid for the Envoy we test with, and the Docker
//! compose file runs that same envoy.yaml.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::Path;
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

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
    let config = jwt_relay::config::load(&yaml.as_bytes()[start..end]).unwrap();
    assert!(config.auth.is_some() && config.reconcile.is_some() && config.upstream_jwt.is_some());
}

#[test]
fn demo_envoy_yaml_holds_headers_for_body_reads() {
    let yaml = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).unwrap();
    assert!(yaml.contains("allow_on_headers_stop_iteration: true"));
    assert!(yaml.contains("filename: filters/jwt_relay.wasm"));
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
    jwt_relay::config::load(plugin_config.as_bytes()).unwrap();
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

#[test]
fn istio_envoyfilter_sets_stop_iteration_on_the_wasmplugin_filter() {
    let patch = istio("envoyfilter-allow-stop-iteration.yaml");
    assert!(patch.contains("allow_on_headers_stop_iteration: true"));
    // Istio names a WasmPlugin's extension config `<namespace>.<name>`.
    assert!(patch.contains("name: istio-system.jwt-relay"));
    let docker = istio("Dockerfile");
    assert!(
        docker.contains("FROM scratch")
            && docker.contains("COPY filters/jwt_relay.wasm ./plugin.wasm")
    );
}
