//! Which variant of a traffic plan a request gets: a unit's point in [0, 1) from a salted
//! SHA-256 of (salt, experiment, unit), the same on every server and every start; the
//! holdout takes the lowest `share` of points, the arms the rest by cumulative weight.
//! A request without a unit brings its own random point (the caller draws it): it is
//! assigned per request, and its answer says so.

use rein_system::traffic::{Arm, TrafficPlan};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How a request came to its variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// By its unit: the same unit gets the same variant for the whole experiment.
    Unit,
    /// By a draw of its own: it had no unit.
    PerRequest,
}

impl Assignment {
    pub fn as_str(self) -> &'static str {
        match self {
            Assignment::Unit => "unit",
            Assignment::PerRequest => "per_request",
        }
    }
}

/// What a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assigned {
    /// No ML: the component's fallback answers.
    Holdout,
    /// The plan's arm at this index (of [`TrafficPlan::arms`]).
    Arm(usize),
    /// The plan splits nothing: the champion answers, as variant `main`.
    Main,
}

/// A plan made ready for assignment: its cumulative thresholds computed once.
#[derive(Debug, Clone)]
pub struct Assigner {
    experiment: String,
    salt: String,
    holdout: f64,
    arms: Vec<Arm>,
    /// Upper bound of each arm's part of [0, 1), cumulative; the last is 1.
    bounds: Vec<f64>,
}

impl Assigner {
    /// For a plan whose [`TrafficPlan::problems`] are none.
    pub fn new(plan: &TrafficPlan) -> Self {
        let arms = plan.arms();
        let total: f64 = arms.iter().map(|a| a.weight.max(0.0)).sum();
        let mut bounds = Vec::with_capacity(arms.len());
        let mut cumulative = 0.0;
        for arm in &arms {
            cumulative += arm.weight.max(0.0);
            bounds.push(if total > 0.0 { cumulative / total } else { 1.0 });
        }
        if let Some(last) = bounds.last_mut() {
            *last = 1.0;
        }
        Self {
            experiment: plan.experiment.clone(),
            salt: plan.salt.clone(),
            holdout: plan.holdout.as_ref().map_or(0.0, |h| h.share),
            arms,
            bounds,
        }
    }

    pub fn arms(&self) -> &[Arm] {
        &self.arms
    }

    /// The unit's point in [0, 1) in this experiment under this salt.
    pub fn point(&self, unit: &str) -> f64 {
        unit_point(&self.salt, &self.experiment, unit)
    }

    /// What a point gets: the holdout below its share, then the arms in order, each over
    /// its weight's part of the rest (a zero-weight arm over none).
    pub fn at(&self, point: f64) -> Assigned {
        if point < self.holdout {
            return Assigned::Holdout;
        }
        if self.arms.is_empty() {
            return Assigned::Main;
        }
        let rest = (point - self.holdout) / (1.0 - self.holdout);
        let i = self.bounds.iter().position(|b| rest < *b).unwrap_or(self.bounds.len() - 1);
        // a zero-weight arm has an empty part: `rest < b` already skipped it unless it is
        // last, where rounding could land; give that point to the last arm with weight
        let i = (0..=i).rev().find(|&j| self.arms[j].weight > 0.0).unwrap_or(i);
        Assigned::Arm(i)
    }

    /// The request's assignment: by its unit when it has one, else by `draw` (a uniform
    /// random point in [0, 1) the caller made for this request).
    pub fn assign(&self, unit: Option<&str>, draw: impl FnOnce() -> f64) -> (Assigned, Assignment) {
        match unit {
            Some(unit) => (self.at(self.point(unit)), Assignment::Unit),
            None => (self.at(draw()), Assignment::PerRequest),
        }
    }
}

