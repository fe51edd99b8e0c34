//! The bootstrap's random numbers: xoshiro256++ seeded through SplitMix64, and Lemire's
//! unbiased bounded integers. Written out here, not taken from a crate, so that a seed
//! gives the same resamples in every version of rein, and so that the Python reference
//! (`tests/reference/make_reference.py`) can draw exactly the same ones.

/// The seeded generator every resample of rein draws from (the bootstrap here, the quality
/// and review intervals of rein-monitor): the same seed gives the same stream everywhere.
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// The four words of state are four steps of SplitMix64 from `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng { state: [next(), next(), next(), next()] }
    }

    /// xoshiro256++.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (n ≥ 1), without bias: Lemire's multiply-and-reject.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }

    /// Uniform in (0, 1), never 0 or 1: the top 53 bits, centred in their interval.
    #[cfg(test)]
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal deviate (Box–Muller, the cosine half): for the simulations of the
    /// tests, not for anything reported.
    #[cfg(test)]
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_fixed() {
        // pinned: a change here changes every seeded interval rein has reported
        let mut rng = Rng::new(0);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [0x53175d61490b23df, 0x61da6f3dc380d507, 0x5c0fdf91ec9a7bfc]);
        let mut rng = Rng::new(42);
        let draws: Vec<u64> = (0..2000).map(|_| rng.below(7)).collect();
        assert!(draws.iter().all(|&d| d < 7));
        for k in 0..7 {
            let share = draws.iter().filter(|&&d| d == k).count() as f64 / 2000.0;
            assert!((share - 1.0 / 7.0).abs() < 0.03, "{k}: {share}");
        }
    }
}
