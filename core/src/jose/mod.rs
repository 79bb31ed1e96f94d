//! JOSE: RFC 7515/7517/7518/7519 only (base64url, compact JWS, JWK/JWKS, algorithms, keys).
//! Pure Rust, no proxy-wasm, so it builds and tests on the host target.
//!
//! - [`b64`]: base64url encode/decode (leniency documented there).
//! - [`Algorithm`]: the thirteen JWS algorithms; `none` is a parse error.
//! - [`VerifyingKey`] / [`SigningKey`]: typed keys with key/algorithm binding, built once from
//!   PEM, DER or JWK at configure time.
//! - [`pem`]: PEM blocks, certificate chains, certificate → public key.
//! - [`jwk`]: JWK and JWKS import/export, RFC 7638 thumbprints.
//! - [`jws`]: compact JWS parse (with Kong-compatible errors) and sign.
//! - `nistp256`: our own P-256 arithmetic: ES256 verification (variable time, public inputs
//!   only) and the constant-time k·G of ES256 signing (RFC 6979 nonces, as the `p256` crate's).
//! - `ed25519`: Ed25519 private keys, their base-point products on a table made in memory.
//! - `json`: the strict JSON reader of headers and claims (duplicate member names refused).
//! - [`wipe`]: JSON that held key material, overwritten before it is freed.
//! - [`JoseError`]: the one error type, with a stable message per variant.

#![warn(missing_docs)]

mod alg;
pub mod b64;
mod certificate;
mod ed25519;
mod error;
pub(crate) mod json;
pub mod jwk;
pub mod jws;
mod key;
use jwt_relay_kernels::nistp256;
pub mod pem;
mod rsa_backend;
mod rsa_public;
pub mod wipe;

pub use alg::{Algorithm, EcCurve, Family, Sha};
pub use error::JoseError;
pub use jwk::{Jwk, JwkSet, OctKeyEncoding};
pub use jws::{EncodedHeader, Header, Jws, JwsHeader, MAX_TOKEN_LEN};
pub use key::{SigningKey, VerifyingKey};

/// The comb's k·G for the timing harness (`crate::timing`).
pub(crate) use nistp256::mul_generator_x as p256_mul_generator_x;
