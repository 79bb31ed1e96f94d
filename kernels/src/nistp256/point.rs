//! P-256 points for verification: affine table entries, a Jacobian accumulator, and tables of
//! odd multiples. Formulas for a = −3 (Bernstein–Lange, "dbl-2001-b" and "madd-2007-bl"). They
//! are not complete: the addition checks its exceptional cases (equal or opposite points, the
//! point at infinity) by branching, which is allowed since every value here is public.

use super::field::Fe;

/// A finite point (x, y) on the curve.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Affine {
    pub(super) x: Fe,
    pub(super) y: Fe,
}

impl Affine {
    /// −P.
    pub(super) fn neg(&self) -> Self {
        Self {
            x: self.x,
            y: self.y.neg_vartime(),
        }
    }
}

/// (X, Y, Z) for (X/Z², Y/Z³); Z = 0 is the point at infinity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Jacobian {
    pub(super) x: Fe,
    pub(super) y: Fe,
    pub(super) z: Fe,
}

impl Jacobian {
    pub(super) const INFINITY: Self = Self {
        x: Fe::ONE,
        y: Fe::ONE,
        z: Fe::ZERO,
    };

    pub(super) fn from_affine(p: &Affine) -> Self {
        Self {
            x: p.x,
            y: p.y,
            z: Fe::ONE,
        }
    }

    pub(super) fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// 2P: 3M + 5S.
    pub(super) fn double(&self) -> Self {
        if self.is_infinity() {
            return *self;
        }
        let delta = self.z.square_vartime();
        let gamma = self.y.square_vartime();
        let beta = self.x.mul_vartime(&gamma);
        let t = self
            .x
            .sub_vartime(&delta)
            .mul_vartime(&self.x.add_vartime(&delta));
        let alpha = t.double_vartime().add_vartime(&t);
        let beta4 = beta.double_vartime().double_vartime();
        let x3 = alpha.square_vartime().sub_vartime(&beta4.double_vartime());
        let z3 = self
            .y
            .add_vartime(&self.z)
            .square_vartime()
            .sub_vartime(&gamma)
            .sub_vartime(&delta);
        let gamma_sq8 = gamma
            .square_vartime()
            .double_vartime()
            .double_vartime()
            .double_vartime();
        let y3 = alpha
            .mul_vartime(&beta4.sub_vartime(&x3))
            .sub_vartime(&gamma_sq8);
        Self {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// P + Q for an affine Q: 7M + 4S, or a doubling when P = Q.
    pub(super) fn add_affine(&self, q: &Affine) -> Self {
        if self.is_infinity() {
            return Self::from_affine(q);
        }
        let z1z1 = self.z.square_vartime();
        let u2 = q.x.mul_vartime(&z1z1);
        let s2 = q.y.mul_vartime(&self.z).mul_vartime(&z1z1);
        let h = u2.sub_vartime(&self.x);
        let r_half = s2.sub_vartime(&self.y);
        if h.is_zero() {
            // Same x: P = Q (double) or P = −Q (infinity).
            return if r_half.is_zero() {
                self.double()
            } else {
                Self::INFINITY
            };
        }
        let hh = h.square_vartime();
        let i = hh.double_vartime().double_vartime();
        let j = h.mul_vartime(&i);
        let r = r_half.double_vartime();
        let v = self.x.mul_vartime(&i);
        let x3 = r
            .square_vartime()
            .sub_vartime(&j)
            .sub_vartime(&v.double_vartime());
        let y3 = r
            .mul_vartime(&v.sub_vartime(&x3))
            .sub_vartime(&self.y.mul_vartime(&j).double_vartime());
        let z3 = self
            .z
            .add_vartime(&h)
            .square_vartime()
            .sub_vartime(&z1z1)
            .sub_vartime(&hh);
        Self {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// Affine forms of finite Jacobian points with one inversion (Montgomery's trick); `None` if
/// one of them is the point at infinity.
pub(super) fn to_affine_batch(points: &[Jacobian]) -> Option<Vec<Affine>> {
    if points.iter().any(Jacobian::is_infinity) {
        return None;
    }
    // prefix[k] = z_0 · … · z_k
    let mut prefix = Vec::with_capacity(points.len());
    let mut running = Fe::ONE;
    for p in points {
        running = running.mul_vartime(&p.z);
        prefix.push(running);
    }
    let mut inverse = running.invert();
    let mut out = vec![
        Affine {
            x: Fe::ZERO,
            y: Fe::ZERO
        };
        points.len()
    ];
    for (k, (p, slot)) in points.iter().zip(out.iter_mut()).enumerate().rev() {
        // inverse = (z_0 · … · z_k)⁻¹: times the prefix before k gives z_k⁻¹.
        let before = k.checked_sub(1).and_then(|b| prefix.get(b)).copied();
        let z_inv = before.map_or(inverse, |b| inverse.mul_vartime(&b));
        inverse = inverse.mul_vartime(&p.z);
        let z_inv2 = z_inv.square_vartime();
        *slot = Affine {
            x: p.x.mul_vartime(&z_inv2),
            y: p.y.mul_vartime(&z_inv2).mul_vartime(&z_inv),
        };
    }
    Some(out)
}

/// P, 3P, 5P, …, (2^(w−1) − 1)·P: the entries a width-`w` NAF digit picks.
#[derive(Clone)]
pub(super) struct OddMultiples(Vec<Affine>);

impl OddMultiples {
    pub(super) fn new(p: &Affine, width: u32) -> Option<Self> {
        let count = 1usize << (width - 2);
        let twice = to_affine_batch(&[Jacobian::from_affine(p).double()])?;
        let twice = twice.first()?;
        let mut jacobian = Vec::with_capacity(count);
        let mut acc = Jacobian::from_affine(p);
        jacobian.push(acc);
        while jacobian.len() < count {
            acc = acc.add_affine(twice);
            jacobian.push(acc);
        }
        to_affine_batch(&jacobian).map(Self)
    }

    /// digit·P for an odd digit with |digit| < 2^(w−1).
    pub(super) fn get(&self, digit: i8) -> Option<Affine> {
        let entry = self.0.get(usize::from(digit.unsigned_abs() >> 1))?;
        Some(if digit < 0 { entry.neg() } else { *entry })
    }
}

/// 2^k·P in affine form.
pub(super) fn times_power_of_two(p: &Affine, k: u32) -> Option<Affine> {
    let mut acc = Jacobian::from_affine(p);
    for _ in 0..k {
        acc = acc.double();
    }
    to_affine_batch(&[acc])?.first().copied()
}
