//! Width-w non-adjacent form of a 128-bit scalar half: odd digits below 2^(w−1) in absolute
//! value, at least w − 1 zeros between two of them, so a w-wide table of odd multiples serves
//! about one addition per w + 1 bits. Public scalars only (its shape follows the value).

/// Digits per half: 128 bits plus room for the final carry of the widest window.
pub(super) const DIGITS: usize = 136;

/// Digits of `k`, least significant first: k = Σ digits[i]·2^i.
pub(super) fn wnaf(k: u128, width: u32) -> [i8; DIGITS] {
    let mut digits = [0i8; DIGITS];
    let full = 1u64 << width;
    let mask = full - 1;
    let (mut pos, mut carry) = (0usize, 0u64);
    while pos < DIGITS {
        // Bits past 128 are zero: they only absorb the carry.
        let bits = k.checked_shr(pos as u32).unwrap_or(0) as u64 & mask;
        let window = bits + carry;
        if window & 1 == 0 {
            // This bit is zero once the carry is in (1 + 1 carries on to the next bit).
            pos += 1;
            continue;
        }
        let digit = if window >= full >> 1 {
            carry = 1;
            window as i64 - full as i64
        } else {
            carry = 0;
            window as i64
        };
        if let Some(slot) = digits.get_mut(pos) {
            *slot = digit as i8;
        }
        pos += width as usize;
    }
    digits
}
