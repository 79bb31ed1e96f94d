//! Constant-time Montgomery arithmetic modulo an odd number, tuned for wasm32 (the RSA
//! private-key operation in `crt` runs on it).
//!
//! Why not crypto-bigint (behind the `rsa` crate): wasm has no 64×64→128 multiply and V8 runs a
//! carry chain one step at a time, so word-sized limbs cost about 5 ms per RSA-2048 signature.
//! Here a limb holds 28 bits inside a `u64` accumulator. A column sums at most `2n + 1` products
//! below 2^56 (plus one carry below 2^36), which stays below 2^64 while `n ≤ MAX_LIMBS`, so the
//! inner loops propagate no carries at all ("lazy carries"). And with R = 2^(28n) > 4m, a product
//! of two values below 2m is again below 2m, so no conditional subtraction is needed between
//! multiplications (Walter's bound). Together this halves the cost of a signature in V8.
//!
//! Constant time: loops run over public lengths only, no branch or index depends on a value, and
//! the exponent window picks its table entry by masking over the whole table (`subtle`). The one
//! exception, `pow_public_vartime` (and the two functions built on it for verification), follows
//! its exponent's bits and takes the public RSA `e` only.
//! Secret limbs live in `Zeroizing` buffers.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize as _, Zeroizing};

/// Bits per limb.
const BITS: u32 = 28;
const MASK: u64 = (1 << BITS) - 1;
/// Most limbs a modulus may have: a column then holds at most 241 products below 2^56 plus a
/// carry below 2^36, under 2^64 (see the module comment).
const MAX_LIMBS: usize = 120;
/// Fixed exponent window, in bits (a table of 16 powers).
const WINDOW: u32 = 4;

/// Limbs of 28 bits, least significant first. Secret values are zeroized when dropped.
pub(crate) type Limbs = Zeroizing<Vec<u32>>;

fn zeros(n: usize) -> Limbs {
    Zeroizing::new(vec![0; n])
}

/// Number of limbs that hold `bits` bits.
pub(crate) fn limbs_for_bits(bits: usize) -> usize {
    bits.div_ceil(BITS as usize)
}

/// Big-endian bytes into `n` limbs; `None` when the value does not fit.
pub(crate) fn from_be_bytes(bytes: &[u8], n: usize) -> Option<Limbs> {
    let mut out = zeros(n);
    let (mut acc, mut filled, mut at) = (0u64, 0u32, 0usize);
    for &byte in bytes.iter().rev() {
        acc |= u64::from(byte) << filled;
        filled += 8;
        if filled >= BITS {
            put(&mut out, at, (acc & MASK) as u32)?;
            acc >>= BITS;
            filled -= BITS;
            at += 1;
        }
    }
    put(&mut out, at, acc as u32)?;
    Some(out)
}

/// Stores limb `at`; past the end only a zero fits (leading zero bytes are free).
fn put(out: &mut [u32], at: usize, limb: u32) -> Option<()> {
    match out.get_mut(at) {
        Some(slot) => *slot = limb,
        None if limb != 0 => return None,
        None => {}
    }
    Some(())
}

/// Limbs into exactly `len` big-endian bytes; `None` when the value does not fit.
pub(crate) fn to_be_bytes(limbs: &[u32], len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    let mut slots = out.iter_mut().rev();
    let (mut acc, mut filled) = (0u64, 0u32);
    for &limb in limbs {
        acc |= u64::from(limb) << filled;
        filled += BITS;
        while filled >= 8 {
            let byte = (acc & 0xff) as u8;
            match slots.next() {
                Some(slot) => *slot = byte,
                None if byte != 0 => return None,
                None => {}
            }
            acc >>= 8;
            filled -= 8;
        }
    }
    match slots.next() {
        Some(slot) => *slot = acc as u8,
        None if acc != 0 => return None,
        None => {}
    }
    Some(out)
}

/// Spreads carries so every limb is below 2^28 (callers size `out` so nothing carries out).
fn normalize(columns: &[u64], out: &mut [u32]) {
    let mut carry = 0u64;
    for (limb, &column) in out.iter_mut().zip(columns) {
        let sum = column + carry;
        *limb = (sum & MASK) as u32;
        carry = sum >> BITS;
    }
}

/// `a · b` as plain (not modular) limbs, `a.len() + b.len()` of them. Both operands must have at
/// most `MAX_LIMBS` limbs (column bound).
pub(crate) fn mul_plain(a: &[u32], b: &[u32]) -> Limbs {
    let mut columns = Zeroizing::new(vec![0u64; a.len() + b.len()]);
    for (i, &ai) in a.iter().enumerate() {
        let row = columns.get_mut(i..).unwrap_or_default();
        for (column, &bj) in row.iter_mut().zip(b) {
            *column += u64::from(ai) * u64::from(bj);
        }
    }
    let mut out = zeros(columns.len());
    normalize(&columns, &mut out);
    out
}

/// `a + b` for normalized limbs, `max(len) + 1` limbs long.
pub(crate) fn add_plain(a: &[u32], b: &[u32]) -> Limbs {
    let mut columns = Zeroizing::new(vec![0u64; a.len().max(b.len()) + 1]);
    for (column, &x) in columns.iter_mut().zip(a) {
        *column += u64::from(x);
    }
    for (column, &x) in columns.iter_mut().zip(b) {
        *column += u64::from(x);
    }
    let mut out = zeros(columns.len());
    normalize(&columns, &mut out);
    out
}

/// `a − k` for normalized limbs `a ≥ k`, same length; the borrow runs through every limb (no
/// early exit), since `a` may be secret (p − 1 of a prime).
pub(crate) fn sub_small(a: &[u32], k: u32) -> Limbs {
    let mut out = zeros(a.len());
    let mut borrow = -i64::from(k);
    for (o, &x) in out.iter_mut().zip(a) {
        let v = i64::from(x) + borrow;
        *o = (v & MASK as i64) as u32;
        borrow = v >> BITS;
    }
    out
}

/// `x mod m` for normalized limbs and `m > 0` of any parity (p − 1 of a prime), `m.len()` limbs
/// long. Bit-serial shift and subtract: every step shifts, subtracts and keeps one of the two
/// by a mask over every limb, so the work and the memory touched follow the operands' lengths
/// (public: the key's size), never their values. Key-load time only (d mod (p − 1)).
pub(crate) fn rem(x: &[u32], m: &[u32]) -> Limbs {
    // r < m before each shift, so 2r + 1 < 2m fits in one limb more than m.
    let mut r = zeros(m.len() + 1);
    let mut diff = zeros(m.len() + 1);
    for &limb in x.iter().rev() {
        for bit in (0..BITS).rev() {
            let mut carry = (limb >> bit) & 1;
            for slot in r.iter_mut() {
                let shifted = (*slot << 1) | carry;
                carry = shifted >> BITS;
                *slot = shifted & MASK as u32;
            }
            let mut borrow = 0i64;
            for (i, (d, &ri)) in diff.iter_mut().zip(r.iter()).enumerate() {
                let v = i64::from(ri) - i64::from(m.get(i).copied().unwrap_or(0)) + borrow;
                *d = (v & MASK as i64) as u32;
                borrow = v >> BITS;
            }
            // r − m borrowed (borrow = −1) exactly when r < m: then keep r.
            let keep_r = Choice::from((borrow & 1) as u8);
            for (slot, &d) in r.iter_mut().zip(diff.iter()) {
                slot.conditional_assign(&d, !keep_r);
            }
        }
    }
    r.truncate(m.len());
    r
}

