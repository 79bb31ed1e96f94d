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
//! - `p256_verify`: ES256 verification on our own P-256 arithmetic (variable time, public
//!   inputs only; signing stays on the `p256` crate).
//! - `json`: the strict JSON reader of headers and claims (duplicate member names refused).
//! - [`JoseError`]: the one error type, with a stable message per variant.

#![warn(missing_docs)]

mod alg;
pub mod b64;
mod error;
mod json;
pub mod jwk;
pub mod jws;
mod key;
mod p256_verify;
pub mod pem;
mod rsa_backend;

pub use alg::{Algorithm, EcCurve, Family, Sha};
pub use error::JoseError;
pub use jwk::{Jwk, JwkSet, OctKeyEncoding};
pub use jws::{Header, Jws, JwsHeader, MAX_TOKEN_LEN};
pub use key::{SigningKey, VerifyingKey};
