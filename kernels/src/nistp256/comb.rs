//! k·G in constant time, for ES256 signing (k is the secret nonce).
//!
//! ECDSA needs only the x of k·G, and x(−P) = x(P). So the comb multiplies an odd k′: k when
//! k is odd, else n − k (odd too, since n is odd, and k′·G = −k·G). An odd k′ below 2^256 has a
//! regular recoding (Joye and Tunstall 2009) with no zero digit:
//!
//! k′ = Σ_{i<51} dᵢ·32^i + 2^255, every dᵢ odd in [−31, 31]: with c = (k′ − 1)/2 and wᵢ the
//! bits 5i to 5i + 4 of c, dᵢ = 2·wᵢ − 31 (the bits of c say, one by one, whether a ±2^j is a
//! plus or a minus).
//!
//! Row i of the table holds 1·Bᵢ, 3·Bᵢ, …, 31·Bᵢ in affine form, Bᵢ = 32^i·G (51 rows, 59 KB;
//! built once per VM, when an ES256 signing key loads). k′·G is the entry row 0 picks, plus
//! one entry from each of rows 1 to 50, plus 2^255·G: 51 additions, no doubling. What keeps the
//! nonce secret:
//! - k′ and the digits come from the nonce's bits by arithmetic alone (no branch);
//! - each lookup reads every entry of its row through masks and negates y by a masked select;
//! - no digit is zero, so every addition is a real one: nothing is dropped or skipped;
//! - the additions are straight-line code on constant-time field arithmetic (`field`).
//!
//! The additions are the incomplete mixed Jacobian ones (8 products and 3 squares), whose
//! exceptional cases (adding a point to itself, to its opposite, or to the identity) cannot
//! arise here. After rows 0 to i − 1 the accumulator is m·G with m odd (so not the identity)
//! and |m| < 32^i; the entry added is d·32^i·G with 32^i ≤ |d|·32^i, and |m| + |d|·32^i <
//! 32^(i+1) ≤ 2^255 < n, so m ≢ ±d·32^i (mod n). The last addition, of 2^255·G to m·G with
//! |m| < 2^255, meets one: m = 2^255 − n, that is k′ = 2^256 − n (a nonce RFC 6979 draws with
//! probability 2^−256). The formulas then give (0 : 0 : 0), whose affine form (0, 0) fails
//! the on-curve check that every result passes before use, and the caller signs that
//! message with the crate: the same answer, by another route.
//!
//! The complete formulas this replaces (Renes–Costello–Batina, 11 products, 2 by b and 23
//! additions) needed a dummy addition for zero digits and cost about half as much again.

use std::sync::OnceLock;

use subtle::{Choice, ConditionallySelectable};
use zeroize::Zeroize;

use super::field::{Fe, N, ORDER_BE};
use super::point::{to_affine_batch, Affine, Jacobian};
use super::{on_curve, point_from_bytes, sub_be, GX, GY};

/// Bits per digit.
const WINDOW: usize = 5;
/// Rows with a secret digit: 51 × 5 = 255 bits of c; the 52nd digit is always 1.
const ROWS: usize = 51;
/// Entries per row: the odd multiples 1·Bᵢ … 31·Bᵢ.
const ENTRIES: usize = 1 << (WINDOW - 1);
type Row = [Packed; ENTRIES];

/// An affine entry with limb i of x and limb i of y side by side in one 64-bit word (each
/// limb holds 29 bits), so a masked lookup reads nine words per entry instead of eighteen.
#[derive(Clone, Copy, Debug)]
struct Packed([u64; N]);

impl Packed {
    fn new(p: &Affine) -> Self {
        let mut words = [0u64; N];
        for (i, word) in words.iter_mut().enumerate() {
            *word = u64::from(p.x.limb(i)) | u64::from(p.y.limb(i)) << 32;
        }
        Self(words)
    }

