//! Small samplers over a seeded generator, shared by the worlds so each draws the same way:
//! a world's file says what it draws, never how.

use rand::Rng;

pub fn normal(rng: &mut impl Rng, mean: f64, sd: f64) -> f64 {
    // Box–Muller; 1 - u keeps the logarithm finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub fn lognormal(rng: &mut impl Rng, mu: f64, sigma: f64) -> f64 {
    normal(rng, mu, sigma).exp()
}

pub fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

pub fn exponential(rng: &mut impl Rng, mean: f64) -> f64 {
    -(1.0 - rng.random::<f64>()).ln() * mean
}

/// Knuth's method; fine for the small rates used here.
pub fn poisson(rng: &mut impl Rng, lambda: f64) -> i64 {
    let limit = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

pub fn bernoulli(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Picks an index by weight.
pub fn index(rng: &mut impl Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Picks an item by weight.
pub fn choice<'a, T>(rng: &mut impl Rng, items: &'a [T], weights: &[f64]) -> &'a T {
    debug_assert_eq!(items.len(), weights.len());
    &items[index(rng, weights)]
}

/// Picks an item, each as likely.
pub fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Beta(a, b) as X / (X + Y) of two gamma draws.
pub fn beta(rng: &mut impl Rng, a: f64, b: f64) -> f64 {
    let x = gamma(rng, a);
    let y = gamma(rng, b);
    x / (x + y)
}

/// Marsaglia–Tsang.
pub fn gamma(rng: &mut impl Rng, shape: f64) -> f64 {
    if shape < 1.0 {
        let u: f64 = 1.0 - rng.random::<f64>();
        return gamma(rng, shape + 1.0) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng, 0.0, 1.0);
        let v = (1.0 + c * x).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn samplers_have_the_right_means() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let mean = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / n as f64;
        assert!((mean(&mut || normal(&mut rng, 3.0, 2.0)) - 3.0).abs() < 0.05);
        assert!((mean(&mut || poisson(&mut rng, 1.6) as f64) - 1.6).abs() < 0.05);
        assert!((mean(&mut || exponential(&mut rng, 90.0)) - 90.0).abs() < 3.0);
        assert!((mean(&mut || uniform(&mut rng, 2.0, 4.0)) - 3.0).abs() < 0.05);
        assert!((mean(&mut || beta(&mut rng, 2.0, 8.0)) - 0.2).abs() < 0.01);
    }
}