/// a < b for normalized limbs of equal length, as a `Choice`: a borrow run through every limb.
pub(crate) fn less_than(a: &[u32], b: &[u32]) -> Choice {
    let mut borrow = 0i64;
    for (&x, &y) in a.iter().zip(b) {
        let v = i64::from(x) - i64::from(y) + borrow;
        borrow = v >> BITS;
    }
    Choice::from((borrow & 1) as u8)
}

/// A value modulo an `N`-limb modulus (zeroized on drop).
pub(crate) type Residue<const N: usize> = Zeroizing<[u32; N]>;

/// The first `N` limbs of `x`, zero-padded (callers pass values that fit).
pub(crate) fn residue<const N: usize>(x: &[u32]) -> Residue<N> {
    let mut out = Zeroizing::new([0u32; N]);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v;
    }
    out
}

/// An odd modulus of at most `N` limbs with its Montgomery constants (R = 2^(28N)). `N` is a
/// constant so the inner loops have a fixed trip count: V8 runs them about 30 % faster than
/// loops over slices. The modulus may be secret (an RSA prime): it is zeroized on drop like
/// everything derived from it.
pub(crate) struct Modulus<const N: usize> {
    m: Residue<N>,
    /// −m⁻¹ mod 2^28.
    minv: u64,
    /// R mod m: one in Montgomery form.
    one: Residue<N>,
    /// R^(k+2) mod m for k = 0, 1, …: `enter_mont` multiplies the k-th chunk of a wide value by it.
    r_powers: Vec<Residue<N>>,
}

impl<const N: usize> Drop for Modulus<N> {
    /// −m⁻¹ of a secret prime says something about the prime: wiped like the residues.
    fn drop(&mut self) {
        self.minv.zeroize();
    }
}

impl<const N: usize> Modulus<N> {
    /// From big-endian bytes. `wide_limbs` is the most limbs `enter_mont` will be given. `None`
    /// for an even modulus, one below 3, or one that needs more than `N` limbs (R > 4m).
    pub(crate) fn new(be: &[u8], wide_limbs: usize) -> Option<Self> {
        let bits = bit_length(be);
        if bits < 2 || limbs_for_bits(bits + 2) > N || N > MAX_LIMBS || be.last()? & 1 == 0 {
            return None;
        }
        let m = residue(&from_be_bytes(be, N)?);
        let minv = neg_inverse(u64::from(*m.first()?));
        let mut modulus = Self {
            m,
            minv,
            one: residue(&[]),
            r_powers: Vec::new(),
        };
        // R mod m, then R^2 mod m by doubling on from there.
        modulus.one = modulus.doubled(residue(&[1]), BITS as usize * N);
        let r2 = modulus.doubled(modulus.one.clone(), BITS as usize * N);
        let chunks = wide_limbs.div_ceil(N).max(1);
        let mut r_powers = vec![r2];
        while r_powers.len() < chunks {
            let last = r_powers.last()?;
            // R^(k+2)·R^2·R⁻¹ = R^(k+3)
            let next = modulus.reduce_once(&modulus.mul(last, r_powers.first()?));
            r_powers.push(next);
        }
        modulus.r_powers = r_powers;
        Some(modulus)
    }

    /// x·2^times mod m for x < m, by doubling with a masked subtraction (key-load time only).
    fn doubled(&self, mut x: Residue<N>, times: usize) -> Residue<N> {
        for _ in 0..times {
            x = self.reduce_once(&residue(&add_plain(x.as_slice(), x.as_slice())));
        }
        x
    }

    /// `x mod m` for normalized `x < 2m`, without branching on `x`.
    pub(crate) fn reduce_once(&self, x: &[u32; N]) -> Residue<N> {
        let mut diff = residue::<N>(&[]);
        let mut borrow = 0i64;
        for ((d, &xi), &mi) in diff.iter_mut().zip(x).zip(self.m.iter()) {
            let v = i64::from(xi) - i64::from(mi) + borrow;
            *d = (v & MASK as i64) as u32;
            borrow = v >> BITS;
        }
        // x < m exactly when the subtraction borrowed: then keep x.
        let keep_x = Choice::from((borrow & 1) as u8);
        for (d, &xi) in diff.iter_mut().zip(x) {
            d.conditional_assign(&xi, keep_x);
        }
        diff
    }

    /// a − b + 2m, for `a < 2m` and `b < m`: positive, below 4m, congruent to a − b. Lets a
    /// difference feed `mul` without a comparison.
    pub(crate) fn sub_lazy(&self, a: &[u32; N], b: &[u32; N]) -> Residue<N> {
        let mut out = residue::<N>(&[]);
        let mut carry = 0i64;
        for (((o, &x), &y), &m) in out.iter_mut().zip(a).zip(b).zip(self.m.iter()) {
            let v = i64::from(x) - i64::from(y) + 2 * i64::from(m) + carry;
            *o = (v & MASK as i64) as u32;
            carry = v >> BITS;
        }
        out
    }

    /// Montgomery product a·b·R⁻¹ mod m, below 2m when `a, b < 2m` (or `a < R`, `b < m`).
    pub(crate) fn mul(&self, a: &[u32; N], b: &[u32; N]) -> Residue<N> {
        let mut scratch = Zeroizing::new(vec![0u64; 2 * N]);
        let mut out = residue::<N>(&[]);
        self.mul_into(a, b, &mut scratch, &mut out);
        out
    }

    /// h·b·2^(−28L) mod m, below 2m, for a normalized `h` of L < N limbs and `b < m`: a
    /// Montgomery product whose short operand needs L reduction rows instead of N (h·b + u·m with
    /// u < 2^(28L) stays below 2·2^(28L)·m). A column takes at most 2L products, far under the
    /// bound. Used on public values only (a digest), one row per pass.
    pub(crate) fn mul_short(&self, h: &[u32], b: &[u32; N]) -> Residue<N> {
        let mut t = vec![0u64; N + h.len()];
        for (i, &hi) in h.iter().enumerate() {
            self.product_row(&mut t, i, u64::from(hi), b);
        }
        let mut out = residue::<N>(&[]);
        normalize(t.get(h.len()..).unwrap_or_default(), out.as_mut_slice());
        out
    }

