//! No secret is freed unwiped: this binary's global allocator searches every block as it is
//! freed for the secrets of one configuration (HMAC secrets, an `oct` key, an API key, a
//! password, a private JWK given as JSON text, a PEM private key), while the configuration
//! loads, signs and is dropped, behind the filter's own allocator
//! (`jwt_relay::filter::wiping_alloc`). The same search without the filter's allocator finds a
//! planted copy, so it can fail; the load alone, without it, leaves copies of its own
//! (serde_json's scratch buffer for escaped strings, strings that grew, serialized JSON).
//!
//! One test in the binary: the allocator is shared by every thread of the process. Native only:
//! in the wasm build the filter's allocator is the crate's own global one.
#![cfg(not(target_arch = "wasm32"))]
// A global allocator is unsafe code by nature.
#![allow(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;

use base64::Engine as _;
use jwt_relay::filter::wiping_alloc::Wiping;
use jwt_relay_core::jose::{b64, Algorithm, Jwk, SigningKey};
use jwt_relay_core::stages::Pipeline;
use serde_json::{json, Value};

/// System's allocator, searching each freed block for the needles while armed.
struct Scanning;

/// The filter's allocator over [`Scanning`] while `WIPING`, else [`Scanning`] alone.
struct Switch;

static ARMED: AtomicBool = AtomicBool::new(false);
static WIPING: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
static NEEDLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
static WIPED: Wiping<Scanning> = Wiping(Scanning);

#[global_allocator]
static ALLOCATOR: Switch = Switch;

/// Whether the `len` bytes at `ptr` hold `needle`, read volatile one at a time: a block's tail
/// may never have been written.
///
/// # Safety
/// `ptr` points at `len` bytes of one live allocation.
unsafe fn holds(ptr: *const u8, len: usize, needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return false;
    };
    if len < needle.len() {
        return false;
    }
    let byte = |i: usize| unsafe { std::ptr::read_volatile(ptr.add(i)) };
    (0..=len - needle.len()).any(|start| {
        byte(start) == first
            && rest
                .iter()
                .enumerate()
                .all(|(i, &b)| byte(start + 1 + i) == b)
    })
}

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(SeqCst) {
            let needles = NEEDLES.get().map(Vec::as_slice).unwrap_or_default();
            if needles
                .iter()
                .any(|n| unsafe { holds(ptr, layout.size(), n) })
            {
                FOUND.fetch_add(1, SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` keeps the trait's default: a new block, a copy, and `dealloc` of the old one.
}

unsafe impl GlobalAlloc for Switch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            if WIPING.load(SeqCst) {
                WIPED.dealloc(ptr, layout)
            } else {
                Scanning.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe {
            if WIPING.load(SeqCst) {
                WIPED.realloc(ptr, layout, new_size)
            } else {
                Scanning.realloc(ptr, layout, new_size)
            }
        }
    }
}

const HS384_SECRET: &str = "wipe-test-hs384-secret-0a1b2c3d4e5f";
const HS512_SECRET: &str = "wipe-test-hs512-secret-6a7b8c9d0e1f-with-more-bytes";
const OCT_SECRET: &[u8] = b"wipe-test-oct-secret-11223344556677";
const API_KEY: &str = "wipe-test-api-key-4e5f6a7b8c9d";
const PASSWORD: &str = "wipe-test-password-9d8c7b6a5f4e";
const RSA_PKCS8: &str = include_str!("fixtures/jose/rsa2048_pkcs8.pem");
const P256_PKCS8: &str = include_str!("fixtures/jose/ec_p256_pkcs8.pem");

/// The RSA fixture as a private JWK in JSON text, and needles from each private member: the
/// start of its base64url text and of its bytes.
fn rsa_private_jwk() -> (String, Vec<Vec<u8>>) {
    let key = SigningKey::parse_pem(RSA_PKCS8).unwrap();
    let jwk = Jwk::from_keys(key.verifying_key(), Some(key))
        .with_kid("wipe-test")
        .with_alg(Algorithm::RS256)
        .unwrap()
        .to_private_json()
        .unwrap();
    let mut needles = Vec::new();
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        let text = jwk[member].as_str().unwrap();
        needles.push(text.as_bytes()[..32].to_vec());
        needles.push(b64::decode(text).unwrap()[..24].to_vec());
    }
    (Value::Object(jwk).to_string(), needles)
}

/// The PEM's private scalar, as bytes: the 32 bytes after the `04 20` of PKCS#8's inner
/// ECPrivateKey.
fn p256_scalar(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let at = der.windows(2).position(|w| w == [0x04, 0x20]).unwrap() + 2;
    der[at..at + 32].to_vec()
}

#[test]
fn no_secret_is_freed_unwiped() {
    let (jwk_text, jwk_needles) = rsa_private_jwk();
    let oct_k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(OCT_SECRET);
    let mut needles: Vec<Vec<u8>> = [HS384_SECRET, HS512_SECRET, API_KEY, PASSWORD, &oct_k]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    needles.push(OCT_SECRET.to_vec());
    needles.extend(jwk_needles);
    needles.push(p256_scalar(P256_PKCS8));
    let config = json!({
        "consumers": [{
            "id": "c-1", "username": "alice",
            "jwt_secrets": [
                {"key": "iss-384", "algorithm": "HS384", "secret": HS384_SECRET},
                {"key": "iss-512", "algorithm": "HS512", "secret": HS512_SECRET}
            ],
            "keyauth_credentials": [{"key": API_KEY}],
            "basicauth_credentials": [{"username": "alice", "password": PASSWORD}]
        }],
        "jwt": {"jwks": {"keys": [{"kty": "oct", "alg": "HS256", "kid": "oct-1", "k": oct_k}]}},
        "key_auth": {},
        "basic_auth": {},
        "custom_jwt": {"private_jwk": jwk_text},
        "upstream_jwt": {"private_key": P256_PKCS8, "algorithm": "ES256", "x5c": false}
    })
    .to_string();
    NEEDLES.set(needles).unwrap();

    let run = |wiping: bool| {
        let mut bytes = config.clone().into_bytes();
        FOUND.store(0, SeqCst);
        WIPING.store(wiping, SeqCst);
        ARMED.store(true, SeqCst);
        // A copy nobody wiped, so that the search is seen to find one.
        drop(String::from(API_KEY));
        let planted = FOUND.load(SeqCst);
        let pipeline = Pipeline::load(&bytes);
        let loaded = pipeline.as_ref().map(|_| ()).map_err(|e| e.to_string());
        drop(pipeline);
        let hs384 = SigningKey::hmac(HS384_SECRET.as_bytes()).unwrap();
        let tag = hs384
            .sign(Algorithm::HS384, b"header.payload")
            .map(|t| t.len());
        drop(hs384);
        ARMED.store(false, SeqCst);
        WIPING.store(false, SeqCst);
        bytes.iter_mut().for_each(|b| *b = 0);
        (planted, FOUND.load(SeqCst) - planted, loaded, tag.ok())
    };

    let (planted, found, loaded, tag) = run(false);
    assert_eq!((planted, loaded.clone(), tag), (1, Ok(()), Some(48)));
    assert!(
        found > 0,
        "without the filter's allocator the load leaves copies of its own"
    );

    let (planted, found, loaded, tag) = run(true);
    assert_eq!((planted, found, loaded, tag), (0, 0, Ok(()), Some(48)));
}
