//! `PublicOp::verify_pkcs1v15`, which compares in the square-and-multiply chain's scale
//! (s^e·K against C·K + H·K), against the `rsa` crate's RSASSA-PKCS1-v1_5 verification and
//! against the kernel's plain route (s^e mod n re-encoded and compared), on keys generated afresh:
//! each fixed kernel size at and around its bounds (2047–2070 bits on 74 limbs, 2071–3078 on
//! 110), the runtime-sized arithmetic above, e = 3 and e = 65537.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use getrandom::rand_core::UnwrapErr;
use getrandom::SysRng;
use jwt_relay_rsa::{pad, Hash, PublicOp};
use num_bigint::BigUint;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey};
use sha2::{Digest as _, Sha256, Sha384, Sha512};

const HASHES: [Hash; 3] = [Hash::Sha256, Hash::Sha384, Hash::Sha512];

fn scheme(hash: Hash) -> Pkcs1v15Sign {
    match hash {
        Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
        Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
        Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
    }
}

fn digest(hash: Hash, msg: &[u8]) -> Vec<u8> {
    match hash {
        Hash::Sha256 => Sha256::digest(msg).to_vec(),
        Hash::Sha384 => Sha384::digest(msg).to_vec(),
        Hash::Sha512 => Sha512::digest(msg).to_vec(),
    }
}

fn big(x: &BoxedUint) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

/// `x` as exactly `len` big-endian bytes (x below 256^len).
fn bytes(x: &BigUint, len: usize) -> Vec<u8> {
    let raw = x.to_bytes_be();
    let mut out = vec![0u8; len - raw.len()];
    out.extend_from_slice(&raw);
    out
}

struct Case {
    key: PrivateKey,
    op: PublicOp,
    n: BigUint,
    d: BigUint,
    len: usize,
}

impl Case {
    fn new(bits: usize, e: u64) -> Self {
        let key =
            PrivateKey::new_with_exp(&mut UnwrapErr(SysRng), bits, BoxedUint::from(e)).unwrap();
        let n = big(key.n().as_ref());
        let op = PublicOp::new(&n.to_bytes_be(), &big(key.e()).to_bytes_be()).unwrap();
        let len = key.size();
        assert_eq!(op.len(), len);
        Self {
            d: big(key.d()),
            key,
            op,
            n,
            len,
        }
    }

    /// The verdict, held to the crate's and to the kernel's plain route.
    fn verify(&self, hash: Hash, hashed: &[u8], sig: &[u8]) -> bool {
        let ours = self.op.verify_pkcs1v15(hash, hashed, sig);
        let crate_says = self
            .key
            .to_public_key()
            .verify(scheme(hash), hashed, sig)
            .is_ok();
        let plain = self
            .op
            .apply(sig)
            .is_some_and(|em| pad::pkcs1v15_verify(hash, hashed, &em));
        assert_eq!(ours, crate_says, "against the rsa crate");
        assert_eq!(ours, plain, "against s^e mod n re-encoded");
        ours
    }

    /// x^d mod n: a signature whose s^e is `x`.
    fn sign_raw(&self, x: &BigUint) -> Vec<u8> {
        bytes(&x.modpow(&self.d, &self.n), self.len)
    }

    fn check(&self, bits: usize) {
        for hash in HASHES {
            for msg in [&b""[..], b"a", b"header.payload"] {
                let hashed = digest(hash, msg);
                let sig = self.key.sign(scheme(hash), &hashed).unwrap();
                assert!(self.verify(hash, &hashed, &sig), "{bits} bits, {hash:?}");
                // Any other digest, however close: first, middle and last bytes, every bit of
                // the last byte (the low limb of H·K).
                for (at, bit) in [(0, 0), (hashed.len() / 2, 3), (hashed.len() - 1, 7)]
                    .into_iter()
                    .chain((0..8).map(|b| (hashed.len() - 1, b)))
                {
                    let mut other = hashed.clone();
                    other[at] ^= 1 << bit;
                    assert!(!self.verify(hash, &other, &sig));
                }
                // Any other signature.
                for at in [0, self.len / 2, self.len - 1] {
                    let mut other = sig.clone();
                    other[at] ^= 0x10;
                    assert!(!self.verify(hash, &hashed, &other));
                }
                // A digest of another length under the same signature.
                assert!(!self.verify(hash, &hashed[1..], &sig));
                let mut longer = hashed.clone();
                longer.push(0);
                assert!(!self.verify(hash, &longer, &sig));
            }
            // The digests at the ends of H's range.
            let width = digest(hash, b"").len();
            for fill in [0x00, 0xff] {
                let hashed = vec![fill; width];
                let sig = self.key.sign(scheme(hash), &hashed).unwrap();
                assert!(self.verify(hash, &hashed, &sig));
            }
            // s^e one off the encoding, on either side; and an encoding for another hash
            // whose digest shares this one's bytes (its prefix, or this one cut short).
            let hashed = digest(hash, b"m");
            let em = BigUint::from_bytes_be(&pad::pkcs1v15(hash, &hashed, self.len).unwrap());
            assert!(self.verify(hash, &hashed, &self.sign_raw(&em)));
            assert!(!self.verify(hash, &hashed, &self.sign_raw(&(&em + 1u8))));
            assert!(!self.verify(hash, &hashed, &self.sign_raw(&(&em - 1u8))));
            for other in HASHES.into_iter().filter(|h| *h != hash) {
                let mut theirs = digest(other, b"m");
                let shared = theirs.len().min(hashed.len());
                theirs[..shared].copy_from_slice(&hashed[..shared]);
                let their = self.key.sign(scheme(other), &theirs).unwrap();
                assert!(!self.verify(hash, &hashed, &their));
            }
        }
        // Signatures out of range or of the wrong length.
        let hashed = digest(Hash::Sha256, b"x");
        for s in [
            BigUint::from(0u8),
            BigUint::from(1u8),
            &self.n - 1u8,
            self.n.clone(),
            &self.n + 1u8,
        ] {
            if s.bits() as usize <= self.len * 8 {
                self.verify(Hash::Sha256, &hashed, &bytes(&s, self.len));
            }
        }
        let sig = self.key.sign(scheme(Hash::Sha256), &hashed).unwrap();
        assert!(!self.verify(Hash::Sha256, &hashed, &sig[1..]));
        let mut padded = vec![0u8];
        padded.extend_from_slice(&sig);
        assert!(!self.verify(Hash::Sha256, &hashed, &padded));
    }
}

#[test]
fn scaled_comparison_answers_as_the_rsa_crate_on_every_kernel_size() {
    for (bits, e) in [
        (2047, 65537),
        (2048, 65537),
        (2048, 3),
        (2070, 65537),
        (2071, 65537),
        (3072, 65537),
        (3078, 3),
        (3079, 65537),
    ] {
        Case::new(bits, e).check(bits);
    }
}
