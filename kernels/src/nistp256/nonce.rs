//! RFC 6979 nonces for ES256: HMAC_DRBG on HMAC-SHA256 (§3.2), with qlen = hlen = 256 bits,
//! so bits2int is the identity on 32 bytes and int2octets writes them back unchanged.
//!
//! Why not the rfc6979 crate: it rebuilds the HMAC key's two padded blocks for every HMAC and
//! runs its closing reseed (K = HMAC_K(V ‖ 0x00), V = HMAC_K(V)) after every draw, also after
//! the first, which is nearly always the nonce used. Here each DRBG key is hashed into its
//! inner and outer states once ([`HmacKey`], on the block function chosen for the engine) and
//! the closing reseed runs only when a second nonce is drawn: 16 SHA-256 blocks instead of
//! about 30 (in V8's profile of a signature, about 5 µs instead of about 12). The nonces are
//! the crate's, draw for draw: tests compare.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use super::field::ORDER_BE;
use super::sub_be;
use crate::sha256::hmac::HmacKey;

/// The DRBG state (K as its HMAC states, and V), seeded with a private scalar and a digest.
pub(super) struct Nonces {
    key: HmacKey,
    v: [u8; 32],
    /// Whether a nonce was drawn: the next draw first runs the closing reseed of the last.
    drawn: bool,
}

impl Drop for Nonces {
    fn drop(&mut self) {
        self.v.zeroize();
    }
}

impl Nonces {
    /// The DRBG before seeding (K = 0…0, V = 1…1): nothing secret yet, so it may be moved
    /// into place. [`Self::seed`] then seeds it where it stays: a seeded state returned by
    /// value could leave an unwiped copy of K's states behind on the stack. (Each HMAC still
    /// runs on copies of K's states in a hasher, and a nonce drawn is copied into the scalar
    /// it becomes: temporaries of the signature, not this state's moves.)
    pub(super) fn unseeded() -> Self {
        Self {
            key: HmacKey::new(&[0; 32]),
            v: [1; 32],
            drawn: false,
        }
    }

    /// §3.2 steps d to g for the private scalar `x` (big-endian, below n) and the message
    /// `digest`, in place.
    pub(super) fn seed(&mut self, x: &[u8; 32], digest: &[u8; 32]) {
        let h = reduce_below_order(digest);
        self.reseed(0x00, &[x, &h]);
        self.reseed(0x01, &[x, &h]);
    }

    /// The next nonce in [1, n − 1], big-endian (§3.2 step h).
    pub(super) fn next(&mut self) -> Zeroizing<[u8; 32]> {
        loop {
            if self.drawn {
                self.reseed(0x00, &[]);
            }
            self.v = self.key.tag(&self.v);
            self.drawn = true;
            if bool::from(in_range(&self.v)) {
                return Zeroizing::new(self.v);
            }
        }
    }

    /// K = HMAC_K(V ‖ `separator` ‖ `inputs`), then V = HMAC_K(V).
    fn reseed(&mut self, separator: u8, inputs: &[&[u8; 32]]) {
        let mut message = Zeroizing::new([0u8; 3 * 32 + 1]);
        let mut len = 0;
        for piece in [&self.v[..], &[separator][..]]
            .into_iter()
            .chain(inputs.iter().map(|input| &input[..]))
        {
            if let Some(slot) = message.get_mut(len..len + piece.len()) {
                slot.copy_from_slice(piece);
            }
            len += piece.len();
        }
        let mut k = self.key.tag(message.get(..len).unwrap_or_default());
        self.key.set(&k);
        k.zeroize();
        self.v = self.key.tag(&self.v);
    }
}

/// bits2octets (§2.3.4): the digest as an integer, minus n when it is at least n (it is below
/// 2^256 < 2n).
fn reduce_below_order(digest: &[u8; 32]) -> [u8; 32] {
    let (reduced, below) = sub_be(digest, &ORDER_BE);
    let mut out = [0u8; 32];
    for ((o, &d), &r) in out.iter_mut().zip(digest).zip(&reduced) {
        *o = u8::conditional_select(&r, &d, below);
    }
    out
}

/// 1 ≤ k < n, without a branch on k.
fn in_range(k: &[u8; 32]) -> Choice {
    let below_order = sub_be(k, &ORDER_BE).1;
    let zero = k.ct_eq(&[0u8; 32]);
    below_order & !zero
}

#[cfg(test)]
#[path = "nonce_tests.rs"]
mod tests;
