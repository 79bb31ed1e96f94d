//! Thin wrappers over the kernel's secret-dependent operations, for the dudect-style timing
//! harness (`rsa-kernel/examples/dudect.rs`, `make dudect`). Hidden from the docs and not an
//! API: it exists so that the harness times the kernel's own code rather than a copy of it.
//! `CrtKey::private_op`, the fourth operation measured, is public already.

use zeroize::Zeroizing;

use crate::monty::{self, Modulus};

/// The kernel size measured: 37 limbs of 28 bits, the instance RSA-2048's primes run on.
pub const LIMBS: usize = 37;

/// Entries of the exponent window's table (a 4-bit window).
pub const TABLE_ENTRIES: usize = 16;

/// A value of the measured size: 28-bit limbs, least significant first, zeroized on drop.
pub type Residue = Zeroizing<[u32; LIMBS]>;

/// Montgomery arithmetic modulo an odd number of at most 1034 bits (`monty::Modulus<37>`).
pub struct Kernel(Modulus<LIMBS>);

impl Kernel {
    /// From the big-endian odd modulus; `None` when `Modulus::new` refuses it.
    pub fn new(modulus: &[u8]) -> Option<Self> {
        Modulus::new(modulus, LIMBS).map(Self)
    }

    /// The Montgomery form of the big-endian `x` (at most 1036 bits), below the modulus.
    pub fn enter(&self, x: &[u8]) -> Option<Residue> {
        Some(self.0.enter_mont(&monty::from_be_bytes(x, LIMBS)?))
    }

    /// The plain residue of `x` (in Montgomery form, below twice the modulus), below the modulus.
    pub fn leave(&self, x: &[u32; LIMBS]) -> Residue {
        self.0.leave_mont(x)
    }

    /// `Modulus::mul`: the Montgomery product a·b·R⁻¹, for `a` and `b` below twice the modulus.
    pub fn mul(&self, a: &[u32; LIMBS], b: &[u32; LIMBS]) -> Residue {
        self.0.mul(a, b)
    }

    /// `Modulus::pow`: base^e in Montgomery form, for the exponent `e` as 4-bit digits (each
    /// below 16), most significant first.
    pub fn pow(&self, base: &[u32; LIMBS], nibbles: &[u8]) -> Residue {
        self.0.pow(base, nibbles)
    }

    /// `Modulus::pow_public_vartime`, square and multiply for public exponents only: the
    /// harness's positive control, a routine whose time does follow its exponent.
    pub fn pow_vartime(&self, base: &[u32; LIMBS], exponent: &[u8]) -> Residue {
        self.0.pow_public_vartime(base, exponent)
    }
}

/// The exponent window's masked select (`monty::select`): entry `index` of `table` into `out`.
pub fn select(table: &[[u32; LIMBS]; TABLE_ENTRIES], index: u8, out: &mut [u32; LIMBS]) {
    monty::select(table, index, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_picks_each_entry() {
        let mut table = [[0u32; LIMBS]; TABLE_ENTRIES];
        for (k, entry) in (1u32..).zip(table.iter_mut()) {
            entry.iter_mut().for_each(|limb| *limb = k * 0x0101_0101);
        }
        for (index, entry) in (0u8..).zip(table.iter()) {
            let mut out = [0u32; LIMBS];
            select(&table, index, &mut out);
            assert_eq!(&out, entry);
        }
    }

    #[test]
    fn wrappers_compute_modulo_a_small_prime() {
        // 2^61 − 1 is prime: 3^(p−1) = 1 (Fermat), and 3·3 = 9 through mul.
        let p = ((1u64 << 61) - 1).to_be_bytes();
        let kernel = Kernel::new(&p).unwrap();
        let three = kernel.enter(&[3]).unwrap();
        let nine = kernel.leave(&kernel.mul(&three, &three));
        let mut want = [0u32; LIMBS];
        want[0] = 9;
        assert_eq!(*nine, want);
        // p − 1 = 2^61 − 2 as 16 nibbles: 1, f × 14, e.
        let mut exponent = vec![0xf; 16];
        exponent[0] = 1;
        exponent[15] = 0xe;
        let one = kernel.leave(&kernel.pow(&three, &exponent));
        want[0] = 1;
        assert_eq!(*one, want);
    }
}
