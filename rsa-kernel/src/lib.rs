//! A constant-time RSA signing kernel, tuned for wasm32 (no 64×64-bit multiply there: 28-bit
//! limbs in `u64` accumulators), reviewed on its own and kept apart from the filter.
//!
//! - [`CrtKey`]: RSASP1 by the Chinese remainder theorem (RFC 8017 §5.2.1), exponents and base
//!   blinded per signature, every result checked against the public key before it leaves (a fault
//!   withholds the signature and never leaks a prime).
//! - [`pad`]: EMSA-PKCS1-v1_5 and EMSA-PSS encodings (RFC 8017 §9).
//! - `monty`: the Montgomery arithmetic underneath, constant time for secret operands; its one
//!   variable-time routine takes the public exponent only.
//!
//! - [`PublicOp`]: RSAVP1 (s^e mod n) for verification and the self-check, in variable time
//!   (nothing in it is secret): on `monty` up to RSA-3072, on `wide` (32-bit limbs of runtime
//!   length) above.
//!
//! - [`crt_members`] and [`consistent`]: a key's CRT members d mod (p − 1), d mod (q − 1),
//!   q⁻¹ mod p computed from d, p, q, and its checks (p·q = n, d·e ≡ 1), in constant time.
//!
//! Key parsing and key generation are not here.

#![deny(clippy::integer_division_remainder_used)]

mod crt;
mod monty;
pub mod pad;
mod public;
/// The dudect timing harness's view of the kernel (`examples/dudect.rs`): not an API.
#[doc(hidden)]
pub mod timing;
mod wide;

pub use crt::{consistent, crt_members, CrtKey};
pub use public::PublicOp;

/// The hash of an RSA signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256 (RS256, PS256).
    Sha256,
    /// SHA-384 (RS384, PS384).
    Sha384,
    /// SHA-512 (RS512, PS512).
    Sha512,
}
