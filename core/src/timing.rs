//! Hooks for the dudect timing harness (`rsa-kernel/examples/dudect.rs`). Not part of the API.

/// The affine x of k·G on ES256 signing's constant-time comb, for a nonce k in [1, n − 1]
/// given big-endian; `None` as `nistp256::comb` says.
pub fn p256_mul_generator_x(k: &[u8; 32]) -> Option<[u8; 32]> {
    crate::jose::p256_mul_generator_x(k)
}
