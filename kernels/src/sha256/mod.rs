//! SHA-256 for everything the filter hashes per request (bodies for `payloadhash`, signing
//! inputs, HS256), with the block function chosen for the engine that runs the filter.
//!
//! The sha2 crate's block function (all 64 rounds unrolled, the message schedule kept in 16
//! locals) is the fastest in V8 (Envoy, Istio): about 300 MB/s. Cranelift in wasmtime 19 to 28
//! (Kong 3.8 ships 23.0.2, Kong 3.9 26.0.0) spills it so badly that it runs at 45–50 MB/s, which
//! made the body the largest cost of minting on Kong (20 ms for a 1 MiB body) and an HS256
//! signature five times dearer than in V8. [`Rounds::Scheduled`] computes the whole message
//! schedule into memory first and runs the rounds over it, eight at a time: few values live at
//! once, 135–185 MB/s on those wasmtime versions (225 MB/s in V8).
//!
//! The glue sets it as each request starts ([`set_rounds`], from
//! `host_quirks::sha256_rounds`, once the host is known); the choice is kept per thread (a VM is
//! one thread; native tests run in several) and changes speed only, never a digest. Both block
//! functions are constant time (additions, rotations and logic on fixed schedules; no branch or
//! index depends on the data), so the HMAC keys of [`hmac`] may go through them; the buffering
//! branches on lengths only. States are wiped on drop.

use sha2::block_api::compress256;
use std::cell::Cell;
use zeroize::Zeroize;

pub mod hmac;

/// Which SHA-256 block function to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rounds {
    /// The sha2 crate's unrolled block function (V8, native).
    #[default]
    Unrolled,
    /// The schedule computed first, rounds eight at a time (wasmtime's Cranelift).
    Scheduled,
}

thread_local! {
    static ROUNDS: Cell<Rounds> = const { Cell::new(Rounds::Unrolled) };
}

/// Chooses the block function for every hash this thread (this VM) starts from now on.
pub fn set_rounds(rounds: Rounds) {
    ROUNDS.with(|r| r.set(rounds));
}

/// The block function [`set_rounds`] chose for this thread.
pub fn rounds() -> Rounds {
    ROUNDS.with(Cell::get)
}

/// The SHA-256 of `data`.
pub fn digest(data: &[u8]) -> [u8; 32] {
    let mut hasher = Hasher::new();
    hasher.update(data);
    hasher.finalize()
}

const BLOCK: usize = 64;

const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The round constants of FIPS 180-4, 4.2.2.
const K: [u32; 64] = [
    0x428a_2f98,
    0x7137_4491,
    0xb5c0_fbcf,
    0xe9b5_dba5,
    0x3956_c25b,
    0x59f1_11f1,
    0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98,
    0x1283_5b01,
    0x2431_85be,
    0x550c_7dc3,
    0x72be_5d74,
    0x80de_b1fe,
    0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1,
    0xefbe_4786,
    0x0fc1_9dc6,
    0x240c_a1cc,
    0x2de9_2c6f,
    0x4a74_84aa,
    0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152,
    0xa831_c66d,
    0xb003_27c8,
    0xbf59_7fc7,
    0xc6e0_0bf3,
    0xd5a7_9147,
    0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85,
    0x2e1b_2138,
    0x4d2c_6dfc,
    0x5338_0d13,
    0x650a_7354,
    0x766a_0abb,
    0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1,
    0xa81a_664b,
    0xc24b_8b70,
    0xc76c_51a3,
    0xd192_e819,
    0xd699_0624,
    0xf40e_3585,
    0x106a_a070,
    0x19a4_c116,
    0x1e37_6c08,
    0x2748_774c,
    0x34b0_bcb5,
    0x391c_0cb3,
    0x4ed8_aa4a,
    0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee,
    0x78a5_636f,
    0x84c8_7814,
    0x8cc7_0208,
    0x90be_fffa,
    0xa450_6ceb,
    0xbef9_a3f7,
    0xc671_78f2,
];

/// An incremental SHA-256 (a body handed over in pieces, an HMAC's inner hash).
#[derive(Debug, Clone)]
pub struct Hasher {
    state: [u32; 8],
    /// Bytes of an unfinished block.
    pending: [u8; BLOCK],
    pending_len: usize,
    /// Bytes hashed so far (the length block counts bits: 2^61 bytes would wrap, no body gets there).
    total: u64,
    rounds: Rounds,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        self.state.zeroize();
        self.pending.zeroize();
    }
}

impl Hasher {
    /// An empty hash on this thread's block function ([`set_rounds`]).
    pub fn new() -> Self {
        Self::with_rounds(rounds())
    }

    /// An empty hash on the given block function.
    pub fn with_rounds(rounds: Rounds) -> Self {
        Self::resume(&INITIAL, 0, rounds)
    }

