//! RSA signature encodings (RFC 8017 §9): EMSA-PKCS1-v1_5 for RS* and EMSA-PSS for PS*, to sign
//! with [`crate::CrtKey`], and their verification ([`pkcs1v15_verify`], [`pss_verify`]) of what
//! [`crate::PublicOp`] recovers from a signature. Verification compares public values only.

use sha2::digest::{Digest, FixedOutputReset};
use sha2::{Sha256, Sha384, Sha512};

use crate::Hash as Sha;

/// DigestInfo DER prefixes (RFC 8017 §9.2, note 1).
const PREFIX_SHA256: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const PREFIX_SHA384: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const PREFIX_SHA512: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2): `00 01 FF… 00 DigestInfo`, `len` bytes (the modulus
/// length). `None` when the modulus is too short for the digest.
pub fn pkcs1v15(sha: Sha, hashed: &[u8], len: usize) -> Option<Vec<u8>> {
    let prefix: &[u8] = match sha {
        Sha::Sha256 => &PREFIX_SHA256,
        Sha::Sha384 => &PREFIX_SHA384,
        Sha::Sha512 => &PREFIX_SHA512,
    };
    let t_len = prefix.len() + hashed.len();
    let padding = len.checked_sub(t_len + 3).filter(|p| *p >= 8)?;
    let mut em = Vec::with_capacity(len);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + padding, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(hashed);
    Some(em)
}

/// EMSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2 step 3–4): `em`, recovered from a signature,
/// must be exactly the encoding of `hashed` at its own length. Re-encoding and comparing (not
/// parsing) leaves no room for lax DigestInfo or padding parsers (Bleichenbacher 2006).
pub fn pkcs1v15_verify(sha: Sha, hashed: &[u8], em: &[u8]) -> bool {
    pkcs1v15(sha, hashed, em.len()).is_some_and(|want| want == em)
}

/// EMSA-PSS verification (RFC 8017 §9.1.2) with MGF1 over the same hash, for `em` recovered from
/// a signature (`k` bytes, the modulus length) and a modulus of `mod_bits` bits. The salt length
/// is read from the encoding (the first 01 byte of DB), as OpenSSL's auto-detection does: it is
/// the signer's choice and nothing the verifier relies on.
pub fn pss_verify(sha: Sha, hashed: &[u8], em: &[u8], mod_bits: usize) -> bool {
    match sha {
        Sha::Sha256 => pss_verify_with::<Sha256>(hashed, em, mod_bits),
        Sha::Sha384 => pss_verify_with::<Sha384>(hashed, em, mod_bits),
        Sha::Sha512 => pss_verify_with::<Sha512>(hashed, em, mod_bits),
    }
    .is_some()
}

/// `Some(())` when `em` is a valid EMSA-PSS encoding of `hashed`.
fn pss_verify_with<D: Digest + FixedOutputReset>(
    hashed: &[u8],
    em: &[u8],
    mod_bits: usize,
) -> Option<()> {
    let h_len = <D as Digest>::output_size();
    let em_bits = mod_bits.checked_sub(1)?;
    let em_len = em_bits.div_ceil(8);
    // I2OSP(m, emLen): a k-byte value with k > emLen must start with zeros.
    let (high, em) = em.split_at_checked(em.len().checked_sub(em_len)?)?;
    if hashed.len() != h_len || high.iter().any(|b| *b != 0) || em_len < h_len + 2 {
        return None;
    }
    let (last, rest) = em.split_last()?;
    let (masked_db, h) = rest.split_at_checked(em_len - h_len - 1)?;
    // Bits of the first byte above em_bits must be zero (step 6).
    let unused = 8 * em_len - em_bits;
    let top_clear = masked_db.first()? & !(0xffu8 >> unused) == 0;
    if *last != 0xbc || !top_clear {
        return None;
    }
    let mut db = masked_db.to_vec();
    mgf1_xor::<D>(h, &mut db);
    if let Some(first) = db.first_mut() {
        *first &= 0xff >> unused;
    }
    // DB = PS (zeros) ‖ 01 ‖ salt.
    let one = db.iter().position(|b| *b != 0)?;
    if db.get(one) != Some(&0x01) {
        return None;
    }
    let salt = db.get(one + 1..)?;
    let expected = D::new()
        .chain_update([0u8; 8])
        .chain_update(hashed)
        .chain_update(salt)
        .finalize();
    (expected.as_slice() == h).then_some(())
}

/// EMSA-PSS (RFC 8017 §9.1.1) with MGF1 over the same hash and a salt as long as the hash
/// (RFC 7518 §3.5). `mod_bits` is the modulus length in bits; the result is
/// ⌈(mod_bits − 1)/8⌉ bytes. `None` when the modulus is too short.
pub fn pss(sha: Sha, hashed: &[u8], salt: &[u8], mod_bits: usize) -> Option<Vec<u8>> {
    match sha {
        Sha::Sha256 => pss_with::<Sha256>(hashed, salt, mod_bits),
        Sha::Sha384 => pss_with::<Sha384>(hashed, salt, mod_bits),
        Sha::Sha512 => pss_with::<Sha512>(hashed, salt, mod_bits),
    }
}

fn pss_with<D: Digest + FixedOutputReset>(
    hashed: &[u8],
    salt: &[u8],
    mod_bits: usize,
) -> Option<Vec<u8>> {
    let em_bits = mod_bits.checked_sub(1)?;
    let em_len = em_bits.div_ceil(8);
    let h_len = <D as Digest>::output_size();
    let db_len = em_len.checked_sub(h_len + 1)?;
    let ps_len = db_len.checked_sub(salt.len() + 1)?;
    // H = Hash(00×8 ‖ mHash ‖ salt)
    let h = D::new()
        .chain_update([0u8; 8])
        .chain_update(hashed)
        .chain_update(salt)
        .finalize();
    // DB = PS ‖ 01 ‖ salt, masked with MGF1(H)
    let mut db = vec![0u8; ps_len];
    db.push(0x01);
    db.extend_from_slice(salt);
    mgf1_xor::<D>(&h, &mut db);
    // Clear the bits above em_bits so EM is below the modulus.
    let unused = 8 * em_len - em_bits;
    if let Some(first) = db.first_mut() {
        *first &= 0xff >> unused;
    }
    let mut em = db;
    em.extend_from_slice(&h);
    em.push(0xbc);
    Some(em)
}

/// out ^= MGF1(seed) (RFC 8017 §B.2.1).
fn mgf1_xor<D: Digest>(seed: &[u8], out: &mut [u8]) {
    for (counter, block) in (0u32..).zip(out.chunks_mut(<D as Digest>::output_size())) {
        let mask = D::new()
            .chain_update(seed)
            .chain_update(counter.to_be_bytes())
            .finalize();
        for (byte, m) in block.iter_mut().zip(mask.iter()) {
            *byte ^= m;
        }
    }
}