    /// x·R mod m for any normalized `x` of up to `wide_limbs` limbs: its Montgomery form, below m.
    pub(crate) fn enter_mont(&self, x: &[u32]) -> Residue<N> {
        let mut sum = residue::<N>(&[]);
        for (chunk, r_power) in x.chunks(N).zip(&self.r_powers) {
            // chunk·R^(k+2)·R⁻¹ = chunk·R^(k+1): the chunk's weight R^k, times R.
            let term = self.reduce_once(&self.mul(&residue(chunk), r_power));
            sum = self.reduce_once(&residue(&add_plain(sum.as_slice(), term.as_slice())));
        }
        sum
    }

    /// From Montgomery form (any value below 2m) to the plain residue, below m.
    pub(crate) fn leave_mont(&self, x: &[u32; N]) -> Residue<N> {
        // x·1·R⁻¹ < x/R + m ≤ m: one subtraction at most.
        self.reduce_once(&self.mul(x, &residue(&[1])))
    }

    /// base^e in Montgomery form (below 2m), for `base` in Montgomery form below 2m. `nibbles`
    /// is the exponent, most significant 4 bits first; its length, not its value, sets the work.
    pub(crate) fn pow(&self, base: &[u32; N], nibbles: &[u8]) -> Residue<N> {
        let mut scratch = Zeroizing::new(vec![0u64; 2 * N]);
        let table = self.window_table(base, &mut scratch);
        let mut z = self.one.clone();
        let mut picked = residue::<N>(&[]);
        let mut tmp = residue::<N>(&[]);
        let mut digits = nibbles.iter();
        if let Some(&first) = digits.next() {
            select(&table, first, &mut z);
        }
        for &digit in digits {
            for _ in 0..WINDOW >> 1 {
                self.sqr_into(&z, &mut scratch, &mut tmp);
                self.sqr_into(&tmp, &mut scratch, &mut z);
            }
            select(&table, digit, &mut picked);
            self.mul_into(&z, &picked, &mut scratch, &mut tmp);
            std::mem::swap(&mut z, &mut tmp);
        }
        z
    }

    /// base^e in Montgomery form for a public exponent `e` (big-endian): square and multiply,
    /// whose running time follows `e`. Only for public exponents (the RSA `e`).
    pub(crate) fn pow_public_vartime(&self, base: &[u32; N], e: &[u8]) -> Residue<N> {
        let mut scratch = Zeroizing::new(vec![0u64; 2 * N]);
        let mut tmp = residue::<N>(&[]);
        // The top set bit makes z = base at once (one · one · base would cost a squaring and a
        // product: a tenth of an e = 65537 verification); leading zero bits are skipped.
        let Some(top) = bit_length(e).checked_sub(1) else {
            return self.one.clone();
        };
        let mut z = residue::<N>(base);
        for bit in (0..top).rev() {
            self.sqr_into(&z, &mut scratch, &mut tmp);
            std::mem::swap(&mut z, &mut tmp);
            let byte = e.get(e.len() - 1 - (bit >> 3)).copied().unwrap_or(0);
            if byte >> (bit & 7) & 1 == 1 {
                self.mul_into(&z, base, &mut scratch, &mut tmp);
                std::mem::swap(&mut z, &mut tmp);
            }
        }
        z
    }

    /// R^e mod m, for a public `e` (big-endian): the constant [`Self::pow_plain_public_vartime`]
    /// multiplies by.
    pub(crate) fn r_power_public(&self, e: &[u8]) -> Residue<N> {
        // R mod m is a plain value; entering it gives R in Montgomery form (R² mod m).
        let r = self.enter_mont(self.one.as_slice());
        self.leave_mont(&self.pow_public_vartime(&r, e))
    }

    /// base^e mod m (below m) for a plain `base < m` and a public `e`, given `r_to_e` = R^e mod m
    /// from [`Self::r_power_public`]. Square and multiply runs on the plain value: every
    /// Montgomery product divides by R, which leaves base^e·R^−(e−1) (by induction over the bits:
    /// a square takes s^a·R^−(a−1) to s^2a·R^−(2a−1), a product by s to s^(a+1)·R^−a), and one
    /// product by R^e gives base^e. One product instead of two (entering and leaving Montgomery
    /// form): about 7 % of an e = 65537 verification.
    pub(crate) fn pow_plain_public_vartime(
        &self,
        base: &[u32; N],
        e: &[u8],
        r_to_e: &[u32; N],
    ) -> Residue<N> {
        self.reduce_once(&self.mul(&self.pow_public_vartime(base, e), r_to_e))
    }

    /// base^0 … base^15.
    fn window_table(&self, base: &[u32; N], scratch: &mut [u64]) -> Zeroizing<Vec<[u32; N]>> {
        let mut table = Zeroizing::new(vec![*self.one; 1 << WINDOW]);
        let mut previous = self.one.clone();
        for row in table.iter_mut().skip(1) {
            self.mul_into(&previous, base, scratch, row);
            previous.copy_from_slice(row);
        }
        table
    }

    /// The `N`-column window of `t` that row `i` of a product adds into.
    fn row(t: &mut [u64], i: usize) -> Option<&mut [u64; N]> {
        t.get_mut(i..i + N).and_then(|r| r.try_into().ok())
    }

    /// Montgomery multiplication, operand scanning four rows at a time: one pass over the
    /// columns adds a_i·b … a_{i+3}·b and the reduction rows u_i·m … u_{i+3}·m, so each column is
    /// loaded and stored once per eight products instead of once per product (two rows per pass
    /// were 1.4× faster than one in V8, four another 2–4 % on RSA-2048 signing). No column
    /// carries until the final `normalize`. `N` not a multiple of four ends with a pair of rows
    /// and/or one row alone.
    fn mul_into(&self, a: &[u32; N], b: &[u32; N], t: &mut [u64], out: &mut [u32; N]) {
        t.fill(0);
        let mut quads = a.chunks_exact(4);
        for (i, quad) in (0..).step_by(4).zip(quads.by_ref()) {
            if let &[a0, a1, a2, a3] = quad {
                self.product_quad(t, i, [a0, a1, a2, a3].map(u64::from), b);
            }
        }
        let done = N - quads.remainder().len();
        let mut pairs = quads.remainder().chunks_exact(2);
        for (i, pair) in (done..).step_by(2).zip(pairs.by_ref()) {
            if let &[a0, a1] = pair {
                self.product_rows(t, i, u64::from(a0), u64::from(a1), b);
            }
        }
        if let &[last] = pairs.remainder() {
            self.product_row(t, N - 1, u64::from(last), b);
        }
        normalize(t.get(N..).unwrap_or_default(), out);
    }