    fn unpack(words: &[u64; N]) -> Affine {
        let mut x = [0u32; N];
        let mut y = [0u32; N];
        for ((x, y), word) in x.iter_mut().zip(y.iter_mut()).zip(words) {
            *x = *word as u32;
            *y = (*word >> 32) as u32;
        }
        Affine {
            x: Fe::from_limbs(x),
            y: Fe::from_limbs(y),
        }
    }
}

/// The comb's rows and 2^255·G, built once per VM from public values (variable-time
/// arithmetic is fine there).
struct Table {
    rows: Vec<Row>,
    top: Affine,
}

/// Builds the table now if it is not built yet: called when an ES256 signing key loads, so the
/// first signature does not pay for it (about a millisecond in V8, once per VM).
pub fn prepare() {
    let _ = table();
}

fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE.get_or_init(build_table).as_ref()
}

fn build_table() -> Option<Table> {
    let g = point_from_bytes(&GX, &GY)?;
    // Bᵢ and 2·Bᵢ for every row, and 2^255·G.
    let mut bases = Vec::with_capacity(2 * ROWS + 1);
    let mut base = Jacobian::from_affine(&g);
    for _ in 0..ROWS {
        let twice = base.double();
        bases.extend([base, twice]);
        base = twice;
        for _ in 1..WINDOW {
            base = base.double();
        }
    }
    bases.push(base);
    let bases = to_affine_batch(&bases)?;
    let (top, pairs) = bases.split_last()?;
    let mut multiples = Vec::with_capacity(ROWS * ENTRIES);
    for pair in pairs.chunks_exact(2) {
        let [base, twice] = pair else { return None };
        let mut multiple = Jacobian::from_affine(base);
        multiples.push(multiple);
        while multiples.len() % ENTRIES != 0 {
            multiple = multiple.add_affine(twice);
            multiples.push(multiple);
        }
    }
    let rows = to_affine_batch(&multiples)?
        .chunks_exact(ENTRIES)
        .map(|row| Row::try_from(row.iter().map(Packed::new).collect::<Vec<_>>()).ok())
        .collect::<Option<Vec<Row>>>()?;
    Some(Table { rows, top: *top })
}

/// The affine x of k·G, big-endian, for a nonce k in [1, n − 1] given big-endian. `None` if
/// the table cannot be built or the result fails its on-curve check (see the module comment
/// for the one nonce where it does).
pub fn mul_generator_x(k: &[u8; 32]) -> Option<[u8; 32]> {
    let table = table()?;
    let mut digits = recode(k);
    let mut rows = table.rows.iter().zip(&digits);
    let (first_row, first_digit) = rows.next()?;
    let mut acc = Jacobian::from_affine(&lookup(first_row, *first_digit));
    for (row, digit) in rows {
        acc = add_affine(&acc, &lookup(row, *digit));
    }
    digits.zeroize();
    let point = to_affine(&add_affine(&acc, &table.top));
    on_curve(&point).then(|| point.x.to_be_bytes())
}

/// One digit dᵢ = 2·wᵢ − 31 as the lookup wants it: the entry index (|dᵢ| − 1)/2 and whether
/// dᵢ is negative (wᵢ below 16).
#[derive(Clone, Copy, Default)]
struct Digit {
    index: u8,
    negative: u8,
}

impl Zeroize for Digit {
    fn zeroize(&mut self) {
        self.index.zeroize();
        self.negative.zeroize();
    }
}

