//! Micro-benchmark of JWS sign and verify for the thirteen algorithms, native or inside wasm.
//!
//! Build and run natively (host target):
//!
//! ```text
//! CARGO_TARGET_DIR=target cargo run --release --example jose_bench
//! ```
//!
//! Build for wasm32-wasip1 and run under Node's `node:wasi` (its V8 stands in for Envoy's V8):
//!
//! ```text
//! cargo build --release --example jose_bench --target wasm32-wasip1
//! node --no-liftoff --no-warnings bench/wasi_run.mjs target/wasm32-wasip1/release/examples/jose_bench.wasm
//! ```
//!
//! RS*/PS* sign and verify on the filter's own Montgomery kernel (`rsa-kernel/`), ES256 on its
//! own P-256 arithmetic (`kernels/src/nistp256/`); P-384, P-521 and Ed448 use crypto-bigint,
//! which `.cargo/config.toml` builds with 32-bit limbs for wasm (`--cfg cpubits="32"`: wasm has
//! no 64×64→128 multiply), with the LLVM unrolling and inlining thresholds the filter builds
//! with. A `RUSTFLAGS` environment variable replaces config rustflags, so keep those in it if
//! you set one.
//!
//! Optional arguments (both targets): `--ms N` sets the measuring time per operation (default
//! 300 ms; at least 5 iterations are always run), and any algorithm names restrict the run,
//! e.g. `RS256 ES256`.
//!
//! Output: comment lines start with `#`; then one line per algorithm, whitespace separated:
//! `ALG SIGN_US VERIFY_US SIGN_ITERS VERIFY_ITERS`, with µs per operation. Keys are the test
//! fixtures under `tests/fixtures/jose/` (compiled in, so the wasm module needs no file
//! access); they are parsed before timing starts. The signing input is a typical 3-claim JWT.

use std::hint::black_box;
use std::time::{Duration, Instant};

use jwt_relay_core::jose::{Algorithm, JoseError, SigningKey, VerifyingKey};

const RSA_PEM: &str = include_str!("../../tests/fixtures/jose/rsa2048_pkcs8.pem");
const RSA4096_PEM: &str = include_str!("../../tests/fixtures/jose/rsa4096_pkcs8.pem");
const P256_PEM: &str = include_str!("../../tests/fixtures/jose/ec_p256_pkcs8.pem");
const P384_PEM: &str = include_str!("../../tests/fixtures/jose/ec_p384_pkcs8.pem");
const P521_PEM: &str = include_str!("../../tests/fixtures/jose/ec_p521_pkcs8.pem");
const ED25519_PEM: &str = include_str!("../../tests/fixtures/jose/ed25519_pkcs8.pem");
const HMAC_SECRET: &[u8] = b"jwt-relay benchmark secret, 64 bytes long, not used anywhere else";

/// `{"alg":"RS256","typ":"JWT"}.{"sub":"1234567890","name":"John Doe","iat":1516239022}`.
const SIGNING_INPUT: &[u8] = b"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ";

fn signing_key(alg: Algorithm) -> Result<SigningKey, JoseError> {
    let pem = match alg.name() {
        "HS256" | "HS384" | "HS512" => return SigningKey::hmac(HMAC_SECRET),
        "ES256" => P256_PEM,
        "ES384" => P384_PEM,
        "ES512" => P521_PEM,
        "EdDSA" => ED25519_PEM,
        _ => RSA_PEM,
    };
    SigningKey::from_pem(pem, alg)
}

/// Runs `op` until `budget` has passed (at least 5 times); returns (µs per op, iterations).
/// A warm-up of a third of the budget comes first: V8 starts wasm on its baseline compiler
/// (Liftoff) and tiers hot functions up to TurboFan, and a long-running filter sees the latter.
fn measure(
    budget: Duration,
    mut op: impl FnMut() -> Result<(), JoseError>,
) -> Result<(f64, u32), JoseError> {
    let warm = Instant::now();
    let mut warm_iters = 0;
    while warm_iters < 3 || warm.elapsed() < budget / 3 {
        op()?; // also surfaces errors before timing
        warm_iters += 1;
    }
    let start = Instant::now();
    let mut iters: u32 = 0;
    while iters < 5 || start.elapsed() < budget {
        op()?;
        iters = iters.saturating_add(1);
    }
    let micros = start.elapsed().as_secs_f64() * 1e6 / f64::from(iters.max(1));
    Ok((micros, iters))
}

