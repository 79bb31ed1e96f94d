//! jwt-relay's pure core: everything the filter decides, with no proxy-wasm, so it builds and
//! tests natively and the compiler keeps the host out.
//!
//! - [`config`]: the wire types (what a user writes), their defaults and validation.
//! - [`jose`]: JWS, JWK, keys and algorithms (RFC 7515/7517/7518/7519, RFC 8037).
//! - [`sha256`]: SHA-256 and HMAC-SHA256 on the block function chosen for the engine.
//! - [`stages`]: the runtime stages compiled from the configuration, and the request's path
//!   through them ([`stages::flow`]).

pub mod config;
// Native only (the fuzz targets and their corpus replay): the wasm filter stays byte for byte
// what it is without it.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod jose;
pub use jwt_relay_kernels::sha256;
pub mod stages;
// For the dudect timing harness (rsa-kernel/examples/dudect.rs), which times ES256 signing's
// constant-time k·G through it; nothing in the filter calls it.
#[doc(hidden)]
pub mod timing;
