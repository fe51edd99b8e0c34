//! Double-double arithmetic: a number as the unevaluated sum `hi + lo` of two `f64`s, about
//! 106 bits of significand. Only what the one-sided Smirnov distribution (`kstwo.rs`)
//! needs, computed as the qd package's double-double routines compute it (which is what
//! scipy's `smirnov` uses), so that its sums of large powers keep scipy's precision.

use std::ops::{Add, Div, Mul, Neg, Sub};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Dd {
    pub hi: f64,
    pub lo: f64,
}

/// `a + b` and its rounding error, when `|a| ≥ |b|`.
fn quick_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a + b` and its rounding error.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let c = s - a;
    let d = b - c;
    let e = s - c;
    (s, (a - e) + d)
}

/// `a · b` and its rounding error (exact with a fused multiply-add).
fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// `2^e` for an exponent a normal `f64` can hold.
fn pow2(e: i32) -> f64 {
    debug_assert!((-1022..=1023).contains(&e));
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// C's `ldexp`: `x · 2^e`.
pub(crate) fn ldexp(mut x: f64, mut e: i32) -> f64 {
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

/// C's `frexp`: `x = m · 2^e` with `0.5 ≤ |m| < 1` (and `x` itself for 0, infinities, NaN).
pub(crate) fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // subnormal: scale into the normal range first
        let (m, e) = frexp(x * pow2(54));
        return (m, e - 54);
    }
    let mantissa = f64::from_bits((bits & !(0x7ff_u64 << 52)) | (1022_u64 << 52));
    (mantissa, biased - 1022)
}

impl Dd {
    pub fn new(hi: f64) -> Dd {
        Dd { hi, lo: 0.0 }
    }

    pub fn is_zero(self) -> bool {
        self.hi == 0.0 && self.lo == 0.0
    }

    pub fn floor(self) -> Dd {
        let hi = self.hi.floor();
        if hi == self.hi {
            // the high word is an integer already: round the low word
            let (hi, lo) = quick_two_sum(hi, self.lo.floor());
            Dd { hi, lo }
        } else {
            Dd { hi, lo: 0.0 }
        }
    }

    pub fn ldexp(self, e: i32) -> Dd {
        Dd { hi: ldexp(self.hi, e), lo: ldexp(self.lo, e) }
    }

    /// `self = m · 2^e` with `0.5 ≤ |m.hi| < 1` (or `|m.hi| = 1` with a low word of the other
    /// sign).
    pub fn frexp(self) -> (Dd, i32) {
        let (mut man, mut e) = frexp(self.hi);
        let mut lo = ldexp(self.lo, -e);
        if man.abs() == 0.5 && man * lo < 0.0 {
            man *= 2.0;
            lo *= 2.0;
            e -= 1;
        }
        (Dd { hi: man, lo }, e)
    }

    /// `self^m`: `pow` on the high word, corrected for the low word (scipy's `pow_D`).
    pub fn powi(self, m: i64) -> Dd {
        if m <= 0 {
            if m == 0 {
                return Dd::new(1.0);
            }
            return Dd::new(1.0) / self.powi(-m);
        }
        if self.is_zero() {
            return Dd::new(0.0);
        }
        let m = m as f64;
        let ans = self.hi.powf(m);
        let r = self.lo / self.hi;
        let mut adj = m * r;
        if adj.abs() > 1e-8 {
            if adj.abs() < 1e-4 {
                // the first two terms of the Taylor series of (1 + r)^m
                adj += (m * r) * ((m - 1.0) / 2.0 * r);
            } else {
                adj = (m * r.ln_1p()).exp_m1();
            }
        }
        Dd::new(ans) + ans * adj
    }
}

impl Neg for Dd {
    type Output = Dd;
    fn neg(self) -> Dd {
        Dd { hi: -self.hi, lo: -self.lo }
    }
}

impl Add for Dd {
    type Output = Dd;
    fn add(self, rhs: Dd) -> Dd {
        let (s1, s2) = two_sum(self.hi, rhs.hi);
        let (t1, t2) = two_sum(self.lo, rhs.lo);
        let (s1, s2) = quick_two_sum(s1, s2 + t1);
        let (hi, lo) = quick_two_sum(s1, s2 + t2);
        Dd { hi, lo }
    }
}

impl Add<f64> for Dd {
    type Output = Dd;
    fn add(self, rhs: f64) -> Dd {
        let (s1, s2) = two_sum(self.hi, rhs);
        let (hi, lo) = quick_two_sum(s1, s2 + self.lo);
        Dd { hi, lo }
    }
}

impl Sub for Dd {
    type Output = Dd;
    fn sub(self, rhs: Dd) -> Dd {
        self + (-rhs)
    }
}

impl Sub<f64> for Dd {
    type Output = Dd;
    fn sub(self, rhs: f64) -> Dd {
        let (s1, s2) = two_sum(self.hi, -rhs);
        let (hi, lo) = quick_two_sum(s1, s2 + self.lo);
        Dd { hi, lo }
    }
}

impl Mul for Dd {
    type Output = Dd;
    fn mul(self, rhs: Dd) -> Dd {
        let (p1, p2) = two_prod(self.hi, rhs.hi);
        let p2 = p2 + (self.hi * rhs.lo + self.lo * rhs.hi);
        let (hi, lo) = quick_two_sum(p1, p2);
        Dd { hi, lo }
    }
}

impl Mul<f64> for Dd {
    type Output = Dd;
    fn mul(self, rhs: f64) -> Dd {
        let (p1, e1) = two_prod(self.hi, rhs);
        let (p2, e2) = two_prod(self.lo, rhs);
        let (hi, lo) = quick_two_sum(p1, e2 + p2 + e1);
        Dd { hi, lo }
    }
}

impl Mul<Dd> for f64 {
    type Output = Dd;
    fn mul(self, rhs: Dd) -> Dd {
        let (p1, e1) = two_prod(self, rhs.hi);
        let (p2, e2) = two_prod(self, rhs.lo);
        let (hi, lo) = quick_two_sum(p1, e2 + p2 + e1);
        Dd { hi, lo }
    }
}

impl Div for Dd {
    type Output = Dd;
    fn div(self, rhs: Dd) -> Dd {
        let q1 = self.hi / rhs.hi;
        let r = self - rhs * q1;
        let q2 = r.hi / rhs.hi;
        let r = r - rhs * q2;
        let q3 = r.hi / rhs.hi;
        let (q1, q2) = quick_two_sum(q1, q2);
        Dd { hi: q1, lo: q2 } + q3
    }
}

impl Div<f64> for Dd {
    type Output = Dd;
    fn div(self, rhs: f64) -> Dd {
        self / Dd::new(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_and_ldexp_are_inverse() {
        for x in [1.0, 0.5, 3.75, -7.0e-300, 1.0e300, 4.9e-324, f64::MIN_POSITIVE] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m.abs()), "{x}: {m}");
            assert_eq!(ldexp(m, e), x);
        }
    }

    #[test]
    fn a_third_is_kept_to_twice_the_precision() {
        let third = Dd::new(1.0) / 3.0;
        let back = third * 3.0 - 1.0;
        assert!(back.hi.abs() < 1e-30, "{back:?}");
        let tenth = Dd::new(0.1);
        assert!(((tenth * tenth) - Dd::new(0.1) * 0.1).hi.abs() < 1e-32);
    }

    #[test]
    fn powers_keep_the_low_word() {
        // (1 + 2^-60)^(2^20) = 1 + 2^-40 + …: invisible to f64::powf of the high word alone
        let x = Dd { hi: 1.0, lo: ldexp(1.0, -60) };
        let p = x.powi(1 << 20);
        assert!((p.hi - 1.0 + (p.lo - ldexp(1.0, -40))).abs() < 1e-24, "{p:?}");
    }
}
