//! Peeking without paying for it: the mixture sequential probability ratio test (mSPRT) of
//! Johari, Koomen, Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of
//! A/B Tests" (Operations Research, 2022), the test behind Optimizely's Stats Engine and
//! Statsig's sequential testing.
//!
//! A fixed-horizon test looked at every window and stopped at the first p < α rejects a
//! true null far more often than α (a quarter of the time over twenty looks at α = 0.05,
//! in this module's tests).
//! The mSPRT's p-value is *always valid*: the chance that it ever falls to α, at any
//! window, however many, is at most α; its confidence sequence covers the true difference
//! at every window at once with probability 1 − α.
//!
//! **The statistic.** At a window the experiment's data so far give the difference
//! `d = variant − control` and its variance `V` (the squared unpooled standard error of a
//! [`Comparison`]: `s_v²/n_v + s_c²/n_c`, or `p(1−p)/n` an arm for rates). `d` is about
//! normal with mean θ, the true difference. Against θ = 0, the likelihood ratio averaged
//! over θ ~ N(0, τ²), the *mixing distribution*, has the closed form
//!
//! ```text
//! Λ = √(V / (V + τ²)) · exp( τ² d² / (2 V (V + τ²)) )
//! ```
//!
//! (Johari et al.'s two-stream normal case, where `V = 2σ²/n`; computed as its
//! logarithm). Λ is a nonnegative martingale under θ = 0, so by Ville's inequality
//! `P(Λ ever ≥ 1/α) ≤ α`: the always-valid p-value is `min(1, 1/Λ)` at its lowest so far,
//! and the confidence sequence is `{θ₀ : Λ(d − θ₀) < 1/α}`,
//!
//! ```text
//! d ± √( V (V + τ²) / τ² · (2 ln(1/α) + ln(1 + τ²/V)) )
//! ```
//!
//! intersected with every earlier window's. The two agree: 0 lies outside the sequence
//! exactly when the p-value is at most α.
//!
//! **The mixing variance τ²** says which effects the test looks for: it is most sensitive
//! to differences of about τ. Johari et al. choose it from the effects earlier experiments
//! saw; without that history, [`Msprt::for_horizon`] chooses the τ² that makes the
//! confidence sequence narrowest at a planned size: with `V_N` the variance of `d` expected
//! there (`σ_c²/N_c + σ_v²/N_v`), the half-width² over `V_N` is
//! `(1 + 1/r)(2 ln(1/α) + ln(1 + r))` with `r = τ²/V_N`, least where
//! `r = 2 ln(1/α) + ln(1 + r)`: τ² ≈ 8.2 V_N at α = 0.05. (Howard et al.'s
//! `2 ln(1/α) + ln(1 + 2 ln(1/α))`, which GrowthBook's sequential tuning parameter uses, is
//! the first step of that fixed point.) Any τ² gives a valid test; a poor one only costs
//! power, early or late. It must be fixed before the first window: an [`Msprt`] refuses a
//! state another τ² or α began.
//!
//! **What the caller keeps.** The running minimum and intersection make the test
//! stateful: each window, hand [`Msprt::update`] the previous window's
//! [`SequentialState`] (or [`Msprt::start`]) and the comparison of the **cumulative** data
//! since the experiment began (not the window's alone), and keep the new state.
//!
//! **Assumptions.** The normal approximation of `d`, with `V` estimated from the data (the
//! plug-in the paper and its users make): valid as the arms grow, poor at a handful of
//! units, where an underestimated variance would make a spurious Λ that the running
//! minimum never forgets. So a window counts only when each arm has
//! [`Msprt::min_samples`] units (100 by default) and `V > 0`; before that the p-value stays
//! 1 and the sequence unbounded.

use crate::compare::Comparison;
use crate::interval::Interval;
use crate::{StatsError, check_confidence};

/// The mSPRT's fixed design: its level, its mixing variance, and the arm size from which a
/// window counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Msprt {
    /// The always-valid p-value rejects at `p ≤ alpha`; the sequence covers at `1 − alpha`.
    pub alpha: f64,
    /// τ², in the squared units of the difference.
    pub mixing_variance: f64,
    /// Units each arm needs before a window counts.
    pub min_samples: u64,
}

