//! Small samplers over a seeded generator (normal, lognormal, Poisson, exponential, choice).

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

/// Picks an item by weight.
pub fn choice<'a, T>(rng: &mut impl Rng, items: &'a [T], weights: &[f64]) -> &'a T {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items.iter().zip(weights) {
        if x < *w {
            return item;
        }
        x -= w;
    }
    &items[items.len() - 1]
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
    }
}