    /// Montgomery squaring: first the square, each cross product a_i·a_j (i < j) once and
    /// doubled, four rows per pass, then the diagonal, then the reduction eight rows per pass (see
    /// `mul_into`); the last rows go in pairs and alone. A column's sum only grows towards the
    /// bound of the module comment. Four rows per pass instead of two took RSA-2048 verification
    /// from 68 to 59 µs in V8 and 73 to 63 µs in wasmtime (eight-row reductions then to 55 µs in
    /// V8), and RSA-2048 signing (37 limbs, one row per pass before) from 3.0 to 2.5 ms in V8 and
    /// 2.9 to 2.8 ms in wasmtime.
    fn sqr_into(&self, a: &[u32; N], t: &mut [u64], out: &mut [u32; N]) {
        t.fill(0);
        let mut i = 0;
        while i + 8 <= N {
            Self::cross_quad(t, a, i);
            i += 4;
        }
        for i in (i..N).step_by(2) {
            Self::cross_rows(t, a, i);
        }
        for (columns, &ak) in t.chunks_exact_mut(2).zip(a) {
            if let [even, _] = columns {
                *even += u64::from(ak) * u64::from(ak);
            }
        }
        let mut i = 0;
        while i + 8 <= N {
            self.reduction_octo(t, i);
            i += 8;
        }
        while i + 2 <= N {
            self.reduction_rows(t, i);
            i += 2;
        }
        if i < N {
            self.reduce_column(t, i);
        }
        normalize(t.get(N..).unwrap_or_default(), out);
    }

    /// u·m's quotient for a column: makes it a multiple of 2^28.
    #[inline(always)]
    fn quotient(&self, column: u64) -> u64 {
        ((column & MASK) * self.minv) & MASK
    }

    /// Row i of a product (x·b) and of its reduction, one row alone.
    #[inline(always)]
    fn product_row(&self, t: &mut [u64], i: usize, x: u64, b: &[u32; N]) {
        if let Some(row) = Self::row(t, i) {
            for (tj, &bj) in row.iter_mut().zip(b) {
                *tj += x * u64::from(bj);
            }
        }
        self.reduce_column(t, i);
    }

    /// Rows i and i+1 of a product (x0·b, x1·b) and of its reduction (u0·m, u1·m), in one pass
    /// over columns i..=i+N. The quotients come first: u0 from column i, u1 from column i+1 once
    /// x0·b1, x1·b0, u0·m1 and column i's high part are in it.
    #[inline(always)]
    fn product_rows(&self, t: &mut [u64], i: usize, x0: u64, x1: u64, b: &[u32; N]) {
        let (Some([w0, w1, mid @ .., last]), [b0, b1, b_rest @ ..], [m0, m1, m_rest @ ..]) =
            (t.get_mut(i..=i + N), b.as_slice(), self.m.as_slice())
        else {
            return;
        };
        let (b0, b1, m0, m1) = (
            u64::from(*b0),
            u64::from(*b1),
            u64::from(*m0),
            u64::from(*m1),
        );
        let c0 = *w0 + x0 * b0;
        let u0 = self.quotient(c0);
        let c1 = *w1 + x0 * b1 + x1 * b0 + u0 * m1 + ((c0 + u0 * m0) >> BITS);
        let u1 = self.quotient(c1);
        let (mut b_prev, mut m_prev) = (b1, m1);
        for ((tj, &bj), &mj) in mid.iter_mut().zip(b_rest).zip(m_rest) {
            let (bj, mj) = (u64::from(bj), u64::from(mj));
            *tj += x0 * bj + x1 * b_prev + u0 * mj + u1 * m_prev;
            (b_prev, m_prev) = (bj, mj);
        }
        *last += x1 * b_prev + u1 * m_prev;
        *mid.first_mut().unwrap_or(last) += (c1 + u1 * m0) >> BITS;
    }

    /// Rows i … i+3 of a product and of its reduction in one pass (see `product_rows`).
    #[inline(always)]
    fn product_quad(&self, t: &mut [u64], i: usize, x: [u64; 4], b: &[u32; N]) {
        let (
            Some([w0, w1, w2, w3, mid @ .., l0, l1, l2]),
            [b0, b1, b2, b3, b_rest @ ..],
            [m0, m1, m2, m3, m_rest @ ..],
        ) = (t.get_mut(i..=i + N + 2), b.as_slice(), self.m.as_slice())
        else {
            return;
        };
        let [x0, x1, x2, x3] = x;
        let [b0, b1, b2, b3] = [*b0, *b1, *b2, *b3].map(u64::from);
        let [m0, m1, m2, m3] = [*m0, *m1, *m2, *m3].map(u64::from);
        let c0 = *w0 + x0 * b0;
        let u0 = self.quotient(c0);
        let c1 = *w1 + x0 * b1 + x1 * b0 + u0 * m1 + ((c0 + u0 * m0) >> BITS);
        let u1 = self.quotient(c1);
        let c2 = *w2 + x0 * b2 + x1 * b1 + x2 * b0 + u0 * m2 + u1 * m1 + ((c1 + u1 * m0) >> BITS);
        let u2 = self.quotient(c2);
        let c3 = *w3
            + x0 * b3
            + x1 * b2
            + x2 * b1
            + x3 * b0
            + u0 * m3
            + u1 * m2
            + u2 * m1
            + ((c2 + u2 * m0) >> BITS);
        let u3 = self.quotient(c3);
        let (mut b1, mut b2, mut b3) = (b3, b2, b1);
        let (mut n1, mut n2, mut n3) = (m3, m2, m1);
        for ((tj, &bj), &mj) in mid.iter_mut().zip(b_rest).zip(m_rest) {
            let (bj, mj) = (u64::from(bj), u64::from(mj));
            *tj += x0 * bj + x1 * b1 + x2 * b2 + x3 * b3 + u0 * mj + u1 * n1 + u2 * n2 + u3 * n3;
            (b1, b2, b3) = (bj, b1, b2);
            (n1, n2, n3) = (mj, n1, n2);
        }
        *l0 += x1 * b1 + x2 * b2 + x3 * b3 + u1 * n1 + u2 * n2 + u3 * n3;
        *l1 += x2 * b1 + x3 * b2 + u2 * n1 + u3 * n2;
        *l2 += x3 * b1 + u3 * n1;
        *mid.first_mut().unwrap_or(l0) += (c3 + u3 * m0) >> BITS;
    }

    /// Reduction rows i and i+1 (u0·m, u1·m) in one pass over columns i..=i+N, as in
    /// `product_rows`.
    #[inline(always)]
    fn reduction_rows(&self, t: &mut [u64], i: usize) {
        let (Some([w0, w1, mid @ .., last]), [m0, m1, m_rest @ ..]) =
            (t.get_mut(i..=i + N), self.m.as_slice())
        else {
            return;
        };
        let (m0, m1) = (u64::from(*m0), u64::from(*m1));
        let c0 = *w0;
        let u0 = self.quotient(c0);
        let c1 = *w1 + u0 * m1 + ((c0 + u0 * m0) >> BITS);
        let u1 = self.quotient(c1);
        let mut m_prev = m1;
        for (tj, &mj) in mid.iter_mut().zip(m_rest) {
            let mj = u64::from(mj);
            *tj += u0 * mj + u1 * m_prev;
            m_prev = mj;
        }
        *last += u1 * m_prev;
        *mid.first_mut().unwrap_or(last) += (c1 + u1 * m0) >> BITS;
    }

