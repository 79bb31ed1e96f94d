//! HMAC-SHA256 (RFC 2104) for HS256, on [`super::Hasher`] so that it runs on the block function
//! chosen for the engine. The key's inner and outer blocks are hashed once, when the key loads:
//! a tag then costs the message's blocks and two more (the hmac crate hashes both key blocks
//! again for every message, four blocks more for a short token).

use super::{compress, rounds, Hasher, BLOCK, INITIAL};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

/// An HMAC-SHA256 key as the states after its inner and outer blocks; wiped on drop, never
/// printed.
#[derive(Clone)]
pub struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey(..)")
    }
}

impl Drop for HmacKey {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl HmacKey {
    /// The key (any length: one longer than a block is hashed first, RFC 2104 §2).
    pub fn new(key: &[u8]) -> Self {
        let mut keyed = Self {
            inner: [0; 8],
            outer: [0; 8],
        };
        keyed.set(key);
        keyed
    }

    /// Keys it anew, in place: the states are computed where they stay (a key built by
    /// [`Self::new`] and moved leaves the copies moves make).
    pub fn set(&mut self, key: &[u8]) {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut digest = super::digest(key);
            if let Some(slot) = block.get_mut(..digest.len()) {
                slot.copy_from_slice(&digest);
            }
            digest.zeroize();
        } else if let Some(slot) = block.get_mut(..key.len()) {
            slot.copy_from_slice(key);
        }
        keyed_state(&block, IPAD, &mut self.inner);
        keyed_state(&block, OPAD, &mut self.outer);
        block.zeroize();
    }

    /// The 32-byte tag of `msg`.
    pub fn tag(&self, msg: &[u8]) -> [u8; 32] {
        let mut inner = Hasher::resume(&self.inner, 1, rounds());
        inner.update(msg);
        let mut inner_digest = inner.finalize();
        let mut outer = Hasher::resume(&self.outer, 1, rounds());
        outer.update(&inner_digest);
        inner_digest.zeroize();
        outer.finalize()
    }

    /// Whether `tag` is the full tag of `msg`, compared in constant time (a truncated tag is a
    /// mismatch).
    pub fn verify(&self, msg: &[u8], tag: &[u8]) -> bool {
        let mut expected = self.tag(msg);
        let same = tag.len() == expected.len() && bool::from(expected.as_slice().ct_eq(tag));
        expected.zeroize();
        same
    }
}

/// Sets `state` to the SHA-256 state after the key block XOR `pad`.
fn keyed_state(key_block: &[u8; BLOCK], pad: u8, state: &mut [u32; 8]) {
    let mut block = *key_block;
    block.iter_mut().for_each(|b| *b ^= pad);
    *state = INITIAL;
    compress(rounds(), state, &[block]);
    block.zeroize();
}

#[cfg(test)]
#[path = "hmac_tests.rs"]
mod tests;