/// What an mSPRT carries from one window to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialState {
    /// The design the sequence began with (an [`Msprt`] with another refuses it).
    pub alpha: f64,
    pub mixing_variance: f64,
    /// Windows counted so far.
    pub windows: u64,
    /// The always-valid p-value: `min(1, 1/Λ)` at its lowest so far (1 at the start).
    pub p_value: f64,
    /// The confidence sequence: every counted window's interval intersected (−∞ and ∞ at
    /// the start).
    pub lower: f64,
    pub upper: f64,
}

/// One window's sequential result, with the fixed-horizon comparison beside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialResult {
    /// The fixed-horizon comparison of the same data: valid at one planned look only.
    pub fixed: Comparison,
    /// Whether this window counted: each arm had [`Msprt::min_samples`] units, and the
    /// difference a variance above 0. If not, the state is as it was.
    pub counted: bool,
    /// ln Λ of this window, when it counted.
    pub log_likelihood_ratio: Option<f64>,
    /// The always-valid p-value.
    pub p_value: f64,
    /// The confidence sequence: this window's difference, and the running intersection
    /// at `1 − alpha`.
    pub confidence_sequence: Interval,
    /// The state to hand to the next window.
    pub state: SequentialState,
    /// The arm size a window needed to count.
    pub min_samples: u64,
}

impl SequentialResult {
    /// Whether the always-valid p-value is at most α (so the sequence excludes 0).
    pub fn significant(&self) -> bool {
        self.p_value <= self.state.alpha
    }

    /// Whether no window has counted yet: too little data to say anything.
    pub fn too_little_data(&self) -> bool {
        self.state.windows == 0
    }
}

impl Msprt {
    /// Arms smaller than this do not count (see the module's assumptions).
    pub const DEFAULT_MIN_SAMPLES: u64 = 100;

    /// An mSPRT at level `alpha` with mixing variance `mixing_variance` (τ² > 0), counting
    /// windows from [`Msprt::DEFAULT_MIN_SAMPLES`] units an arm.
    pub fn new(alpha: f64, mixing_variance: f64) -> Result<Msprt, StatsError> {
        check_alpha(alpha)?;
        check_positive("mixing_variance", mixing_variance)?;
        Ok(Msprt { alpha, mixing_variance, min_samples: Msprt::DEFAULT_MIN_SAMPLES })
    }

    /// The mSPRT whose confidence sequence is narrowest when the difference's variance is
    /// `variance_at_horizon` (`σ_c²/N_c + σ_v²/N_v` at the planned arm sizes N, with σ²
    /// from a pre-period or an earlier experiment, never from the data being tested):
    /// τ² = [`Msprt::mixing_ratio`]`(alpha) · variance_at_horizon`.
    pub fn for_horizon(alpha: f64, variance_at_horizon: f64) -> Result<Msprt, StatsError> {
        check_alpha(alpha)?;
        check_positive("variance_at_horizon", variance_at_horizon)?;
        Msprt::new(alpha, Msprt::mixing_ratio(alpha) * variance_at_horizon)
    }

    /// The `r = τ²/V` at which the confidence sequence is narrowest at variance V: the root
    /// of `r = 2 ln(1/α) + ln(1 + r)`, by Newton's method from Howard et al.'s
    /// approximation (8.21 at α = 0.05, 11.76 at 0.01).
    pub fn mixing_ratio(alpha: f64) -> f64 {
        let two_l = -2.0 * alpha.ln();
        let mut r = two_l + two_l.ln_1p();
        for _ in 0..50 {
            let step = (r - two_l - r.ln_1p()) / (r / (1.0 + r));
            r -= step;
            if step.abs() <= 1e-16 * r {
                break;
            }
        }
        r
    }

    /// The state before the first window.
    pub fn start(&self) -> SequentialState {
        SequentialState {
            alpha: self.alpha,
            mixing_variance: self.mixing_variance,
            windows: 0,
            p_value: 1.0,
            lower: f64::NEG_INFINITY,
            upper: f64::INFINITY,
        }
    }

    /// ln Λ for a difference `estimate` with variance `variance` (> 0), against 0.
    pub fn log_likelihood_ratio(&self, estimate: f64, variance: f64) -> f64 {
        let tau2 = self.mixing_variance;
        -0.5 * (tau2 / variance).ln_1p() + tau2 * estimate * estimate / (2.0 * variance * (variance + tau2))
    }

