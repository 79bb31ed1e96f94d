//! HMAC-SHA384 and HMAC-SHA512 (RFC 2104; HS384 and HS512 of RFC 7518) on the sha2 crate's
//! SHA-512 block function, with every state and block that derives from the key held here and
//! wiped after use. The hmac crate leaves its padded key block on the stack and its keyed states
//! unwiped; this is [`crate::sha256::hmac`]'s construction for the SHA-512 family. A key's
//! inner and outer blocks are hashed once, when it is keyed, however many tags it makes.
//!
//! The block function is constant time (additions, rotations and logic on a fixed schedule), and
//! the padding branches on lengths only.

use sha2::block_api::compress512;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

const BLOCK: usize = 128;
const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

/// SHA-384 or SHA-512: the same block function from other initial values, the digest cut to
/// 48 bytes for SHA-384 (FIPS 180-4, 5.3.4 to 5.3.5 and 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    Sha384,
    Sha512,
}

impl Width {
    fn initial(self) -> [u64; 8] {
        match self {
            Width::Sha384 => [
                0xcbbb_9d5d_c105_9ed8,
                0x629a_292a_367c_d507,
                0x9159_015a_3070_dd17,
                0x152f_ecd8_f70e_5939,
                0x6733_2667_ffc0_0b31,
                0x8eb4_4a87_6858_1511,
                0xdb0c_2e0d_64f9_8fa7,
                0x47b5_481d_befa_4fa4,
            ],
            Width::Sha512 => [
                0x6a09_e667_f3bc_c908,
                0xbb67_ae85_84ca_a73b,
                0x3c6e_f372_fe94_f82b,
                0xa54f_f53a_5f1d_36f1,
                0x510e_527f_ade6_82d1,
                0x9b05_688c_2b3e_6c1f,
                0x1f83_d9ab_fb41_bd6b,
                0x5be0_cd19_137e_2179,
            ],
        }
    }

    /// The digest's (and the tag's) length in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Width::Sha384 => 48,
            Width::Sha512 => 64,
        }
    }
}

/// An HMAC-SHA384 or HMAC-SHA512 key as the states after its inner and outer blocks; wiped on
/// drop, never printed.
#[derive(Clone)]
pub struct HmacKey512 {
    width: Width,
    inner: [u64; 8],
    outer: [u64; 8],
}

impl std::fmt::Debug for HmacKey512 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacKey512({:?}, ..)", self.width)
    }
}

impl Drop for HmacKey512 {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl HmacKey512 {
    /// The key (any length: one longer than a block is hashed first, RFC 2104 §2).
    pub fn new(width: Width, key: &[u8]) -> Self {
        let mut keyed = Self::unkeyed(width);
        keyed.set(key);
        keyed
    }

    /// A key of zero states, for [`Self::set`] to key where it stays.
    fn unkeyed(width: Width) -> Self {
        Self {
            width,
            inner: [0; 8],
            outer: [0; 8],
        }
    }

    /// Keys it anew, in place: the states are computed where they stay (a key built by
    /// [`Self::new`] and moved leaves the copies moves make).
    pub fn set(&mut self, key: &[u8]) {
        let width = self.width;
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut digest = hash(&width.initial(), 0, key);
            let len = width.tag_len();
            if let (Some(slot), Some(digest)) = (block.get_mut(..len), digest.get(..len)) {
                slot.copy_from_slice(digest);
            }
            digest.zeroize();
        } else if let Some(slot) = block.get_mut(..key.len()) {
            slot.copy_from_slice(key);
        }
        keyed_state(width, &block, IPAD, &mut self.inner);
        keyed_state(width, &block, OPAD, &mut self.outer);
        block.zeroize();
    }

    /// The tag of `msg`, 48 or 64 bytes.
    pub fn tag(&self, msg: &[u8]) -> Vec<u8> {
        let len = self.width.tag_len();
        let mut inner = hash(&self.inner, BLOCK, msg);
        let mut outer = hash(&self.outer, BLOCK, inner.get(..len).unwrap_or_default());
        inner.zeroize();
        let tag = outer.get(..len).unwrap_or_default().to_vec();
        outer.zeroize();
        tag
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

/// Sets `state` to the state after the key block XOR `pad`.
fn keyed_state(width: Width, key_block: &[u8; BLOCK], pad: u8, state: &mut [u64; 8]) {
    let mut block = *key_block;
    block.iter_mut().for_each(|b| *b ^= pad);
    *state = width.initial();
    compress512(state, &[block]);
    block.zeroize();
}

/// The digest of `msg` hashed on from `state`, which has taken `done` bytes already (a whole
/// number of blocks); all 64 bytes of the final state, which the caller cuts to the width.
/// FIPS 180-4 padding: 0x80, zeros, the length in bits as 128 bits.
fn hash(from: &[u64; 8], done: usize, msg: &[u8]) -> [u8; 64] {
    let mut state = *from;
    let (blocks, tail) = msg.as_chunks::<BLOCK>();
    compress512(&mut state, blocks);
    let bits = (done as u128)
        .wrapping_add(msg.len() as u128)
        .wrapping_mul(8);
    let mut last = [0u8; 2 * BLOCK];
    if let Some(slot) = last.get_mut(..tail.len()) {
        slot.copy_from_slice(tail);
    }
    if let Some(marker) = last.get_mut(tail.len()) {
        *marker = 0x80;
    }
    // One block when the length still fits after the marker, else two.
    let used = if tail.len() < BLOCK - 16 {
        BLOCK
    } else {
        2 * BLOCK
    };
    if let Some(slot) = last.get_mut(used - 16..used) {
        slot.copy_from_slice(&bits.to_be_bytes());
    }
    let (padded, _) = last.get(..used).unwrap_or_default().as_chunks::<BLOCK>();
    compress512(&mut state, padded);
    last.zeroize();
    let mut out = [0u8; 64];
    for (chunk, word) in out.chunks_exact_mut(8).zip(state.iter()) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    state.zeroize();
    out
}

#[cfg(test)]
#[path = "hmac_sha512_tests.rs"]
mod tests;
