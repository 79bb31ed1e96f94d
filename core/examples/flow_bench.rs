//! Micro-benchmark of the pure request path (`Flow::start`) for one repeated RS256 token (the
//! verified-token cache hit) and for distinct tokens, natively or inside wasm: how much of a
//! request's cost is the core's, apart from host calls. `cargo run --release -p jwt-relay-core
//! --example flow_bench` (or the wasm32-wasip1 build under bench/wasi_run.mjs).

use jwt_relay_core::jose::{jws, Algorithm, JwsHeader, SigningKey};
use jwt_relay_core::stages::flow::Flow;
use jwt_relay_core::stages::{Pipeline, Request, Shared};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::Instant;

const NOW: u64 = 1_700_000_000;

/// Compiled in: the wasm build runs without a file system.
const PUBLIC: &str = include_str!("../../tests/fixtures/jose/rsa2048_public_spki.pem");
const PRIVATE: &str = include_str!("../../tests/fixtures/jose/rsa2048_pkcs8.pem");

fn request(token: &str) -> Request {
    Request {
        method: "GET".into(),
        path: "/orders?x=1".into(),
        authority: "api.example.com".into(),
        scheme: "http".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {token}")),
            ("user-agent".into(), "wrk".into()),
            ("accept".into(), "*/*".into()),
        ],
        now: NOW,
        ..Request::default()
    }
}

fn run() -> Result<(), String> {
    let (public, private) = (PUBLIC, PRIVATE);
    let config = json!({"consumers": [{"id": "c-1", "username": "bench",
        "jwt_secrets": [{"key": "rs", "algorithm": "RS256", "rsa_public_key": public}]}],
        "jwt": {"claims_to_verify": ["exp"]}});
    let pipeline = Pipeline::load(config.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let key = SigningKey::from_pem(private, Algorithm::RS256).map_err(|e| e.to_string())?;
    let token = |i: u64| -> Result<String, String> {
        let Value::Object(claims) = json!({"iss": "rs", "exp": NOW + 3600, "sub": format!("user-{i}"),
            "name": "Bench User", "scope": "read write"})
        else {
            return Err("claims".into());
        };
        jws::sign(&JwsHeader::new(Algorithm::RS256), &claims, &key).map_err(|e| e.to_string())
    };
    let same = token(0)?;
    if std::env::var_os("FLOW_BENCH_SHOW").is_some() {
        let (mut flow, next) = Flow::start(&pipeline, &mut Shared::default(), request(&same));
        println!("{next:?}\n{:?}", flow.take_events());
    }
    let mut shared = Shared::default();
    let iterations: u32 = std::env::var("FLOW_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    for label in ["warm-up", "cached"] {
        let started = Instant::now();
        for _ in 0..iterations {
            let (flow, next) = Flow::start(&pipeline, &mut shared, request(black_box(&same)));
            black_box((flow, next));
        }
        let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
        println!("{label:8} {us:8.2} us/request");
    }
    if std::env::var_os("FLOW_BENCH_CACHED_ONLY").is_some() {
        return Ok(());
    }
    let distinct: Vec<String> = (1..=200).map(token).collect::<Result<_, _>>()?;
    // Fastest of five passes, each with an empty token cache: the machine is noisy.
    let per_token =
        |started: Instant| started.elapsed().as_secs_f64() * 1e6 / distinct.len() as f64;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut shared = Shared::default();
        let started = Instant::now();
        for t in &distinct {
            let (flow, next) = Flow::start(&pipeline, &mut shared, request(black_box(t)));
            black_box((flow, next));
        }
        best = best.min(per_token(started));
    }
    println!("distinct {best:8.2} us/request");
    // The same tokens' parse and signature check alone: the rest of `distinct` is the core's
    // own work around them (claims, consumer, cache, headers).
    let public = jwt_relay_core::jose::VerifyingKey::from_pem(PUBLIC, Algorithm::RS256)
        .map_err(|e| e.to_string())?;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        for t in &distinct {
            let jws = jws::parse(black_box(t)).map_err(|e| e.to_string())?;
            public
                .verify(Algorithm::RS256, jws.signing_input(), jws.signature())
                .map_err(|e| e.to_string())?;
        }
        best = best.min(per_token(started));
    }
    println!("verify   {best:8.2} us/token (parse and signature only)");
    hashing();
    Ok(())
}

/// SHA-256 throughput over a 1 MiB body, fed in 64 KiB pieces as the host hands them over, with
/// each block function the filter can pick for a host (`sha256::Rounds`).
fn hashing() {
    use jwt_relay_core::sha256::{Hasher, Rounds};
    let body = vec![0x5au8; 1 << 20];
    let rounds = 64u32;
    for kind in [Rounds::Unrolled, Rounds::Scheduled] {
        let started = Instant::now();
        for _ in 0..rounds {
            let mut hasher = Hasher::with_rounds(kind);
            for piece in body.chunks(64 * 1024) {
                hasher.update(black_box(piece));
            }
            black_box(hasher.finalize());
        }
        let mb = f64::from(rounds) * body.len() as f64 / 1e6;
        let label = format!("{kind:?}").to_lowercase();
        println!(
            "sha256 {label:9} {:8.1} MB/s",
            mb / started.elapsed().as_secs_f64()
        );
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("flow_bench: {e}");
        std::process::exit(1);
    }
}