    /// The half-width of one window's confidence interval at variance `variance`: the θ₀
    /// at which Λ(d − θ₀) reaches 1/α.
    pub fn half_width(&self, variance: f64) -> f64 {
        let tau2 = self.mixing_variance;
        (variance * (variance + tau2) / tau2 * (-2.0 * self.alpha.ln() + (tau2 / variance).ln_1p())).sqrt()
    }

    /// The next window: `comparison` is the cumulative data's ([`crate::compare_means`],
    /// [`crate::compare_proportions`], or CUPED-adjusted means), `state` the previous
    /// window's. Returns the always-valid p-value and confidence sequence, the new state,
    /// and the fixed-horizon comparison beside them.
    ///
    /// Where the new window's interval misses the running intersection altogether (an
    /// event of probability at most α under the test's assumptions), the sequence becomes
    /// the single point of the earlier one nearest the new interval.
    pub fn update(&self, state: &SequentialState, comparison: &Comparison) -> Result<SequentialResult, StatsError> {
        for (name, started, now) in
            [("alpha", state.alpha, self.alpha), ("mixing_variance", state.mixing_variance, self.mixing_variance)]
        {
            if started != now {
                return Err(StatsError::SequenceChanged { name, started, now });
            }
        }
        check_alpha(self.alpha)?;
        check_positive("mixing_variance", self.mixing_variance)?;
        let estimate = comparison.difference.estimate;
        let variance = comparison.standard_error * comparison.standard_error;
        let counted = comparison.control.n >= self.min_samples
            && comparison.variant.n >= self.min_samples
            && variance > 0.0
            && variance.is_finite()
            && estimate.is_finite();
        let mut next = *state;
        let mut log_likelihood_ratio = None;
        if counted {
            let llr = self.log_likelihood_ratio(estimate, variance);
            let half_width = self.half_width(variance);
            let (low, high) = (estimate - half_width, estimate + half_width);
            next.windows += 1;
            next.p_value = state.p_value.min((-llr).exp().min(1.0));
            next.lower = state.lower.max(low);
            next.upper = state.upper.min(high);
            if next.lower > next.upper {
                let nearest = if low > state.upper { state.upper } else { state.lower };
                next.lower = nearest;
                next.upper = nearest;
            }
            log_likelihood_ratio = Some(llr);
        }
        Ok(SequentialResult {
            fixed: *comparison,
            counted,
            log_likelihood_ratio,
            p_value: next.p_value,
            confidence_sequence: Interval {
                estimate,
                lower: next.lower,
                upper: next.upper,
                confidence: 1.0 - self.alpha,
            },
            state: next,
            min_samples: self.min_samples,
        })
    }
}

fn check_alpha(alpha: f64) -> Result<(), StatsError> {
    check_confidence(1.0 - alpha).map_err(|_| StatsError::InvalidParameter {
        name: "alpha",
        value: alpha,
        expected: "strictly between 0 and 1 (0.05 for 5%)",
    })
}