/// The digits of k′ (see the module comment), without a branch.
fn recode(k: &[u8; 32]) -> [Digit; ROWS] {
    let mut odd = odd_multiplier(k);
    // c = (k′ − 1)/2 = k′ >> 1 for an odd k′; a 34-byte buffer so every window's two bytes
    // exist.
    let mut c = [0u8; 34];
    for (i, byte) in c.iter_mut().take(32).enumerate() {
        let high = odd.get(i + 1).copied().unwrap_or(0);
        *byte = odd.get(i).copied().unwrap_or(0) >> 1 | high << 7;
    }
    odd.zeroize();
    let mut digits = [Digit::default(); ROWS];
    for (i, digit) in digits.iter_mut().enumerate() {
        // The window's bits, from the two bytes it spans (positions are public).
        let bit = i * WINDOW;
        let byte = |at: usize| u16::from(c.get(at).copied().unwrap_or(0));
        let two = byte(bit / 8) | byte(bit / 8 + 1) << 8;
        let w = (two >> (bit % 8) & 31) as u8;
        // w ≥ 16: d = 2(w − 16) + 1, index w − 16. w < 16: d = −(2(15 − w) + 1), index 15 − w.
        let negative = (w >> 4) ^ 1;
        *digit = Digit {
            index: (w & 15) ^ (negative * 15),
            negative,
        };
    }
    c.zeroize();
    digits
}

/// k when k is odd, else n − k, little-endian: a masked select on k's low bit.
fn odd_multiplier(k: &[u8; 32]) -> [u8; 32] {
    let (mut minus, _) = sub_be(&ORDER_BE, k);
    let even = Choice::from((k.last().copied().unwrap_or(0) & 1) ^ 1);
    let mut le = [0u8; 32];
    for ((out, &k), &m) in le.iter_mut().zip(k.iter().rev()).zip(minus.iter().rev()) {
        *out = u8::conditional_select(&k, &m, even);
    }
    minus.zeroize();
    le
}

/// dᵢ·Bᵢ for an odd digit. Every word of every entry is read through a mask, as the RSA
/// kernel's window lookup does, so the memory accessed never depends on the digit.
fn lookup(row: &Row, digit: Digit) -> Affine {
    let mut masks = [0u64; ENTRIES];
    for (mask, j) in masks.iter_mut().zip(0u64..) {
        // 1 exactly when index == j (the xor is below 16), then all ones.
        let equal = (u64::from(digit.index) ^ j).wrapping_sub(1) >> 63;
        *mask = equal.wrapping_neg();
    }
    // The barrier keeps the compiler from seeing that one mask is set and branching on it.
    let mut masks = core::hint::black_box(masks);
    let mut words = [0u64; N];
    for (limb, out) in words.iter_mut().enumerate() {
        for (entry, &mask) in row.iter().zip(&masks) {
            #[cfg(test)]
            tests::READS.with(|reads| reads.set(reads.get() + 1));
            *out |= entry.0.get(limb).copied().unwrap_or(0) & mask;
        }
    }
    masks.zeroize();
    let Affine { x, y } = Packed::unpack(&words);
    words.zeroize();
    let y = Fe::conditional_select(&y, &y.neg(), Choice::from(digit.negative));
    Affine { x, y }
}

/// P + Q for a Jacobian P and an affine Q with P ≠ ±Q and P finite ("madd-2004-hmv": 8
/// products, 3 squares), in constant time. Where P = Q it gives (0 : 0 : 0).
fn add_affine(p: &Jacobian, q: &Affine) -> Jacobian {
    let z1z1 = p.z.square();
    let h = q.x.mul(&z1z1).sub(&p.x); // U2 − X1
    let r = q.y.mul(&p.z.mul(&z1z1)).sub(&p.y); // S2 − Y1
    let hh = h.square();
    let hhh = hh.mul(&h);
    let v = p.x.mul(&hh);
    let x = r.square().sub(&hhh).sub(&v.double());
    let y = r.mul(&v.sub(&x)).sub(&p.y.mul(&hhh));
    Jacobian {
        x,
        y,
        z: p.z.mul(&h),
    }
}

/// (X/Z², Y/Z³) by one constant-time inversion; Z = 0 gives (0, 0), which is not on the
/// curve.
fn to_affine(p: &Jacobian) -> Affine {
    let z_inv = p.z.invert();
    let z_inv2 = z_inv.square();
    Affine {
        x: p.x.mul(&z_inv2),
        y: p.y.mul(&z_inv2.mul(&z_inv)),
    }
}

#[cfg(test)]
#[path = "comb_tests.rs"]
mod tests;
