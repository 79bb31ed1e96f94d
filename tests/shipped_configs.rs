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
