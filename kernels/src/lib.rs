//! jwt-relay's per-request arithmetic, in a crate of its own so that it keeps the optimisation
//! level its speed and constant-time behaviour were measured at (`"s"`) while the core builds at
//! `"z"` (Cargo sets optimisation per crate; see the workspace's release profile):
//!
//! - [`sha256`]: SHA-256 and HMAC-SHA256 on the block function chosen for the engine (bodies,
//!   HS256, every RS256/PS256/ES256 signing input, cache keys).
//! - [`hmac_sha512`]: HMAC-SHA384 and HMAC-SHA512 (HS384, HS512) with keyed states that are
//!   wiped.
//! - [`nistp256`]: P-256 arithmetic for ES256 verification and signing.

pub mod hmac_sha512;
pub mod nistp256;
pub mod sha256;
#[cfg(test)]
mod test_support;