fn run(alg: Algorithm, budget: Duration) -> Result<(), JoseError> {
    run_with(alg.name(), alg, &signing_key(alg)?, budget)
}

/// One row, `label`: signing and verification with `signer`'s key.
fn run_with(
    label: &str,
    alg: Algorithm,
    signer: &SigningKey,
    budget: Duration,
) -> Result<(), JoseError> {
    let verifier: VerifyingKey = signer.verifying_key();
    let signature = signer.sign(alg, SIGNING_INPUT)?;
    let (sign_us, sign_iters) = measure(budget, || {
        black_box(signer.sign(alg, black_box(SIGNING_INPUT))?);
        Ok(())
    })?;
    let (verify_us, verify_iters) = measure(budget, || {
        verifier.verify(alg, black_box(SIGNING_INPUT), black_box(&signature))
    })?;
    println!(
        "{:<6} {:>10.2} {:>10.2} {:>8} {:>8}",
        label, sign_us, verify_us, sign_iters, verify_iters
    );
    Ok(())
}

/// One row, `RS256/rsa-crate`: signing time only, of the `rsa` crate's private operation (the
/// filter signs on its own kernel; the crate is the tests' reference, not in the filter).
fn rsa_crate_baseline(budget: Duration) -> Result<(), JoseError> {
    use rsa::pkcs8::DecodePrivateKey as _;
    use sha2::Digest as _;
    let key = rsa::PrivateKey::from_pkcs8_pem(RSA_PEM)
        .map_err(|_| JoseError::InvalidKey("rsa crate: fixture"))?;
    let (sign_us, sign_iters) = measure(budget, || {
        let hashed = sha2::Sha256::digest(black_box(SIGNING_INPUT));
        let scheme = rsa::Pkcs1v15Sign::new::<sha2::Sha256>();
        black_box(
            key.sign(scheme, &hashed)
                .map_err(|_| JoseError::SigningFailed)?,
        );
        Ok(())
    })?;
    println!("RS256/rsa-crate {sign_us:>10.2} nan {sign_iters:>8} 0");
    Ok(())
}

fn main() {
    let mut budget = Duration::from_millis(300);
    let mut only: Vec<Algorithm> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--scheduled" {
            // The SHA-256 block function the filter runs on Kong's engine (wasmtime).
            jwt_relay_core::sha256::set_rounds(jwt_relay_core::sha256::Rounds::Scheduled);
        } else if arg == "--ms" {
            let ms = args
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(300);
            budget = Duration::from_millis(ms);
        } else if let Ok(alg) = arg.parse::<Algorithm>() {
            only.push(alg);
        } else {
            eprintln!("jose_bench: ignoring unknown argument {arg:?}");
        }
    }
    let target = if cfg!(target_family = "wasm") {
        "wasm32"
    } else {
        "native"
    };
    println!(
        "# jose_bench target={target} budget_ms={}",
        budget.as_millis()
    );
    println!("# alg    sign_us  verify_us  sign_n verify_n");
    let mut failed = false;
    for alg in Algorithm::ALL {
        if !only.is_empty() && !only.contains(&alg) {
            continue;
        }
        if let Err(e) = run(alg, budget) {
            eprintln!("jose_bench: {alg}: {e}");
            failed = true;
        }
    }
    // Baseline: RS256 with the `rsa` crate's private operation instead of the filter's kernel;
    // and RS256 with an RSA-4096 key (verification on the kernel's runtime-sized arithmetic).
    if only.is_empty() || only.contains(&Algorithm::RS256) {
        if let Err(e) = rsa_crate_baseline(budget) {
            eprintln!("jose_bench: RS256 with the rsa crate: {e}");
            failed = true;
        }
        let rsa4096 = SigningKey::from_pem(RSA4096_PEM, Algorithm::RS256);
        if let Err(e) = rsa4096.and_then(|k| run_with("RS256/4096", Algorithm::RS256, &k, budget)) {
            eprintln!("jose_bench: RS256 with RSA-4096: {e}");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}
