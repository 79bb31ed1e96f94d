//! k·G in constant time, for ES256 signing (k is the secret nonce).
//!
//! A fixed-base comb over signed radix-32 digits: k = Σ dᵢ·32^i with dᵢ in [−16, 16], and row
//! i of a table holds 1·32^i·G … 16·32^i·G in affine form (52 rows, 60 KB; built once per VM,
//! when an ES256 signing key loads). So k·G is 52 additions and no doubling. What keeps the
//! nonce secret:
//! - the digits come from the nonce's bits by arithmetic alone (no branch);
//! - each lookup reads every entry of its row through masks and negates y by a masked select;
//! - a zero digit adds 1·Bᵢ like any digit and a select drops the sum. Adding a placeholder
//!   (0, 0) instead took measurably different time: the dudect test (`es256_kg`, nonce 1
//!   against random nonces) gave |t| of 6 to 10 with it, and 1.4 to 2.2 with a genuine point;
//! - the additions are complete (Renes–Costello–Batina 2016, Algorithm 5 for a = −3): one
//!   formula for every accumulator, the identity, equal and opposite points included, so no
//!   case is tested;
//! - the field arithmetic is constant time (`field`).
//!
//! The only branch on the result is the last one: k·G must be on the curve, or the caller signs
//! with the crate instead (a fault never releases a signature made from a wrong point).

use std::sync::OnceLock;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::field::Fe;
use super::point::{to_affine_batch, Affine, Jacobian};
use super::{on_curve, point_from_bytes, B, GX, GY};

/// Bits per digit.
const WINDOW: usize = 5;
/// Signed digits of a 256-bit scalar. With 5-bit windows the top one holds one bit of the
/// scalar, so it never carries out: 52 digits cover it.
const DIGITS: usize = 256_usize.div_ceil(WINDOW);
/// Entries per row: 1·Bᵢ … 16·Bᵢ, where Bᵢ = 32^i·G.
const ENTRIES: usize = 1 << (WINDOW - 1);

type Row = [Affine; ENTRIES];

/// The comb's rows and the curve's b, built once per VM from public values (variable-time
/// arithmetic is fine there).
struct Table {
    rows: Vec<Row>,
    b: Fe,
}

/// Builds the table now if it is not built yet: called when an ES256 signing key loads, so the
/// first signature does not pay for it (about a millisecond in V8, once per VM).
pub(crate) fn prepare() {
    let _ = table();
}

fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE.get_or_init(build_table).as_ref()
}

fn build_table() -> Option<Table> {
    let g = point_from_bytes(&GX, &GY)?;
    let mut bases = Vec::with_capacity(DIGITS);
    let mut base = Jacobian::from_affine(&g);
    for _ in 0..DIGITS {
        bases.push(base);
        for _ in 0..WINDOW {
            base = base.double();
        }
    }
    let bases = to_affine_batch(&bases)?;
    let mut multiples = Vec::with_capacity(DIGITS * ENTRIES);
    for base in &bases {
        let mut multiple = Jacobian::from_affine(base);
        multiples.push(multiple);
        while multiples.len() % ENTRIES != 0 {
            multiple = multiple.add_affine(base);
            multiples.push(multiple);
        }
    }
    let rows = to_affine_batch(&multiples)?
        .chunks_exact(ENTRIES)
        .map(|row| Row::try_from(row).ok())
        .collect::<Option<Vec<Row>>>()?;
    Some(Table {
        rows,
        b: Fe::from_be_bytes(&B)?,
    })
}

/// The affine x of k·G, big-endian, for a nonce k in [1, n − 1] given big-endian. `None` if
/// the table cannot be built or the result fails its on-curve check.
pub(crate) fn mul_generator_x(k: &[u8; 32]) -> Option<[u8; 32]> {
    let table = table()?;
    let mut digits = recode(k);
    let mut acc = Projective::IDENTITY;
    for (row, &digit) in table.rows.iter().zip(&digits) {
        let (entry, is_zero) = lookup(row, digit);
        let sum = acc.add_affine(&entry, &table.b);
        acc = Projective::conditional_select(&sum, &acc, is_zero);
    }
    digits.zeroize();
    let point = acc.to_affine();
    on_curve(&point).then(|| point.x.to_be_bytes())
}