    /// Reduction rows i … i+7 in one pass over columns i..=i+N+6 (see `reduction_rows`): the
    /// quotients come first, each from its column once the earlier rows' products and carry are
    /// in it. The eight quotients and seven trailing limbs of m fit V8's registers (a reduction
    /// has no second operand), so a column is loaded and stored once per eight products.
    /// RSA-2048 verification, whose squares are two-thirds reduction: 60 to 55 µs in V8.
    #[inline(always)]
    fn reduction_octo(&self, t: &mut [u64], i: usize) {
        let (
            Some([w0, w1, w2, w3, w4, w5, w6, w7, mid @ .., l0, l1, l2, l3, l4, l5, l6]),
            [m0, m1, m2, m3, m4, m5, m6, m7, m_rest @ ..],
        ) = (t.get_mut(i..=i + N + 6), self.m.as_slice())
        else {
            return;
        };
        let [m0, m1, m2, m3, m4, m5, m6, m7] =
            [*m0, *m1, *m2, *m3, *m4, *m5, *m6, *m7].map(u64::from);
        let c0 = *w0;
        let u0 = self.quotient(c0);
        let c1 = *w1 + u0 * m1 + ((c0 + u0 * m0) >> BITS);
        let u1 = self.quotient(c1);
        let c2 = *w2 + u0 * m2 + u1 * m1 + ((c1 + u1 * m0) >> BITS);
        let u2 = self.quotient(c2);
        let c3 = *w3 + u0 * m3 + u1 * m2 + u2 * m1 + ((c2 + u2 * m0) >> BITS);
        let u3 = self.quotient(c3);
        let c4 = *w4 + u0 * m4 + u1 * m3 + u2 * m2 + u3 * m1 + ((c3 + u3 * m0) >> BITS);
        let u4 = self.quotient(c4);
        let c5 = *w5 + u0 * m5 + u1 * m4 + u2 * m3 + u3 * m2 + u4 * m1 + ((c4 + u4 * m0) >> BITS);
        let u5 = self.quotient(c5);
        let c6 = *w6
            + u0 * m6
            + u1 * m5
            + u2 * m4
            + u3 * m3
            + u4 * m2
            + u5 * m1
            + ((c5 + u5 * m0) >> BITS);
        let u6 = self.quotient(c6);
        let c7 = *w7
            + u0 * m7
            + u1 * m6
            + u2 * m5
            + u3 * m4
            + u4 * m3
            + u5 * m2
            + u6 * m1
            + ((c6 + u6 * m0) >> BITS);
        let u7 = self.quotient(c7);
        let (mut p1, mut p2, mut p3, mut p4, mut p5, mut p6, mut p7) = (m7, m6, m5, m4, m3, m2, m1);
        for (tj, &mj) in mid.iter_mut().zip(m_rest) {
            let mj = u64::from(mj);
            *tj += u0 * mj + u1 * p1 + u2 * p2 + u3 * p3 + u4 * p4 + u5 * p5 + u6 * p6 + u7 * p7;
            (p1, p2, p3, p4, p5, p6, p7) = (mj, p1, p2, p3, p4, p5, p6);
        }
        *l0 += u1 * p1 + u2 * p2 + u3 * p3 + u4 * p4 + u5 * p5 + u6 * p6 + u7 * p7;
        *l1 += u2 * p1 + u3 * p2 + u4 * p3 + u5 * p4 + u6 * p5 + u7 * p6;
        *l2 += u3 * p1 + u4 * p2 + u5 * p3 + u6 * p4 + u7 * p5;
        *l3 += u4 * p1 + u5 * p2 + u6 * p3 + u7 * p4;
        *l4 += u5 * p1 + u6 * p2 + u7 * p3;
        *l5 += u6 * p1 + u7 * p2;
        *l6 += u7 * p1;
        *mid.first_mut().unwrap_or(l0) += (c7 + u7 * m0) >> BITS;
    }

    /// The doubled cross products of rows i … i+3 of a square, for `i + 8 <= N` (see
    /// `cross_rows`): columns 2i+1 … 2i+6 take the rows that reach them, columns 2i+7 … i+N−1
    /// one product from each row, and i+N … i+N+2 the last ones of rows i+1 … i+3.
    #[inline(always)]
    fn cross_quad(t: &mut [u64], a: &[u32; N], i: usize) {
        let (
            Some([c1, c2, c3, c4, c5, c6, mid @ .., l0, l1, l2]),
            Some([_, a1, a2, a3, a4, a5, a6, tail @ ..]),
        ) = (t.get_mut(2 * i + 1..=i + N + 2), a.get(i..))
        else {
            return;
        };
        let [a1, a2, a3, a4, a5, a6] = [*a1, *a2, *a3, *a4, *a5, *a6].map(u64::from);
        let Some(&[x0, x1, x2, x3]) = a.get(i..i + 4) else {
            return;
        };
        let [x0, x1, x2, x3] = [x0, x1, x2, x3].map(|x| u64::from(x) << 1);
        *c1 += x0 * a1;
        *c2 += x0 * a2;
        *c3 += x0 * a3 + x1 * a2;
        *c4 += x0 * a4 + x1 * a3;
        *c5 += x0 * a5 + x1 * a4 + x2 * a3;
        *c6 += x0 * a6 + x1 * a5 + x2 * a4;
        let (mut p1, mut p2, mut p3) = (a6, a5, a4);
        for (column, &aj) in mid.iter_mut().zip(tail) {
            let aj = u64::from(aj);
            *column += x0 * aj + x1 * p1 + x2 * p2 + x3 * p3;
            (p1, p2, p3) = (aj, p1, p2);
        }
        *l0 += x1 * p1 + x2 * p2 + x3 * p3;
        *l1 += x2 * p1 + x3 * p2;
        *l2 += x3 * p1;
    }

    /// The doubled cross products of rows i and i+1 of a square (a_i·a_j for j > i, a_{i+1}·a_j
    /// for j > i+1): column 2i+1 gets 2·a_i·a_{i+1}, 2i+2 gets 2·a_i·a_{i+2}, each column up to
    /// i+N−1 one product from each row, column i+N the last of row i+1.
    #[inline(always)]
    fn cross_rows(t: &mut [u64], a: &[u32; N], i: usize) {
        match a.get(i..) {
            Some(&[ai, ai1, ai2, ref tail @ ..]) => {
                let Some([c1, c2, mid @ .., last]) = t.get_mut(2 * i + 1..=i + N) else {
                    return;
                };
                let (x0, x1, ai2) = (u64::from(ai) << 1, u64::from(ai1) << 1, u64::from(ai2));
                *c1 += x0 * u64::from(ai1);
                *c2 += x0 * ai2;
                let mut prev = ai2;
                for (column, &aj) in mid.iter_mut().zip(tail) {
                    let aj = u64::from(aj);
                    *column += x0 * aj + x1 * prev;
                    prev = aj;
                }
                *last += x1 * prev;
            }
            Some(&[ai, ai1]) => {
                if let Some(column) = t.get_mut(2 * i + 1) {
                    *column += (u64::from(ai) << 1) * u64::from(ai1);
                }
            }
            _ => {}
        }
    }