fn check_positive(name: &'static str, value: f64) -> Result<(), StatsError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter { name, value, expected: "finite and above 0" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clopper_pearson_interval;
    use crate::compare::{Proportion, Summary, compare_means, compare_proportions};
    use crate::rng::Rng;

    /// What a simulation of many experiments, each analysed at every window, found.
    struct Peeking {
        experiments: usize,
        /// The mSPRT's p-value reached α at some window.
        sequential: usize,
        /// The fixed-horizon p-value was under α at some window (peeking).
        naive: usize,
        /// The fixed-horizon p-value was under α at the last window only (one look).
        last_look: usize,
        /// The mSPRT's confidence sequence held the true difference at every window.
        covered: usize,
    }

    impl Peeking {
        fn rate(&self, count: usize) -> f64 {
            count as f64 / self.experiments as f64
        }
    }

    /// How many experiments, of how many windows, from which seed.
    struct Design {
        experiments: usize,
        windows: usize,
        seed: u64,
    }

    /// The design's experiments, each window adding units to each arm's cumulative data
    /// (`add_window`, arm 0 the control, from `empty`), each analysed at every window by
    /// `compare` on the cumulative data, with `test`; `truth` is the true difference.
    fn simulate<S: Copy>(
        design: Design,
        test: &Msprt,
        truth: f64,
        empty: S,
        mut add_window: impl FnMut(&mut Rng, &mut [S; 2]),
        compare: impl Fn(&[S; 2]) -> Comparison,
    ) -> Peeking {
        let Design { experiments, windows, seed } = design;
        let mut rng = Rng::new(seed);
        let mut found = Peeking { experiments, sequential: 0, naive: 0, last_look: 0, covered: 0 };
        for _ in 0..experiments {
            let mut arms = [empty; 2];
            let mut state: SequentialState = test.start();
            let (mut sequential, mut naive, mut covered) = (false, false, true);
            for window in 0..windows {
                add_window(&mut rng, &mut arms);
                let comparison = compare(&arms);
                let result = test.update(&state, &comparison).unwrap();
                state = result.state;
                sequential |= result.significant();
                naive |= comparison.p_value < test.alpha;
                covered &= result.confidence_sequence.lower <= truth && truth <= result.confidence_sequence.upper;
                if window == windows - 1 && comparison.p_value < test.alpha {
                    found.last_look += 1;
                }
            }
            found.sequential += usize::from(sequential);
            found.naive += usize::from(naive);
            found.covered += usize::from(covered);
        }
        found
    }

    fn normal_window(per_window: usize, effect: f64) -> impl FnMut(&mut Rng, &mut [Summary; 2]) {
        let mut values = vec![0.0; per_window];
        move |rng, arms| {
            for (arm, shift) in arms.iter_mut().zip([0.0, effect]) {
                for v in values.iter_mut() {
                    *v = rng.normal() + shift;
                }
                *arm = arm.merge(&Summary::from_values(&values).unwrap());
            }
        }
    }

    const EMPTY: Summary = Summary { n: 0, mean: 0.0, variance: 0.0 };

    /// 1,000 A/A experiments of means (σ = 1), 100 units an arm a window, looked at in
    /// each of 20 windows, τ² chosen for the 2,000 an arm at the end. The fixed-horizon test
    /// at its one planned look rejects about α; peeked at every window it rejects several
    /// times α; the mSPRT, looked at every window, stays at or under α.
    #[test]
    fn peeking_at_an_a_a_test_keeps_the_msprt_under_alpha() {
        let (experiments, windows, per_window) = (1000, 20, 100);
        let horizon = (windows * per_window) as f64;
        let test = Msprt::for_horizon(0.05, 2.0 / horizon).unwrap();
        let found = simulate(
            Design { experiments, windows, seed: 11 },
            &test,
            0.0,
            EMPTY,
            normal_window(per_window, 0.0),
            |a| compare_means(&a[0], &a[1], 0.95).unwrap(),
        );
        let (sequential, naive, last) =
            (found.rate(found.sequential), found.rate(found.naive), found.rate(found.last_look));
        eprintln!(
            "A/A means, {experiments} experiments x {windows} looks: mSPRT {sequential:.3}, \
             fixed-horizon peeked {naive:.3}, fixed-horizon at the last look only {last:.3}, \
             sequence covered 0 throughout {:.3}",
            found.rate(found.covered)
        );
        assert!(sequential <= test.alpha, "mSPRT false positives {sequential}");
        assert_eq!(found.covered, experiments - found.sequential);
        // peeking: far above α, beyond doubt (a 99.9% interval of the rate lies above 2α)
        let naive_bounds = clopper_pearson_interval(found.naive as u64, experiments as u64, 0.999).unwrap();
        assert!(naive_bounds.lower > 2.0 * test.alpha, "peeked fixed-horizon false positives {naive_bounds:?}");
        // one look is calibrated: its 99.9% interval holds α
        let last_bounds = clopper_pearson_interval(found.last_look as u64, experiments as u64, 0.999).unwrap();
        assert!(last_bounds.contains(test.alpha), "{last_bounds:?}");
    }

    /// The same for rates: a 10% conversion rate in both arms, 200 units an arm a window.
    #[test]
    fn peeking_at_an_a_a_test_of_rates_keeps_the_msprt_under_alpha() {
        let (experiments, windows, per_window, rate) = (1000, 20, 200, 0.1);
        let horizon = (windows * per_window) as f64;
        let test = Msprt::for_horizon(0.05, 2.0 * rate * (1.0 - rate) / horizon).unwrap();
        let threshold = (rate * 2f64.powi(64)) as u64;
        let add = |rng: &mut Rng, arms: &mut [Proportion; 2]| {
            for arm in arms.iter_mut() {
                arm.trials += per_window as u64;
                arm.successes += (0..per_window).filter(|_| rng.next_u64() < threshold).count() as u64;
            }
        };
        let found = simulate(Design { experiments, windows, seed: 12 }, &test, 0.0, Proportion::new(0, 0), add, |a| {
            compare_proportions(a[0], a[1], 0.95).unwrap()
        });
        let (sequential, naive) = (found.rate(found.sequential), found.rate(found.naive));
        eprintln!(
            "A/A rates, {experiments} experiments x {windows} looks: mSPRT {sequential:.3}, \
             fixed-horizon peeked {naive:.3}, at the last look only {:.3}",
            found.rate(found.last_look)
        );
        assert!(sequential <= test.alpha, "mSPRT false positives {sequential}");
        let naive_bounds = clopper_pearson_interval(found.naive as u64, experiments as u64, 0.999).unwrap();
        assert!(naive_bounds.lower > 2.0 * test.alpha, "{naive_bounds:?}");
    }

    /// A true effect of 0.15σ, with the design above: the mSPRT finds it in most
    /// experiments by the last window, and its sequence keeps covering the effect.
    #[test]
    fn a_true_effect_is_detected() {
        let (experiments, windows, per_window, effect) = (200, 20, 100, 0.15);
        let test = Msprt::for_horizon(0.05, 2.0 / (windows * per_window) as f64).unwrap();
        let found = simulate(
            Design { experiments, windows, seed: 13 },
            &test,
            effect,
            EMPTY,
            normal_window(per_window, effect),
            |a| compare_means(&a[0], &a[1], 0.95).unwrap(),
        );
        let (power, coverage) = (found.rate(found.sequential), found.rate(found.covered));
        eprintln!("effect 0.15σ: mSPRT detected {power:.3}, sequence covered the effect throughout {coverage:.3}");
        assert!(power >= 0.8, "power {power}");
        assert!(coverage >= 0.95, "coverage {coverage}");
    }

    #[test]
    fn too_little_data_counts_for_nothing() {
        let test = Msprt::new(0.05, 0.01).unwrap();
        let small = Summary { n: 99, mean: 0.0, variance: 1.0 };
        let far = Summary { n: 99, mean: 5.0, variance: 1.0 };
        let result = test.update(&test.start(), &compare_means(&small, &far, 0.95).unwrap()).unwrap();
        assert!(!result.counted && result.too_little_data() && !result.significant());
        assert_eq!((result.p_value, result.confidence_sequence.lower), (1.0, f64::NEG_INFINITY));
        // the fixed-horizon result is there all the same
        assert!(result.fixed.p_value < 1e-10);
        // no variance yet: no successes in either arm
        let none = compare_proportions(Proportion::new(0, 500), Proportion::new(0, 500), 0.95).unwrap();
        assert!(!test.update(&test.start(), &none).unwrap().counted);
    }

    #[test]
    fn a_sequence_is_bound_to_its_design() {
        let test = Msprt::new(0.05, 0.01).unwrap();
        let other = Msprt::new(0.05, 0.02).unwrap();
        let c = compare_means(
            &Summary { n: 200, mean: 0.0, variance: 1.0 },
            &Summary { n: 200, mean: 0.1, variance: 1.0 },
            0.95,
        )
        .unwrap();
        let state = test.update(&test.start(), &c).unwrap().state;
        assert_eq!(
            other.update(&state, &c),
            Err(StatsError::SequenceChanged { name: "mixing_variance", started: 0.01, now: 0.02 })
        );
        assert!(matches!(Msprt::new(1.0, 0.01), Err(StatsError::InvalidParameter { name: "alpha", .. })));
        assert!(matches!(Msprt::new(0.05, 0.0), Err(StatsError::InvalidParameter { name: "mixing_variance", .. })));
        assert!(matches!(Msprt::for_horizon(0.05, -1.0), Err(StatsError::InvalidParameter { .. })));
    }

    #[test]
    fn the_p_value_and_the_sequence_agree() {
        // at a window where 0 is just inside or just outside the interval, p is just above
        // or just below α
        let test = Msprt::new(0.05, 0.008).unwrap();
        let v: f64 = 0.001;
        let h = test.half_width(v);
        for (d, significant) in [(h * 0.999, false), (h * 1.001, true)] {
            let llr = test.log_likelihood_ratio(d, v);
            assert_eq!((-llr).exp() <= 0.05, significant, "{d} {llr}");
        }
        let r = Msprt::mixing_ratio(0.05);
        assert!((r - (-2.0 * 0.05f64.ln() + r.ln_1p())).abs() < 1e-14, "{r}");
    }
}