/// A point in [0, 1) from SHA-256 of the salt, the experiment and the unit, each
/// length-prefixed so that no two triples hash the same text: the top 53 bits of the digest.
pub fn unit_point(salt: &str, experiment: &str, unit: &str) -> f64 {
    let mut h = Sha256::new();
    for part in [salt, experiment, unit] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut top = [0u8; 8];
    top.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(top) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(weights: &[f64], holdout: Option<f64>, salt: &str) -> TrafficPlan {
        let split: Vec<serde_json::Value> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| serde_json::json!({"variant": format!("v{i}"), "version": format!("m{i}"), "weight": w}))
            .collect();
        let mut plan = serde_json::json!({"experiment": "exp", "salt": salt, "split": split});
        if let Some(share) = holdout {
            plan["holdout"] = serde_json::json!({ "share": share });
        }
        let plan: TrafficPlan = serde_json::from_value(plan).unwrap();
        assert_eq!(plan.problems(true), vec![]);
        plan
    }

    fn counts(a: &Assigner, units: usize) -> (usize, Vec<usize>) {
        let mut held = 0;
        let mut arms = vec![0; a.arms().len()];
        for u in 0..units {
            match a.at(a.point(&format!("user-{u}"))) {
                Assigned::Holdout => held += 1,
                Assigned::Arm(i) => arms[i] += 1,
                Assigned::Main => unreachable!("the plan has arms"),
            }
        }
        (held, arms)
    }

    #[test]
    fn the_same_unit_always_gets_the_same_variant() {
        let a = Assigner::new(&plan(&[50.0, 30.0, 20.0], Some(0.1), "s"));
        let again = Assigner::new(&plan(&[50.0, 30.0, 20.0], Some(0.1), "s"));
        for u in 0..2_000 {
            let unit = format!("user-{u}");
            let first = a.assign(Some(&unit), || unreachable!("a unit needs no draw"));
            assert_eq!(first.1, Assignment::Unit);
            for _ in 0..3 {
                assert_eq!(a.assign(Some(&unit), || 0.0), first);
            }
            assert_eq!(again.assign(Some(&unit), || 0.0), first, "another server assigns {unit} the same");
        }
        // pinned: the hash is SHA-256, not a hasher that changes between builds or runs
        assert_eq!(unit_point("s", "exp", "user-1"), unit_point("s", "exp", "user-1"));
        assert_ne!(unit_point("s", "exp", "user-1"), unit_point("s", "exp", "user-2"));
        assert_ne!(unit_point("se", "xp", "user-1"), unit_point("s", "exp", "user-1"));
    }

    /// Pearson's chi-squared statistic of observed counts against expected shares, and the
    /// bound it stays under with probability 1 - 1e-6 for `df` degrees of freedom
    /// (Wilson–Hilferty's approximation of the chi-squared quantile, z = 4.753).
    fn chi_squared(observed: &[usize], shares: &[f64]) -> (f64, f64) {
        let n: usize = observed.iter().sum();
        let stat = observed
            .iter()
            .zip(shares)
            .map(|(&o, &p)| {
                let e = n as f64 * p;
                (o as f64 - e).powi(2) / e
            })
            .sum();
        let df = (observed.len() - 1) as f64;
        let z = 4.753;
        let bound = df * (1.0 - 2.0 / (9.0 * df) + z * (2.0 / (9.0 * df)).sqrt()).powi(3);
        (stat, bound)
    }

    #[test]
    fn over_100000_units_the_shares_are_the_weights_within_statistical_bounds() {
        let a = Assigner::new(&plan(&[50.0, 30.0, 20.0], Some(0.05), "s"));
        let (held, arms) = counts(&a, 100_000);
        let observed = [held, arms[0], arms[1], arms[2]];
        let shares = [0.05, 0.95 * 0.5, 0.95 * 0.3, 0.95 * 0.2];
        let (stat, bound) = chi_squared(&observed, &shares);
        assert!(stat < bound, "chi-squared {stat:.2} over its 1e-6 bound {bound:.2}: {observed:?}");
        // and each share alone within 5 binomial standard deviations
        for (o, p) in observed.iter().zip(shares) {
            let sd = (100_000.0 * p * (1.0 - p)).sqrt();
            assert!((*o as f64 - 100_000.0 * p).abs() < 5.0 * sd, "{o} against {p}");
        }
        // a two-way 90/10 split too
        let a = Assigner::new(&plan(&[90.0, 10.0], None, "s"));
        let (held, arms) = counts(&a, 100_000);
        assert_eq!(held, 0);
        let (stat, bound) = chi_squared(&arms, &[0.9, 0.1]);
        assert!(stat < bound, "chi-squared {stat:.2} over {bound:.2}: {arms:?}");
    }

    #[test]
    fn a_new_salt_reshuffles_the_units() {
        let old = Assigner::new(&plan(&[50.0, 50.0], None, "first"));
        let new = Assigner::new(&plan(&[50.0, 50.0], None, "second"));
        let n = 100_000;
        let moved = (0..n)
            .filter(|u| {
                let unit = format!("user-{u}");
                old.at(old.point(&unit)) != new.at(new.point(&unit))
            })
            .count();
        // independent assignments disagree half the time: the count is Binomial(n, 0.5)
        let (mean, sd) = (n as f64 * 0.5, (n as f64 * 0.25).sqrt());
        assert!((moved as f64 - mean).abs() < 5.0 * sd, "{moved} of {n} moved; independent: {mean} ± {sd:.0}");
    }

    #[test]
    fn a_request_without_a_unit_is_assigned_by_its_draw() {
        let a = Assigner::new(&plan(&[50.0, 50.0], Some(0.1), "s"));
        assert_eq!(a.assign(None, || 0.05), (Assigned::Holdout, Assignment::PerRequest));
        assert_eq!(a.assign(None, || 0.2), (Assigned::Arm(0), Assignment::PerRequest));
        assert_eq!(a.assign(None, || 0.99), (Assigned::Arm(1), Assignment::PerRequest));
    }

    #[test]
    fn a_canary_keeps_its_units_as_it_steps_up_and_takes_all_at_100() {
        let canary = |step: usize| {
            let plan: TrafficPlan = serde_json::from_value(serde_json::json!({
                "experiment": "rollout", "canary": {"alias": "challenger", "steps": [5, 25, 100], "step": step}}))
            .unwrap();
            Assigner::new(&plan)
        };
        let (five, quarter, all) = (canary(0), canary(1), canary(2));
        let mut in_five = 0;
        for u in 0..20_000 {
            let p = five.point(&format!("user-{u}"));
            assert_eq!(p, quarter.point(&format!("user-{u}")));
            if five.at(p) == Assigned::Arm(0) {
                in_five += 1;
                assert_eq!(quarter.at(p), Assigned::Arm(0), "a unit in the canary at 5% stays in it at 25%");
            }
            assert_eq!(all.at(p), Assigned::Arm(0));
        }
        assert!((800..1200).contains(&in_five), "{in_five} of 20,000 at 5%");
        assert_eq!(five.arms()[0].variant, "canary");
        // no plan arms: the champion answers
        let plain: TrafficPlan = serde_json::from_value(serde_json::json!({"experiment": "e"})).unwrap();
        assert_eq!(Assigner::new(&plain).at(0.3), Assigned::Main);
    }
}