    /// Adds u·m at column i so that column becomes a multiple of 2^28, and moves its high part
    /// to column i+1.
    #[inline(always)]
    fn reduce_column(&self, t: &mut [u64], i: usize) {
        let Some(row) = Self::row(t, i) else {
            return;
        };
        let u = self.quotient(row.first().copied().unwrap_or(0));
        for (tj, &mj) in row.iter_mut().zip(self.m.iter()) {
            *tj += u * u64::from(mj);
        }
        let carry = row.first().copied().unwrap_or(0) >> BITS;
        if let Some(next) = t.get_mut(i + 1) {
            *next += carry;
        }
    }
}

/// Copies entry `index` of `table` into `out`, reading every entry the same way. Limb by limb
/// across the table: each output limb is one pass of AND/OR over the 16 masks, about twice as
/// fast in V8 as masking entry by entry.
pub(crate) fn select<const N: usize>(table: &[[u32; N]], index: u8, out: &mut [u32; N]) {
    let mut masks = [0u32; 1 << WINDOW];
    for (k, mask) in (0u8..).zip(masks.iter_mut()) {
        *mask = u32::conditional_select(&0, &u32::MAX, k.ct_eq(&index));
    }
    for (j, limb) in out.iter_mut().enumerate() {
        *limb = table.iter().zip(&masks).fold(0, |acc, (entry, &mask)| {
            #[cfg(test)]
            tests::READS.with(|reads| reads.set(reads.get() + 1));
            acc | (entry.get(j).copied().unwrap_or(0) & mask)
        });
    }
    // The masks spell out the (secret) exponent nibble.
    masks.zeroize();
}

/// −m0⁻¹ mod 2^28 for odd m0 (Newton: each step doubles the correct low bits).
fn neg_inverse(m0: u64) -> u64 {
    let mut inv: u64 = 1;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(m0.wrapping_mul(inv)));
    }
    inv.wrapping_neg() & MASK
}

/// Bits in a big-endian number, leading zeros ignored.
pub(crate) fn bit_length(be: &[u8]) -> usize {
    let Some(first) = be.iter().position(|b| *b != 0) else {
        return 0;
    };
    let top = be.get(first).copied().unwrap_or(0);
    (be.len() - first - 1) * 8 + (8 - top.leading_zeros() as usize)
}

/// The exponent `limbs` as `count` nibbles, most significant first (`count` is public and fixed
/// per key, so every exponent of that key costs the same).
#[allow(
    clippy::integer_division_remainder_used,
    reason = "divides the public nibble index by a constant, never a secret"
)]
pub(crate) fn nibbles(limbs: &[u32], count: usize) -> Zeroizing<Vec<u8>> {
    let per_limb = (BITS / WINDOW) as usize;
    let mut out = Zeroizing::new(vec![0u8; count]);
    for (k, slot) in out.iter_mut().rev().enumerate() {
        let limb = limbs.get(k / per_limb).copied().unwrap_or(0);
        *slot = ((limb >> (WINDOW as usize * (k % per_limb))) & 0xf) as u8;
    }
    out
}

/// Nibbles needed for an exponent of `bits` bits.
pub(crate) fn nibble_count(bits: usize) -> usize {
    bits.div_ceil(WINDOW as usize)
}

#[cfg(test)]
#[allow(clippy::integer_division_remainder_used)]
mod tests {
    use super::*;
    use num_bigint::BigUint;
    use std::cell::Cell;

    thread_local! {
        /// Table limbs `select` has read (counted in test builds only).
        pub(super) static READS: Cell<usize> = const { Cell::new(0) };
    }

    /// The window lookup reads every limb of every entry whatever the index, and still picks
    /// the right entry: a plain `table[index]` (whose memory access follows the secret nibble)
    /// reads one entry and fails here.
    #[test]
    fn select_reads_every_entry_for_every_index() {
        const N: usize = 5;
        let table: Vec<[u32; N]> = (0u32..16).map(|k| [k, k + 100, k * 7, 3, k ^ 9]).collect();
        for index in 0u8..16 {
            READS.with(|reads| reads.set(0));
            let mut out = [0u32; N];
            select(&table, index, &mut out);
            assert_eq!(out, table[usize::from(index)], "index {index}");
            assert_eq!(READS.with(Cell::get), 16 * N, "index {index}");
        }
    }

    /// Deterministic xorshift, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }

        /// A random value below `m`.
        fn below(&mut self, m: &BigUint) -> BigUint {
            BigUint::from_bytes_be(&self.bytes(m.to_bytes_be().len() + 8)) % m
        }

