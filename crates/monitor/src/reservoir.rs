//! A bounded, seeded, uniform sample of a stream of numbers: what KS and Wasserstein are
//! computed on, so that their cost does not grow with the window.

/// Values kept per column, in a profile and in a current sample, unless told otherwise.
///
/// What it means: the normalized Wasserstein distance between two samples of 10,000 drawn
/// from one distribution is about 0.02 (0.04 at worst in 50 draws of a normal, an
/// exponential and a lognormal), against a drift threshold of 0.1: a true distance within
/// a few hundredths of 0.1 may be decided either way, where Evidently, on every row, would
/// not waver. A KS p-value on two such samples is the p-value of 5,000 rows
/// (`n·m/(n+m)`), not of the whole window: it still sees a gap of 0.02 between the CDFs
/// (p < 0.05), and no longer calls drift on every difference too small to matter, as a
/// p-value on a million rows does. Where a test decides (at most 1,000 rows on a side) the
/// smaller side is whole. Sorting 10,000 values and walking both CDFs takes about a
/// millisecond a column; a profile holds ~300 KB of JSON a numeric column.
pub const DEFAULT_SAMPLE_SIZE: usize = 10_000;

/// A uniform sample of at most `capacity` of the values pushed: every value seen has the
/// same chance to be in it (Li's Algorithm L, which draws random numbers only for the
/// values it takes: O(k·log(n/k)) of them for n values). The same seed and the same values
/// in the same order give the same sample.
#[derive(Debug, Clone)]
pub struct Reservoir {
    capacity: usize,
    values: Vec<f64>,
    seen: u64,
    /// The index of the next value to take, once the reservoir is full.
    next: u64,
    w: f64,
    rng: Rng,
}

impl Reservoir {
    /// `capacity` ≥ 1.
    pub fn new(capacity: usize, seed: u64) -> Reservoir {
        let capacity = capacity.max(1);
        Reservoir { capacity, values: Vec::new(), seen: 0, next: 0, w: 1.0, rng: Rng::new(seed) }
    }

    pub fn push(&mut self, value: f64) {
        let index = self.seen;
        self.seen += 1;
        if self.values.len() < self.capacity {
            self.values.push(value);
            if self.values.len() == self.capacity {
                self.w = (self.rng.open_unit().ln() / self.capacity as f64).exp();
                self.next = index + self.skip() + 1;
            }
            return;
        }
        if index == self.next {
            let slot = self.rng.below(self.capacity as u64) as usize;
            self.values[slot] = value;
            self.w *= (self.rng.open_unit().ln() / self.capacity as f64).exp();
            self.next = index.saturating_add(self.skip()).saturating_add(1);
        }
    }

    fn skip(&mut self) -> u64 {
        let skip = (self.rng.open_unit().ln() / (1.0 - self.w).ln()).floor();
        if skip.is_finite() && skip >= 0.0 { skip.min(u64::MAX as f64 / 2.0) as u64 } else { 0 }
    }

    /// How many values were pushed.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    pub fn into_values(self) -> Vec<f64> {
        self.values
    }
}

/// xoshiro256++ seeded through SplitMix64 (as `rein-stats`' bootstrap), and Lemire's
/// unbiased bounded integers.
#[derive(Debug, Clone)]
struct Rng {
    state: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Rng {
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

    fn next_u64(&mut self) -> u64 {
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

    /// Uniform in (0, 1), never 0 (its logarithm is taken).
    fn open_unit(&mut self) -> f64 {
        loop {
            let u = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
            if u > 0.0 {
                return u;
            }
        }
    }

    /// Uniform in `0..n` (n ≥ 1).
    fn below(&mut self, n: u64) -> u64 {
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as u64
    }
}

/// A seed for column `name` from a profile's seed: each column its own stream, the same
/// whatever order the columns are read in.
pub fn column_seed(seed: u64, name: &str) -> u64 {
    // FNV-1a of the name, mixed with the seed
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    seed ^ hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_stream_is_kept_whole() {
        let mut r = Reservoir::new(10, 1);
        for i in 0..7 {
            r.push(f64::from(i));
        }
        assert_eq!(r.values(), &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(r.seen(), 7);
    }

    #[test]
    fn every_value_has_the_same_chance() {
        // 2,000 streams of 100 values into reservoirs of 10: each value kept ~200 times
        let mut kept = [0u32; 100];
        for seed in 0..2000 {
            let mut r = Reservoir::new(10, seed);
            for i in 0..100 {
                r.push(f64::from(i));
            }
            assert_eq!(r.values().len(), 10);
            for v in r.values() {
                kept[*v as usize] += 1;
            }
        }
        for (i, k) in kept.iter().enumerate() {
            assert!((140..=260).contains(k), "value {i} kept {k} times of an expected 200");
        }
        let first_half: u32 = kept[..50].iter().sum();
        assert!((9_500..=10_500).contains(&first_half), "{first_half}");
    }

    #[test]
    fn the_same_seed_keeps_the_same_values() {
        let sample = |seed| {
            let mut r = Reservoir::new(50, seed);
            (0..100_000).for_each(|i| r.push(f64::from(i)));
            r.into_values()
        };
        assert_eq!(sample(7), sample(7));
        assert_ne!(sample(7), sample(8));
        let mean = sample(7).iter().sum::<f64>() / 50.0;
        assert!((mean - 50_000.0).abs() < 12_000.0, "{mean}");
    }
}