    /// A hash that already absorbed `blocks` whole blocks, ending in `state` (HMAC's keyed
    /// starts).
    fn resume(state: &[u32; 8], blocks: u64, rounds: Rounds) -> Self {
        Self {
            state: *state,
            pending: [0; BLOCK],
            pending_len: 0,
            total: blocks.saturating_mul(BLOCK as u64),
            rounds,
        }
    }

    /// Hashes more data.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self
            .total
            .wrapping_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        if self.pending_len > 0 {
            let free = self.pending.get_mut(self.pending_len..).unwrap_or_default();
            let take = free.len().min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(slot) = free.get_mut(..take) {
                slot.copy_from_slice(head);
            }
            self.pending_len += take;
            data = rest;
            if self.pending_len < BLOCK {
                return;
            }
            let block = [self.pending];
            self.compress(&block);
        }
        let (blocks, tail) = data.as_chunks::<BLOCK>();
        self.compress(blocks);
        if let Some(slot) = self.pending.get_mut(..tail.len()) {
            slot.copy_from_slice(tail);
        }
        self.pending_len = tail.len();
    }

    /// The digest (FIPS 180-4 padding: 0x80, zeros, the length in bits).
    pub fn finalize(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        let mut last = [0u8; 2 * BLOCK];
        let pending = self.pending.get(..self.pending_len).unwrap_or_default();
        if let Some(slot) = last.get_mut(..pending.len()) {
            slot.copy_from_slice(pending);
        }
        if let Some(marker) = last.get_mut(pending.len()) {
            *marker = 0x80;
        }
        // One block when the length still fits after the marker, else two.
        let used = if pending.len() < BLOCK - 8 {
            BLOCK
        } else {
            2 * BLOCK
        };
        if let Some(slot) = last.get_mut(used - 8..used) {
            slot.copy_from_slice(&bits.to_be_bytes());
        }
        let (blocks, _) = last.get(..used).unwrap_or_default().as_chunks::<BLOCK>();
        self.compress(blocks);
        last.zeroize();
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    fn compress(&mut self, blocks: &[[u8; BLOCK]]) {
        compress(self.rounds, &mut self.state, blocks);
    }
}

/// Runs the chosen block function over whole blocks.
fn compress(rounds: Rounds, state: &mut [u32; 8], blocks: &[[u8; BLOCK]]) {
    match rounds {
        Rounds::Unrolled => compress256(state, blocks),
        Rounds::Scheduled => blocks.iter().for_each(|b| scheduled(state, b)),
    }
}

/// One round (FIPS 180-4, 6.2.2 step 3), written so that the eight working variables rotate
/// by renaming instead of moving: `d` and `h` are the two that change.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn round(a: u32, b: u32, c: u32, d: &mut u32, e: u32, f: u32, g: u32, h: &mut u32, kw: u32) {
    let sigma1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
    let choose = g ^ (e & (f ^ g));
    let t1 = h.wrapping_add(sigma1).wrapping_add(choose).wrapping_add(kw);
    let sigma0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
    let majority = (a & b) | (c & (a | b));
    *d = d.wrapping_add(t1);
    *h = t1.wrapping_add(sigma0.wrapping_add(majority));
}

/// The block function with the message schedule (plus round constants) computed into memory
/// first ([`Rounds::Scheduled`]).
fn scheduled(state: &mut [u32; 8], block: &[u8; BLOCK]) {
    let mut w = [0u32; 64];
    let (words, _) = block.as_chunks::<4>();
    for (slot, word) in w.iter_mut().zip(words) {
        *slot = u32::from_be_bytes(*word);
    }
    for i in 16..64 {
        let at = |back: usize| w.get(i - back).copied().unwrap_or_default();
        let (w15, w2) = (at(15), at(2));
        let s0 = w15.rotate_right(7) ^ w15.rotate_right(18) ^ (w15 >> 3);
        let s1 = w2.rotate_right(17) ^ w2.rotate_right(19) ^ (w2 >> 10);
        let next = at(16).wrapping_add(s0).wrapping_add(at(7)).wrapping_add(s1);
        if let Some(slot) = w.get_mut(i) {
            *slot = next;
        }
    }
    for (slot, k) in w.iter_mut().zip(K) {
        *slot = slot.wrapping_add(k);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    let (eights, _) = w.as_chunks::<8>();
    for kw in eights {
        round(a, b, c, &mut d, e, f, g, &mut h, kw[0]);
        round(h, a, b, &mut c, d, e, f, &mut g, kw[1]);
        round(g, h, a, &mut b, c, d, e, &mut f, kw[2]);
        round(f, g, h, &mut a, b, c, d, &mut e, kw[3]);
        round(e, f, g, &mut h, a, b, c, &mut d, kw[4]);
        round(d, e, f, &mut g, h, a, b, &mut c, kw[5]);
        round(c, d, e, &mut f, g, h, a, &mut b, kw[6]);
        round(b, c, d, &mut e, f, g, h, &mut a, kw[7]);
    }
    for (s, v) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *s = s.wrapping_add(v);
    }
}

#[cfg(test)]
mod tests;