        /// A random odd modulus of exactly `bits` bits.
        fn odd(&mut self, bits: usize) -> BigUint {
            let value = BigUint::from_bytes_be(&self.bytes(bits.div_ceil(8)))
                >> (bits.div_ceil(8) * 8 - bits);
            value | BigUint::from(1u8) | (BigUint::from(1u8) << (bits - 1))
        }
    }

    fn limbs(x: &BigUint, n: usize) -> Limbs {
        from_be_bytes(&x.to_bytes_be(), n).unwrap()
    }

    fn big(limbs: &[u32]) -> BigUint {
        BigUint::from_bytes_be(&to_be_bytes(limbs, limbs.len() * 4).unwrap())
    }

    fn r<const N: usize>() -> BigUint {
        BigUint::from(1u8) << (28 * N)
    }

    fn modulus<const N: usize>(m: &BigUint, wide: usize) -> Modulus<N> {
        Modulus::<N>::new(&m.to_bytes_be(), wide).unwrap()
    }

    /// x^e mod m through the kernel: enter_mont, pow, leave_mont.
    fn kernel_pow<const N: usize>(md: &Modulus<N>, x: &BigUint, e: &BigUint) -> BigUint {
        let count = nibble_count(e.bits() as usize);
        let digits = nibbles(&limbs(e, limbs_for_bits(count * 4)), count);
        big(md
            .leave_mont(&md.pow(&md.enter_mont(&limbs(x, N * 3)), &digits))
            .as_slice())
    }

    /// Moduli at the edges of what an `N`-limb kernel takes: the largest (all ones, 28N−2
    /// bits: the column and R > 4m bounds are tightest), tiny ones, and random sizes.
    fn moduli<const N: usize>(rng: &mut Rng) -> Vec<BigUint> {
        let largest = (BigUint::from(1u8) << (28 * N - 2)) - 1u8;
        vec![
            largest,
            BigUint::from(3u8),
            rng.odd(65),
            rng.odd(28 * N - 2),
            rng.odd(28 * N - 30),
        ]
    }

    fn pow_matches_num_bigint<const N: usize>(seed: u64) {
        let mut rng = Rng(seed);
        for m in moduli::<N>(&mut rng) {
            let md = modulus::<N>(&m, 3 * N);
            let edge_bases = [BigUint::from(0u8), BigUint::from(1u8), &m - 1u8];
            let random: Vec<BigUint> = (0..3).map(|_| rng.below(&m)).collect();
            for (k, x) in edge_bases.into_iter().chain(random).enumerate() {
                // Short random exponents keep debug builds quick; one full-width one per modulus.
                let e_bits = if k == 0 {
                    m.bits() as usize
                } else {
                    8 + (rng.next() % 120) as usize
                };
                let e = rng.odd(e_bits.max(2)) - 1u8;
                assert_eq!(
                    kernel_pow(&md, &x, &e),
                    x.modpow(&e, &m),
                    "x^e mod m, m = {m:x}"
                );
            }
        }
    }

    #[test]
    fn pow_matches_num_bigint_for_every_kernel_size() {
        pow_matches_num_bigint::<37>(1);
        pow_matches_num_bigint::<55>(2);
        pow_matches_num_bigint::<74>(3);
    }

    /// `rem` against num-bigint: even and odd moduli, dividends shorter and longer than the
    /// modulus, and the edges (x = 0, x = m, x = m − 1, x = k·m, an all-ones dividend).
    #[test]
    fn rem_matches_num_bigint() {
        let mut rng = Rng(0x0005_eed0_f2e3);
        for (x_bits, m_bits) in [
            (2048, 1024),
            (2047, 1023),
            (4096, 2048),
            (6144, 3072),
            (60, 200),
            (300, 29),
            (56, 28),
        ] {
            let x_limbs = limbs_for_bits(x_bits);
            for even in [false, true] {
                let mut m = rng.odd(m_bits);
                if even {
                    m -= 1u8;
                }
                let m_limbs = limbs_for_bits(m_bits);
                let all_ones = (BigUint::from(1u8) << x_bits) - 1u8;
                let random = rng.below(&(BigUint::from(1u8) << x_bits));
                for x in [
                    BigUint::from(0u8),
                    m.clone(),
                    &m - 1u8,
                    &m * 3u8,
                    all_ones,
                    random,
                ] {
                    if x.bits() as usize > x_limbs * BITS as usize {
                        continue;
                    }
                    let got = rem(&limbs(&x, x_limbs), &limbs(&m, m_limbs));
                    assert_eq!(got.len(), m_limbs);
                    assert_eq!(
                        big(&got),
                        &x % &m,
                        "{x_bits} mod {m_bits} bits, even {even}"
                    );
                }
            }
        }
    }

    #[test]
    fn pow_of_zero_exponent_is_one() {
        let m = Rng(4).odd(1000);
        let md = modulus::<37>(&m, 37);
        let x = limbs(&BigUint::from(12345u32), 37);
        let one = md.leave_mont(&md.pow(&md.enter_mont(&x), &[0, 0, 0]));
        assert_eq!(big(one.as_slice()), BigUint::from(1u8));
        let empty = md.leave_mont(&md.pow(&md.enter_mont(&x), &[]));
        assert_eq!(big(empty.as_slice()), BigUint::from(1u8));
    }

    /// Largest modulus and largest inputs (2m − 1): debug builds trap on any u64 overflow.
    fn stays_below_twice_m_at_the_bound<const N: usize>() {
        let m = (BigUint::from(1u8) << (28 * N - 2)) - 1u8;
        let md = modulus::<N>(&m, N);
        let a = residue::<N>(&limbs(&(&m * 2u8 - 1u8), N));
        let r_inv = r::<N>().modinv(&m).unwrap();
        let want = (big(a.as_slice()) * big(a.as_slice()) * &r_inv) % &m;
        let product = md.mul(&a, &a);
        assert!(big(product.as_slice()) < &m * 2u8);
        assert_eq!(big(product.as_slice()) % &m, want);
        let mut scratch = vec![0u64; 2 * N];
        let mut squared = [0u32; N];
        md.sqr_into(&a, &mut scratch, &mut squared);
        assert!(big(&squared) < &m * 2u8);
        assert_eq!(big(&squared) % &m, want);
    }

    #[test]
    fn mul_and_sqr_stay_below_twice_m_at_the_bound() {
        // Passes take four rows, then a pair and/or a row alone: sizes of every remainder
        // modulo 4 (37, 55, 74 and 110 are the kernel's; 5 to 12 also have no or one four-row
        // pass of cross products).
        stays_below_twice_m_at_the_bound::<5>();
        stays_below_twice_m_at_the_bound::<6>();
        stays_below_twice_m_at_the_bound::<7>();
        stays_below_twice_m_at_the_bound::<8>();
        stays_below_twice_m_at_the_bound::<9>();
        stays_below_twice_m_at_the_bound::<12>();
        stays_below_twice_m_at_the_bound::<37>();
        stays_below_twice_m_at_the_bound::<55>();
        stays_below_twice_m_at_the_bound::<74>();
        stays_below_twice_m_at_the_bound::<110>();
    }

    /// Squaring and multiplying a value by itself add the same products into every column, in
    /// another order and grouping: the results are equal limb for limb, and equal to
    /// a·b·R⁻¹ mod m (below 2m) for a ≠ b.
    fn sqr_is_mul_by_itself<const N: usize>(seed: u64) {
        let mut rng = Rng(seed);
        let r_inv_of = |m: &BigUint| r::<N>().modinv(m).unwrap();
        for m in moduli::<N>(&mut rng) {
            let md = modulus::<N>(&m, N);
            let r_inv = r_inv_of(&m);
            let twice = &m * 2u8;
            let edges = [
                BigUint::from(0u8),
                BigUint::from(1u8),
                &m - 1u8,
                &twice - 1u8,
            ];
            let randoms: Vec<BigUint> = (0..8).map(|_| rng.below(&twice)).collect();
            for x in edges.iter().chain(&randoms) {
                let a = residue::<N>(&limbs(x, N));
                let mut scratch = vec![0u64; 2 * N];
                let mut squared = [0u32; N];
                md.sqr_into(&a, &mut scratch, &mut squared);
                assert_eq!(squared, *md.mul(&a, &a), "N = {N}, x = {x}");
                let y = rng.below(&twice);
                let b = residue::<N>(&limbs(&y, N));
                let product = big(md.mul(&a, &b).as_slice());
                assert!(product < twice);
                assert_eq!(product % &m, (x * &y * &r_inv) % &m, "N = {N}");
            }
        }
    }

    /// The short product h·b·2^(−28L) mod m, below 2m, for digests of 10, 14 and 19 limbs,
    /// h = 0, 1, all ones and random, on the two verification sizes.
    fn mul_short_matches_num_bigint<const N: usize>(seed: u64) {
        let mut rng = Rng(seed);
        for m in moduli::<N>(&mut rng) {
            let md = modulus::<N>(&m, N);
            for l in [10usize, 14, 19] {
                let unit = BigUint::from(1u8) << (28 * l);
                let inv = unit.modinv(&m).unwrap();
                for h in [
                    BigUint::from(0u8),
                    BigUint::from(1u8),
                    &unit - 1u8,
                    BigUint::from_bytes_be(&rng.bytes(l * 28 / 8)),
                ] {
                    let b = rng.below(&m);
                    let got = big(md
                        .mul_short(&limbs(&h, l), &residue::<N>(&limbs(&b, N)))
                        .as_slice());
                    assert!(got < &m * 2u8, "N = {N}, L = {l}");
                    assert_eq!(got % &m, (&h * &b * &inv) % &m, "N = {N}, L = {l}");
                }
            }
        }
    }

    #[test]
    fn mul_short_agrees_with_num_bigint() {
        mul_short_matches_num_bigint::<74>(21);
        mul_short_matches_num_bigint::<110>(22);
    }

    #[test]
    fn sqr_and_mul_agree_with_num_bigint_for_every_size() {
        for (seed, check) in [
            sqr_is_mul_by_itself::<5> as fn(u64),
            sqr_is_mul_by_itself::<6>,
            sqr_is_mul_by_itself::<7>,
            sqr_is_mul_by_itself::<8>,
            sqr_is_mul_by_itself::<9>,
            sqr_is_mul_by_itself::<10>,
            sqr_is_mul_by_itself::<11>,
            sqr_is_mul_by_itself::<12>,
        ]
        .into_iter()
        .enumerate()
        {
            check(seed as u64 + 100);
        }
        sqr_is_mul_by_itself::<37>(11);
        sqr_is_mul_by_itself::<55>(12);
        sqr_is_mul_by_itself::<74>(13);
        sqr_is_mul_by_itself::<110>(14);
    }

    #[test]
    fn to_mont_reduces_wide_values_and_from_mont_undoes_it() {
        let mut rng = Rng(5);
        let m = rng.odd(1024);
        let md = modulus::<37>(&m, 3 * 37);
        for len in [1usize, 36, 37, 38, 74, 111] {
            let x = BigUint::from_bytes_be(&rng.bytes(len * 28 / 8));
            let mont = md.enter_mont(&limbs(&x, len.max(37)));
            assert_eq!(big(mont.as_slice()), (&x * r::<37>()) % &m, "{len} limbs");
            assert_eq!(big(md.leave_mont(&mont).as_slice()), &x % &m);
        }
    }

    #[test]
    fn pow_public_matches_num_bigint() {
        let mut rng = Rng(6);
        let m = rng.odd(2048);
        let md = modulus::<74>(&m, 74);
        for e in [0u32, 1, 2, 3, 17, 65537, 0x8000_0001, u32::MAX] {
            let x = rng.below(&m);
            let e_be = e.to_be_bytes();
            let got = md.leave_mont(&md.pow_public_vartime(&md.enter_mont(&limbs(&x, 74)), &e_be));
            assert_eq!(big(got.as_slice()), x.modpow(&BigUint::from(e), &m));
        }
    }

    /// On the plain value with R^e at the end: the same powers, for exponents of every shape
    /// (the top bit alone, even, odd, long) and bases at the edges. Leaving out the product by
    /// R^e fails every case with e > 1 and a non-zero base.
    #[test]
    fn pow_plain_public_matches_num_bigint() {
        let mut rng = Rng(9);
        for bits in [1031usize, 2048, 2070] {
            let m = rng.odd(bits);
            let md = modulus::<74>(&m, 74);
            let long_e = rng.bytes(40);
            let exponents: [&[u8]; 8] = [
                &[1],
                &[2],
                &[3],
                &[0, 0, 1, 0, 1],
                &[0x80, 0, 0, 0],
                &[0xff, 0xff, 0xff, 0xff],
                &[0x01, 0x00, 0x00, 0x00, 0x00, 0x01],
                &long_e,
            ];
            for e in exponents {
                let r_to_e = md.r_power_public(e);
                let e_big = BigUint::from_bytes_be(e);
                for x in [
                    BigUint::from(0u8),
                    BigUint::from(1u8),
                    &m - 1u8,
                    rng.below(&m),
                ] {
                    let got = md.pow_plain_public_vartime(&residue(&limbs(&x, 74)), e, &r_to_e);
                    assert_eq!(
                        big(got.as_slice()),
                        x.modpow(&e_big, &m),
                        "{bits} bits, e {e:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn sub_lazy_is_congruent_and_positive() {
        let mut rng = Rng(7);
        let m = rng.odd(1030);
        let md = modulus::<37>(&m, 37);
        for _ in 0..20 {
            let a = rng.below(&(&m * 2u8));
            let b = rng.below(&m);
            let d = md.sub_lazy(&residue(&limbs(&a, 37)), &residue(&limbs(&b, 37)));
            assert_eq!(big(d.as_slice()), &a + &m * 2u8 - &b);
        }
    }

    #[test]
    fn plain_arithmetic_matches_num_bigint() {
        let mut rng = Rng(8);
        for _ in 0..20 {
            let a = BigUint::from_bytes_be(&rng.bytes(128));
            let b = BigUint::from_bytes_be(&rng.bytes(100));
            assert_eq!(big(&mul_plain(&limbs(&a, 37), &limbs(&b, 30))), &a * &b);
            assert_eq!(big(&add_plain(&limbs(&a, 37), &limbs(&b, 30))), &a + &b);
        }
    }

    #[test]
    fn byte_conversions_round_trip_and_refuse_overflow() {
        let bytes = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xff];
        let l = from_be_bytes(&bytes, 3).unwrap();
        assert_eq!(to_be_bytes(&l, 9).unwrap().as_slice(), bytes);
        assert_eq!(to_be_bytes(&l, 12).unwrap().as_slice()[3..], bytes);
        assert!(to_be_bytes(&l, 8).is_none(), "does not fit in 8 bytes");
        assert!(
            from_be_bytes(&bytes, 2).is_none(),
            "72 bits do not fit in 56"
        );
        assert!(
            from_be_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 1], 1).is_some(),
            "leading zeros are free"
        );
    }

    #[test]
    fn modulus_refuses_even_tiny_and_oversized_values() {
        assert!(Modulus::<37>::new(&[0x10], 37).is_none(), "even");
        assert!(Modulus::<37>::new(&[1], 37).is_none(), "one");
        assert!(Modulus::<37>::new(&[], 37).is_none(), "empty");
        let too_wide: BigUint = (BigUint::from(1u8) << (28 * 37 - 1)) - 1u8;
        assert!(
            Modulus::<37>::new(&too_wide.to_bytes_be(), 37).is_none(),
            "R > 4m fails"
        );
        assert!(
            Modulus::<55>::new(&too_wide.to_bytes_be(), 37).is_some(),
            "a wider kernel takes it"
        );
    }

    #[test]
    fn nibbles_read_the_exponent_most_significant_first() {
        let e = from_be_bytes(&[0x12, 0x34, 0x56, 0x78, 0x9a], 2).unwrap();
        assert_eq!(nibbles(&e, 10).as_slice(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa]);
        assert_eq!(
            nibbles(&e, 12).as_slice(),
            [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa]
        );
    }
}