/// k = Σ dᵢ·32^i with dᵢ in [−16, 16], without a branch: a window (plus the carry in) above
/// 16 becomes itself minus 32 and carries one into the next digit. The top window holds k's
/// bit 255 alone, so it ends at most 2 and carries nothing out.
fn recode(k: &[u8; 32]) -> [i8; DIGITS] {
    let mut le = [0u8; 34];
    for (to, from) in le.iter_mut().zip(k.iter().rev()) {
        *to = *from;
    }
    let mut digits = [0i8; DIGITS];
    let mut carry = 0i16;
    for (i, digit) in digits.iter_mut().enumerate() {
        // The window's bits, from the two bytes it spans (positions are public).
        let bit = i * WINDOW;
        let byte = |at: usize| i16::from(le.get(at).copied().unwrap_or(0));
        let two = byte(bit / 8) | byte(bit / 8 + 1) << 8;
        let v = (two >> (bit % 8) & ((1 << WINDOW) - 1)) + carry; // 0..=32
        carry = (v + (1 << (WINDOW - 1)) - 1) >> WINDOW; // 1 exactly when v > 16
        *digit = (v - (carry << WINDOW)) as i8;
    }
    le.zeroize();
    digits
}

/// |digit|·Bᵢ with the digit's sign, and whether the digit is zero (then the entry is 1·Bᵢ, a
/// genuine point for an addition whose sum is dropped). Every limb of every entry is read
/// through a mask, as the RSA kernel's window lookup does, so the memory accessed never
/// depends on the digit.
fn lookup(row: &Row, digit: i8) -> (Affine, Choice) {
    let negative = (digit as u8) >> 7;
    let sign = -i16::from(negative);
    let magnitude = ((i16::from(digit) ^ sign) - sign) as u8;
    let is_zero = magnitude.ct_eq(&0);
    let wanted = u8::conditional_select(&magnitude, &1, is_zero);
    let mut masks = [0u32; ENTRIES];
    for (mask, j) in masks.iter_mut().zip(1u8..) {
        *mask = u32::conditional_select(&0, &u32::MAX, wanted.ct_eq(&j));
    }
    let mut x = [0u32; super::field::N];
    let mut y = [0u32; super::field::N];
    for (limb, (x_out, y_out)) in x.iter_mut().zip(y.iter_mut()).enumerate() {
        for (entry, &mask) in row.iter().zip(&masks) {
            #[cfg(test)]
            tests::READS.with(|reads| reads.set(reads.get() + 1));
            *x_out |= entry.x.limb(limb) & mask;
            *y_out |= entry.y.limb(limb) & mask;
        }
    }
    masks.zeroize();
    let (x, y) = (Fe::from_limbs(x), Fe::from_limbs(y));
    let y = Fe::conditional_select(&y, &y.neg(), Choice::from(negative));
    (Affine { x, y }, is_zero)
}

/// (X : Y : Z) for (X/Z, Y/Z); the identity is (0 : 1 : 0).
#[derive(Clone, Copy, Debug)]
struct Projective {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl ConditionallySelectable for Projective {
    fn conditional_select(a: &Self, b: &Self, choice: Choice) -> Self {
        Self {
            x: Fe::conditional_select(&a.x, &b.x, choice),
            y: Fe::conditional_select(&a.y, &b.y, choice),
            z: Fe::conditional_select(&a.z, &b.z, choice),
        }
    }
}

impl Projective {
    const IDENTITY: Self = Self {
        x: Fe::ZERO,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    /// self + q for a finite affine q and any self: Renes–Costello–Batina 2016, Algorithm 5
    /// (a = −3), 11 products and 2 by b. Complete: doubling, opposite points and the identity
    /// need no test. The step numbers are the paper's.
    fn add_affine(&self, q: &Affine, b: &Fe) -> Self {
        let (x1, y1, z1) = (self.x, self.y, self.z);
        let t0 = x1.mul(&q.x); // 1
        let t1 = y1.mul(&q.y); // 2
        let t3 = q.x.add(&q.y).mul(&x1.add(&y1)).sub(&t0.add(&t1)); // 3–7
        let t4 = q.y.mul(&z1).add(&y1); // 8, 9
        let y3 = q.x.mul(&z1).add(&x1); // 10, 11
        let x3 = y3.sub(&b.mul(&z1)); // 12, 13
        let x3 = x3.double().add(&x3); // 14, 15
        let z3 = t1.sub(&x3); // 16
        let x3 = t1.add(&x3); // 17
        let t2 = z1.double().add(&z1); // 19, 20
        let y3 = b.mul(&y3).sub(&t2).sub(&t0); // 18, 21, 22
        let y3 = y3.double().add(&y3); // 23, 24
        let t0 = t0.double().add(&t0).sub(&t2); // 25–27
        Self {
            x: t3.mul(&x3).sub(&t4.mul(&y3)), // 28, 32, 33
            y: x3.mul(&z3).add(&t0.mul(&y3)), // 29–31
            z: t4.mul(&z3).add(&t3.mul(&t0)), // 34–36
        }
    }

    /// (X/Z, Y/Z) by one constant-time inversion; the identity gives (0, 0), which is not on
    /// the curve.
    fn to_affine(self) -> Affine {
        let z_inv = self.z.invert();
        Affine {
            x: self.x.mul(&z_inv),
            y: self.y.mul(&z_inv),
        }
    }
}

#[cfg(test)]
#[path = "comb_tests.rs"]
mod tests;
